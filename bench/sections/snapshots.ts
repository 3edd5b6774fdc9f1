import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createRunning, createTrackedBot } from '../lib/berth-bots.js';
import { loggedPause, longestGap, startTicker, uptime } from '../lib/container-ticker.js';
import { LIBPOD } from '../lib/engine.js';
import { median, round } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { check, type BenchContext, type Check, type Section, type SectionResult } from './section.js';

const run = promisify(execFile);

const FILES = 1000;
const FILE_BYTES = 100 * 1024;
/** Files rewritten before each incremental snapshot: 10 × 100 KiB = 1 MiB of changed data. */
const CHANGED_FILES = 10;
const CHANGED_BYTES = CHANGED_FILES * FILE_BYTES;
const GROWTH_TARGET = 1.2;
const PAUSE_TARGET_MS = 2000;
const MAX_ROUNDS = 3;

interface Round {
  ms: number;
  /** Longest gap between the ticks of a loop inside the container while the snapshot ran. */
  pauseMs: number;
  /** What Berth itself logged as the pause. */
  reportedPauseMs: number | null;
  dataGrowthBytes: number;
  rootfsLayerBytes: number;
  sizeBytes: number;
}

/**
 * Snapshots of a running bot with a 100 MB / 1,000-file data dir: the first snapshot, incremental
 * ones after a 1 MiB change (time, disk growth against the changed bytes plus the root filesystem
 * layer, and how long the container was frozen, measured from inside it), and restore; beside them
 * the raw engine's commit of the same container and `cp -a` / `cp -al` of the same data.
 */
export const snapshots: Section = {
  name: 'snapshots',
  summary: `snapshot of a running bot with ${FILES} files / ${(FILES * FILE_BYTES) / 1024 / 1024} MiB of data, incremental snapshots after a 1 MiB change, restore; vs raw commit and cp`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rounds = Math.max(1, Math.min(ctx.rounds, MAX_ROUNDS));
    const { bot, remove: removeBot } = await createTrackedBot(ctx, `bench-${ctx.runId}-snap`);
    const rawImages: string[] = [];
    ctx.cleanup.add('raw commit images', async () => {
      for (const ref of rawImages) await ctx.engine.call('DELETE', `${LIBPOD}/images/${encodeURIComponent(ref)}`, undefined, [404, 409]);
    });
    try {
      let container = await createRunning(ctx.berth, bot.id);
      const dataDir = container.paths.host;
      const storeDir = path.join(path.dirname(dataDir), 'snapshots');
      await fillData(dataDir);
      await startTicker(container.id);
      ctx.log(`snapshots: bot ${bot.name}, ${FILES} files in ${dataDir}`);

      // First snapshot: everything is copied.
      const first = await snapshotRound(ctx, bot.id, container.id, storeDir, 'first');
      ctx.log(`snapshots: first ${round(first.ms)} ms, paused ${round(first.pauseMs)} ms, stored ${mib(first.dataGrowthBytes)} MiB`);

      // Incremental: 1 MiB changed before each.
      const incremental: Round[] = [];
      for (let r = 0; r < rounds; r++) {
        ctx.signal.throwIfAborted();
        await changeData(dataDir, r);
        const res = await snapshotRound(ctx, bot.id, container.id, storeDir, `incr-${r + 1}`);
        incremental.push(res);
        ctx.log(`snapshots: incremental ${r + 1}/${rounds}: ${round(res.ms)} ms, paused ${round(res.pauseMs)} ms, data +${res.dataGrowthBytes} B, rootfs layer ${res.rootfsLayerBytes} B`);
      }

      // The raw engine's commit of the same running container (the engine pauses it during the commit).
      const rawCommit: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const ref = `localhost/berth-bench-${ctx.runId}/raw:${r}`;
        rawImages.push(ref);
        const t0 = performance.now();
        await ctx.engine.call('POST', `${LIBPOD}/commit?container=${container.id}&repo=${encodeURIComponent(ref.split(':')[0] ?? '')}&tag=${r}&pause=true`);
        rawCommit.push(performance.now() - t0);
      }
      for (const ref of rawImages.splice(0)) await ctx.engine.call('DELETE', `${LIBPOD}/images/${encodeURIComponent(ref)}`, undefined, [404, 409]);

      // cp -a and cp -al of the same data dir.
      const cpA: number[] = [];
      const cpAl: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const [flags, into] of [['-a', cpA], ['-al', cpAl]] as const) {
          const dest = path.join(ctx.tmpDir, `cp${flags}-${r}`);
          const t0 = performance.now();
          await run('cp', [flags, dataDir, dest]);
          into.push(performance.now() - t0);
          await fs.rm(dest, { recursive: true, force: true });
        }
      }

      // Restore: the first snapshot (100 MiB of data back in place), without and with the automatic snapshot.
      const restorePlain: number[] = [];
      const restoreKeeping: number[] = [];
      for (let r = 0; r < rounds; r++) {
        ctx.signal.throwIfAborted();
        for (const [keepCurrent, into] of [[false, restorePlain], [true, restoreKeeping]] as const) {
          const target = keepCurrent ? 'first' : `incr-${rounds}`;
          const t0 = performance.now();
          container = await ctx.berth.restoreSnapshot(bot.id, target, { keepCurrent });
          into.push(performance.now() - t0);
          if (container.status !== 'running') throw new Error(`restore of ${target} left the container ${container.status}`);
        }
      }

      const incrMs = median(incremental.map((r) => r.ms));
      const maxPause = Math.max(first.pauseMs, ...incremental.map((r) => r.pauseMs));
      const growthRatios = incremental.map((r) => (r.dataGrowthBytes + r.rootfsLayerBytes) / (CHANGED_BYTES + r.rootfsLayerBytes));
      const worstGrowth = Math.max(...growthRatios);
      const rows: (string | number)[][] = [
        ['first snapshot (100 MiB copied)', round(first.ms), round(first.pauseMs), mib(first.dataGrowthBytes)],
        ['incremental snapshot (1 MiB changed), median', round(incrMs), round(median(incremental.map((r) => r.pauseMs))), mib(median(incremental.map((r) => r.dataGrowthBytes)))],
        ['raw engine commit (pause=true), median', round(median(rawCommit)), round(median(rawCommit)), '-'],
        ['cp -a of the data dir, median', round(median(cpA)), '-', mib(FILES * FILE_BYTES)],
        ['cp -al of the data dir, median', round(median(cpAl)), '-', '~0'],
        ['restore (keepCurrent: false), median', round(median(restorePlain)), '-', '-'],
        ['restore, automatic snapshot first, median', round(median(restoreKeeping)), '-', '-'],
      ];
      console.log(`\nSnapshots: ${FILES} files, ${mib(FILES * FILE_BYTES)} MiB data, ${rounds} round(s), image ${ctx.image}\n`);
      console.log(formatTable(['what', 'ms', 'container paused ms', 'stored MiB'], rows));
      console.log(
        `\nIncremental growth: ${incremental.map((r) => `data +${r.dataGrowthBytes} B, rootfs layer ${r.rootfsLayerBytes} B`).join('; ')}; ` +
          `changed ${CHANGED_BYTES} B each → growth/(changed + layer) ${growthRatios.map((g) => g.toFixed(3)).join(', ')}`,
      );
      console.log(`Pause as Berth logged it: ${[first, ...incremental].map((r) => (r.reportedPauseMs === null ? '?' : `${r.reportedPauseMs} ms`)).join(', ')}`);

      const checks: Check[] = [
        check('snapshots', 'incremental disk growth / (changed + rootfs layer)', round(worstGrowth, 3), GROWTH_TARGET, 'x'),
        check('snapshots', 'longest container pause', round(maxPause), PAUSE_TARGET_MS, 'ms'),
      ];
      return {
        data: {
          files: FILES,
          fileBytes: FILE_BYTES,
          changedBytes: CHANGED_BYTES,
          rounds,
          first,
          incremental,
          growthRatios: growthRatios.map((g) => round(g, 3)),
          rawCommitMs: rawCommit.map((x) => round(x)),
          cpAMs: cpA.map((x) => round(x)),
          cpAlMs: cpAl.map((x) => round(x)),
          restoreMs: restorePlain.map((x) => round(x)),
          restoreWithAutoSnapshotMs: restoreKeeping.map((x) => round(x)),
          medians: {
            incrementalSnapshotMs: round(incrMs),
            rawCommitMs: round(median(rawCommit)),
            cpAMs: round(median(cpA)),
            cpAlMs: round(median(cpAl)),
            restoreMs: round(median(restorePlain)),
            restoreWithAutoSnapshotMs: round(median(restoreKeeping)),
          },
        },
        checks,
      };
    } finally {
      await removeBot();
    }
  },
};

/** 1,000 files of 100 KiB of random bytes in 10 directories, written on the host into the bind-mounted data dir. */
async function fillData(dataDir: string): Promise<void> {
  for (let d = 0; d < 10; d++) {
    const dir = path.join(dataDir, `d${d}`);
    await fs.mkdir(dir, { recursive: true });
    for (let f = 0; f < FILES / 10; f++) await fs.writeFile(path.join(dir, `f${f}.bin`), randomBytes(FILE_BYTES));
  }
  // Let the writes settle past the racy window, as any data written a moment before would.
  await new Promise((r) => setTimeout(r, 200));
}

/** Rewrites CHANGED_FILES files (a different set each round). */
async function changeData(dataDir: string, round: number): Promise<void> {
  for (let i = 0; i < CHANGED_FILES; i++) await fs.writeFile(path.join(dataDir, `d${(round + i) % 10}`, `f${round * CHANGED_FILES + i}.bin`), randomBytes(FILE_BYTES));
  await new Promise((r) => setTimeout(r, 200));
}

async function snapshotRound(ctx: BenchContext, botId: string, containerId: string, storeDir: string, name: string): Promise<Round> {
  const before = await du(storeDir);
  const from = await uptime();
  const t0 = performance.now();
  const snap = await ctx.berth.createSnapshot(botId, { name });
  const ms = performance.now() - t0;
  const to = await uptime();
  const growth = (await du(storeDir)) - before;
  const pauseMs = await longestGap(containerId, from, to);
  if (!snap.image) throw new Error(`snapshot ${name} of a container has no root filesystem image`);
  const history = await ctx.engine.call<{ Size?: number }[]>('GET', `${LIBPOD}/images/${encodeURIComponent(snap.image)}/history`);
  const layer = history.body?.[0]?.Size ?? 0;
  return { ms, pauseMs, reportedPauseMs: await loggedPause(ctx.berth, botId, 'snapshot'), dataGrowthBytes: growth, rootfsLayerBytes: layer, sizeBytes: snap.sizeBytes };
}

/** Disk bytes under a directory, each hard-linked inode counted once (`du`). */
async function du(dir: string): Promise<number> {
  try {
    const { stdout } = await run('du', ['-s', '--block-size=1', dir]);
    return Number(stdout.split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

function mib(bytes: number): number {
  return round(bytes / 1024 / 1024, 2);
}
