import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { DataImportMode } from '@berth/contract';
import { createRunning, createTrackedBot } from '../lib/berth-bots.js';
import { enginePauses, gapAcross, loggedPause, longestGap, startTicker, uptime } from '../lib/container-ticker.js';
import { LIBPOD } from '../lib/engine.js';
import { round } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { sleep } from '../lib/timing.js';
import { check, type BenchContext, type Check, type Section, type SectionResult } from './section.js';

const FILES = 20_000;
const DIRS = 40;
const PAUSE_TARGET_MS = 300;

interface Case {
  name: string;
  /** Baselines show what the container sees with no import at all: the tick loop's own jitter, and the engine's pause itself. */
  /** Leaves the data dir as the case needs it before the measured operation. */
  setUp: (ops: Ops) => Promise<void>;
  run: (ops: Ops) => Promise<void>;
  kind: 'import' | 'reset';
  /** Whether the pause target applies (the target: imports of 20,000 files, and reset). */
  target: boolean;
}

interface Ops {
  reset(): Promise<void>;
  importArchive(which: 'a' | 'b', mode: DataImportMode): Promise<void>;
  /** The engine's pause and unpause of the container, straight through its API, with nothing in between. */
  pauseAndUnpause(): Promise<void>;
}

/** Each case starts from a reset data dir, so earlier cases leave nothing behind. */
const CASES: Case[] = [
  { name: 'baseline: nothing, 3 s (the tick loop’s own jitter)', kind: 'import', target: false, setUp: async () => undefined, run: () => sleep(3000) },
  { name: 'baseline: engine pause + unpause, nothing done', kind: 'import', target: false, setUp: async () => undefined, run: (o) => o.pauseAndUnpause() },
  { name: 'merge into an empty data dir', kind: 'import', target: true, setUp: async () => undefined, run: (o) => o.importArchive('a', 'merge') },
  { name: 'merge over the same files (each one replaced)', kind: 'import', target: true, setUp: (o) => o.importArchive('a', 'merge'), run: (o) => o.importArchive('a', 'merge') },
  { name: 'merge of new files into existing directories', kind: 'import', target: true, setUp: (o) => o.importArchive('a', 'merge'), run: (o) => o.importArchive('b', 'merge') },
  { name: 'replace of 20,000 files by 20,000 others', kind: 'import', target: true, setUp: (o) => o.importArchive('a', 'merge'), run: (o) => o.importArchive('b', 'replace') },
  { name: 'reset of 20,000 files', kind: 'reset', target: true, setUp: (o) => o.importArchive('a', 'merge'), run: (o) => o.reset() },
];

/**
 * How long a running bot is frozen while a 20,000-file archive is imported into its data dir (merge
 * and replace) and while the dir is reset: the gap of a 10 ms tick loop inside the container across
 * each pause the engine logged, beside the pause Berth logs in the operation's events (from its pause
 * request to the unpause's answer), the longest gap over the whole operation, and two baselines.
 */
export const importPause: Section = {
  name: 'import-pause',
  summary: `longest container pause importing ${FILES.toLocaleString('en-US')} files (merge, replace) into a running bot, and resetting them`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const work = path.join(ctx.tmpDir, 'import-pause');
    const archives = { a: path.join(work, 'a.tar.gz'), b: path.join(work, 'b.tar.gz') };
    await makeArchive(path.join(work, 'a'), 'file', archives.a);
    await makeArchive(path.join(work, 'b'), 'other', archives.b);
    const { bot, remove: removeBot } = await createTrackedBot(ctx, `bench-${ctx.runId}-pause`);
    try {
      const container = await createRunning(ctx.berth, bot.id);
      await startTicker(container.id);
      const ops: Ops = {
        reset: () => ctx.berth.resetData(bot.id),
        importArchive: async (which, mode) => {
          const body = Readable.toWeb(createReadStream(archives[which], { highWaterMark: 1024 * 1024 })) as unknown as ReadableStream<Uint8Array>;
          const res = await ctx.berth.importData(bot.id, body, { mode });
          if (res.files !== FILES) throw new Error(`the import wrote ${res.files} files, not ${FILES}`);
        },
        pauseAndUnpause: async () => {
          await ctx.engine.call('POST', `${LIBPOD}/containers/${container.id}/pause`);
          await ctx.engine.call('POST', `${LIBPOD}/containers/${container.id}/unpause`);
        },
      };
      const rows: (string | number)[][] = [];
      const results: Record<string, unknown>[] = [];
      for (const c of CASES) {
        ctx.signal.throwIfAborted();
        await ops.reset();
        await c.setUp(ops);
        // Let the set-up's writes settle, so that the gap measured is the operation's own.
        await sh('sync', []);
        await sleep(300);
        const from = await uptime();
        const fromWall = Date.now();
        const t0 = performance.now();
        await c.run(ops);
        const ms = performance.now() - t0;
        const to = await uptime();
        const gapMs = await longestGap(container.id, from, to);
        const pauses = await enginePauses(container.id, fromWall, Date.now());
        const frozenMs = await gapAcross(container.id, pauses);
        const logged = c.target ? await loggedPause(ctx.berth, bot.id, c.kind) : null;
        ctx.log(`import-pause: ${c.name}: ${round(ms)} ms, ${pauses.length} pause(s), frozen ${round(frozenMs)} ms, Berth logged ${logged ?? '-'} ms, longest tick gap ${round(gapMs)} ms`);
        rows.push([c.name, round(ms), pauses.length, round(frozenMs), logged ?? '-', round(gapMs)]);
        results.push({ case: c.name, ms: round(ms), pauses: pauses.length, frozenMs: round(frozenMs), loggedPauseMs: logged, longestGapMs: round(gapMs), target: c.target });
      }
      await ops.reset();

      console.log(`\nContainer pause: ${FILES.toLocaleString('en-US')} files of 1–4 KiB in ${DIRS} directories, a running bot with a 10 ms tick loop\n`);
      console.log(formatTable(['operation', 'ms', 'pauses', 'frozen ms', 'Berth logged ms', 'longest tick gap ms'], rows));
      const longest = Math.max(...results.filter((r) => r.target).map((r) => r.frozenMs as number));
      console.log(
        `\nLongest pause of an import or reset: ${round(longest)} ms (target ≤ ${PAUSE_TARGET_MS} ms). Frozen: the tick loop's gap across the pause the engine logged ` +
          "(0: not paused). Berth logged: from its pause request to the unpause's answer, engine calls included. " +
          'Longest tick gap: over the whole operation, whatever kept the loop from running (a pause, a loaded machine; see the baselines).',
      );
      const checks: Check[] = [check('import-pause', `longest container pause, ${FILES.toLocaleString('en-US')}-file import or reset`, round(longest), PAUSE_TARGET_MS, 'ms')];
      return { data: { files: FILES, dirs: DIRS, cases: results, longestPauseMs: round(longest), targetMs: PAUSE_TARGET_MS }, checks };
    } finally {
      await removeBot();
      await fs.rm(work, { recursive: true, force: true });
    }
  },
};

/** FILES small files of random bytes, `<prefix>-<i>` spread over DIRS directories under src/, as a tar.gz. */
async function makeArchive(dir: string, prefix: string, archive: string): Promise<void> {
  for (let d = 0; d < DIRS; d++) await fs.mkdir(path.join(dir, 'src', `pkg-${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) await fs.writeFile(path.join(dir, 'src', `pkg-${i % DIRS}`, `${prefix}-${i}.bin`), randomBytes(randomInt(1024, 4096)));
  await sh('tar', ['-czf', archive, '-C', dir, '.']);
  await fs.rm(dir, { recursive: true, force: true });
}

function sh(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${String(code)}`))));
  });
}
