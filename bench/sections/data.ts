import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { BerthClient } from '@berth/sdk';
import { createTrackedBot } from '../lib/berth-bots.js';
import { kbToMb, readProcMemory } from '../lib/proc.js';
import { median, round } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { sleep } from '../lib/timing.js';
import { check, type BenchContext, type Section, type SectionResult } from './section.js';

/** Berth's throughput as a share of tar's: export ≥ 0.8×, import ≥ 0.7× (as time ratios, ≤ 1/0.8 and ≤ 1/0.7). */
const EXPORT_MIN_SHARE = 0.8;
const IMPORT_MIN_SHARE = 0.7;
const RSS_TARGET_MB = 200;
const DATA_MB = 200;
const BIG_IMPORT_MB = 1024;
/** Each round exports and imports 200 MB on both sides: a few rounds keep the section near a minute. */
const ROUNDS = 3;
const MB = 1024 * 1024;

type Side = 'berth' | 'tar';

/**
 * Data dir export and import through Berth's API against GNU tar on the same data in the same run,
 * and the server's peak RSS while it imports a 1 GB archive.
 */
export const data: Section = {
  name: 'data',
  summary: `data dir export/import throughput vs tar (${DATA_MB} MB mixed files), server peak RSS importing ${BIG_IMPORT_MB} MB`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const work = path.join(ctx.tmpDir, 'data');
    const src = path.join(work, 'src');
    const generated = await generateMixedTree(src, DATA_MB * MB);
    const archive = path.join(work, 'src.tar.gz');
    await sh('tar', ['-czf', archive, '-C', src, '.']);
    const archiveBytes = (await fs.stat(archive)).size;
    ctx.log(`data: ${generated.files} files, ${(generated.bytes / MB).toFixed(0)} MB (${(archiveBytes / MB).toFixed(0)} MB as tar.gz)`);

    const { bot, remove: removeBot } = await createTrackedBot(ctx, `bench-${ctx.runId}-data`);
    try {
      // Fill the bot with the same data tar reads; also a warm-up of the import path.
      await importFile(ctx.berth, bot.id, archive);

      const ms: Record<'export' | 'import', Record<Side, number[]>> = { export: { berth: [], tar: [] }, import: { berth: [], tar: [] } };
      const tarDest = path.join(work, 'tar-dest');
      for (let r = 0; r < ROUNDS; r++) {
        const order: Side[] = r % 2 === 0 ? ['berth', 'tar'] : ['tar', 'berth'];
        for (const side of order) {
          ctx.signal.throwIfAborted();
          await sh('sync', []);
          ms.export[side].push(side === 'berth' ? await timeBerthExport(ctx.berth, bot.id) : await timeTarExport(src));
        }
        for (const side of order) {
          ctx.signal.throwIfAborted();
          // Both start from an empty directory, with earlier writes flushed.
          if (side === 'berth') await ctx.berth.resetData(bot.id);
          else {
            await fs.rm(tarDest, { recursive: true, force: true });
            await fs.mkdir(tarDest);
          }
          await sh('sync', []);
          const t0 = performance.now();
          if (side === 'berth') await importFile(ctx.berth, bot.id, archive);
          else await sh('tar', ['-xzf', archive, '-C', tarDest]);
          ms.import[side].push(performance.now() - t0);
        }
      }
      await fs.rm(tarDest, { recursive: true, force: true });

      const rows: (string | number)[][] = [];
      const figures: Record<string, unknown> = {};
      const checks = [];
      for (const op of ['export', 'import'] as const) {
        const berthMs = median(ms[op].berth);
        const tarMs = median(ms[op].tar);
        const share = tarMs / berthMs;
        const minShare = op === 'export' ? EXPORT_MIN_SHARE : IMPORT_MIN_SHARE;
        const mbps = (t: number) => generated.bytes / MB / (t / 1000);
        figures[op] = {
          berthMs: ms[op].berth.map((x) => round(x)),
          tarMs: ms[op].tar.map((x) => round(x)),
          berthMBps: round(mbps(berthMs), 1),
          tarMBps: round(mbps(tarMs), 1),
          berthShareOfTar: round(share, 3),
          targetShare: minShare,
          pass: share >= minShare,
        };
        rows.push([op, round(mbps(berthMs), 1), round(mbps(tarMs), 1), share.toFixed(3), `≥ ${minShare}`, share >= minShare ? 'PASS' : 'FAIL']);
        checks.push(check('data', `${op}: Berth time / tar time (≥ ${minShare}× tar's throughput)`, round(berthMs / tarMs, 3), round(1 / minShare, 3), 'x'));
      }

      const rss = await peakRssDuringBigImport(ctx, bot.id, work);
      checks.push(check('data', `peak server RSS importing ${BIG_IMPORT_MB} MB`, round(rss.peakMb, 1), RSS_TARGET_MB, 'MB'));

      console.log(`\nData dir: ${generated.files} files, ${(generated.bytes / MB).toFixed(0)} MB of content; ${ROUNDS} rounds, median throughput in MB/s of content\n`);
      console.log(formatTable(['op', 'Berth MB/s', 'tar MB/s', 'Berth/tar', 'target', 'result'], rows));
      console.log(
        `\nServer RSS importing a ${(rss.archiveBytes / MB).toFixed(0)} MB tar.gz (${BIG_IMPORT_MB} MB of files) in ${(rss.ms / 1000).toFixed(1)} s: ` +
          `peak ${rss.peakMb.toFixed(1)} MB (VmHWM, reset before), before ${rss.beforeMb.toFixed(1)} MB; target ≤ ${RSS_TARGET_MB} MB`,
      );
      return {
        data: {
          files: generated.files,
          contentBytes: generated.bytes,
          archiveBytes,
          rounds: ROUNDS,
          ...figures,
          bigImport: { contentMb: BIG_IMPORT_MB, archiveBytes: rss.archiveBytes, ms: round(rss.ms), rssBeforeMb: round(rss.beforeMb, 1), peakRssMb: round(rss.peakMb, 1), targetMb: RSS_TARGET_MB, hwmReset: rss.hwmReset },
        },
        checks,
      };
    } finally {
      await removeBot();
      await fs.rm(work, { recursive: true, force: true });
    }
  },
};

async function importFile(berth: BerthClient, bot: string, file: string): Promise<void> {
  const body = Readable.toWeb(createReadStream(file, { highWaterMark: 1024 * 1024 })) as unknown as ReadableStream<Uint8Array>;
  await berth.importData(bot, body, { mode: 'merge' });
}

async function timeBerthExport(berth: BerthClient, bot: string): Promise<number> {
  const t0 = performance.now();
  const res = await berth.exportData(bot);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  if (bytes === 0) throw new Error('Berth exported an empty body');
  return performance.now() - t0;
}

/** `tar -czf -` read by this process, as Berth's export is. */
async function timeTarExport(src: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn('tar', ['-czf', '-', '-C', src, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let bytes = 0;
  for await (const chunk of child.stdout) bytes += (chunk as Buffer).length;
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  if (code !== 0 || bytes === 0) throw new Error(`tar -czf exited with ${String(code)}`);
  return performance.now() - t0;
}

/**
 * Streams a 1 GB tar.gz made on the fly (16 names for one 64 MB file, stored in full with
 * --hard-dereference) into the bot while polling the server's RSS; the peak is VmHWM, reset first.
 */
async function peakRssDuringBigImport(ctx: BenchContext, bot: string, work: string): Promise<{ peakMb: number; beforeMb: number; ms: number; archiveBytes: number; hwmReset: boolean }> {
  const dir = path.join(work, 'big');
  await fs.mkdir(dir, { recursive: true });
  // Log-like lines: compressible, so the client's gzip is not what sets the pace.
  await fs.writeFile(path.join(dir, 'part-00'), logLines(64 * MB));
  for (let i = 1; i < BIG_IMPORT_MB / 64; i++) await fs.link(path.join(dir, 'part-00'), path.join(dir, `part-${String(i).padStart(2, '0')}`));
  await ctx.berth.resetData(bot);
  await sh('sync', []);

  const pid = ctx.server.pid;
  let hwmReset = true;
  try {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0, own process or root).
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  const before = readProcMemory(pid);
  let polled = before.rssKb;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      polled = Math.max(polled, readProcMemory(pid).rssKb);
      await sleep(50);
    }
  })();

  const child = spawn('tar', ['-c', '--hard-dereference', '-I', 'gzip -1', '-f', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let archiveBytes = 0;
  child.stdout.on('data', (c: Buffer) => (archiveBytes += c.length));
  const t0 = performance.now();
  try {
    const result = await ctx.berth.importData(bot, Readable.toWeb(child.stdout) as unknown as ReadableStream<Uint8Array>, { mode: 'merge' });
    if (result.bytes !== BIG_IMPORT_MB * MB) throw new Error(`the big import wrote ${result.bytes} bytes, not ${BIG_IMPORT_MB * MB}`);
  } finally {
    polling = false;
    await poller;
    child.kill();
  }
  const ms = performance.now() - t0;
  const after = readProcMemory(pid);
  const peakKb = hwmReset ? Math.max(after.hwmKb, polled) : polled;
  await ctx.berth.resetData(bot);
  return { peakMb: kbToMb(peakKb), beforeMb: kbToMb(before.rssKb), ms, archiveBytes, hwmReset };
}

/**
 * A tree like a bot's data dir: many small files (code, notes, JSON), some medium ones (binaries,
 * images) and a few large ones (a model, a database, a log), half incompressible, half text.
 */
async function generateMixedTree(root: string, totalBytes: number): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const write = async (rel: string, size: number, kind: 'binary' | 'text' | 'log') => {
    const file = path.join(root, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, kind === 'binary' ? randomBytes(size) : kind === 'text' ? textBytes(size) : logLines(size));
    files++;
    bytes += size;
  };
  const small = totalBytes / 4;
  for (let i = 0; bytes < small; i++) await write(`src/pkg-${i % 40}/file-${i}.${i % 2 ? 'bin' : 'txt'}`, randomInt(1024, 48 * 1024), i % 2 ? 'binary' : 'text');
  const medium = small + (totalBytes * 3) / 8;
  for (let i = 0; bytes < medium; i++) await write(`assets/asset-${i}.${i % 2 ? 'png' : 'json'}`, randomInt(1 * MB, 4 * MB), i % 2 ? 'binary' : 'text');
  const rest = totalBytes - bytes;
  await write('models/model.bin', Math.floor(rest / 3), 'binary');
  await write('db/state.sqlite', Math.floor(rest / 3), 'text');
  await write('logs/agent.log', rest - 2 * Math.floor(rest / 3), 'log');
  return { files, bytes };
}

/** Printable, partly redundant bytes (base64 of random data compresses to about 75%). */
function textBytes(size: number): Buffer {
  return Buffer.from(randomBytes(Math.ceil((size * 3) / 4)).toString('base64').slice(0, size));
}

function logLines(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const levels = ['INFO', 'DEBUG', 'WARN', 'INFO', 'INFO'];
  for (let i = 0; at < size; i++) {
    const line = `2026-11-29T01:${String(i % 60).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z ${levels[i % levels.length]} worker-${i % 16} job ${100000 + ((i * 7919) % 900000)} done in ${(i * 31) % 997} ms\n`;
    at += out.write(line, at);
  }
  return out;
}

function sh(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${String(code)}`))));
  });
}
