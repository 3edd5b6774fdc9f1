import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listTree } from '../testing/tree.js';
import { mergeContents } from '../core/apply-staging.js';
import { exportArchive } from './export-archive.js';

/**
 * A bot controls its data dir while Berth reads or changes it, and may swap a directory for a symlink
 * to a host directory (it learns host paths from the API) between Berth's look and Berth's use. These
 * tests run such a swapper as another process while the operation runs many times, and check that
 * nothing outside the data dir is ever read or written.
 */
const CANARY = 'CANARY-host-file-must-never-leave-the-host';
const FILES = 40;

let tmp: string;
let swapper: ChildProcess | null = null;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-race-'));
});
afterEach(async () => {
  await stopSwapper();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A host dir holding files of the same names as the data dir's `d`, with canary content. */
function hostDir(): { dir: string; listing: () => string[] } {
  const dir = path.join(tmp, 'host');
  fs.mkdirSync(dir);
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(dir, `f${i}`), CANARY);
  fs.writeFileSync(path.join(dir, 'host-only'), CANARY);
  const before = listTree(dir, { times: true });
  expect(before).toHaveLength(FILES + 2);
  return { dir, listing: () => listTree(dir, { times: true }) };
}

function dataDir(): string {
  const data = path.join(tmp, 'data');
  fs.mkdirSync(path.join(data, 'd'), { recursive: true });
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(data, 'd', `f${i}`), `data ${i}`);
  return data;
}

/**
 * Another process that keeps swapping `<data>/d` with a symlink to `host`, each step one atomic
 * rename, so `d` is now the real directory and now the link.
 */
function startSwapper(data: string, host: string): Promise<void> {
  return startLoop(
    data,
    `// Whatever Berth moved around, there is a link to swap in again.
      step(() => { if (!fs.lstatSync('lnk').isSymbolicLink()) fs.renameSync('lnk', 'spare-' + spare++); });
      step(() => fs.symlinkSync(${JSON.stringify(host)}, 'lnk'));
      step(() => fs.renameSync('d', 'real'));
      step(() => fs.renameSync('lnk', 'd'));
      hold();
      step(() => fs.renameSync('d', 'lnk'));
      step(() => fs.renameSync('real', 'd'));
      hold();`,
  );
}

/** Runs `body` over and over in another process, in `dir`, until stopped. */
async function startLoop(dir: string, body: string): Promise<void> {
  const script = `
    const fs = require('node:fs');
    process.chdir(process.argv[1]);
    // Each state is held a moment, so that the name is mostly there, as the one or the other.
    const hold = () => { const until = process.hrtime.bigint() + 100000n; while (process.hrtime.bigint() < until); };
    const step = (f) => { try { f(); } catch {} };
    let spare = 0;
    process.stdout.write('ready\\n');
    for (;;) {
      ${body}
    }`;
  swapper = spawn(process.execPath, ['-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    swapper?.stdout?.once('data', () => resolve());
    swapper?.once('exit', (code) => reject(new Error(`the swapper exited with ${code}`)));
  });
}

async function stopSwapper(): Promise<void> {
  const child = swapper;
  swapper = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

// Each case repeats an operation many times against a swapping process: give it room on a loaded machine.
describe('a bot swapping entries of its data dir while Berth works', { timeout: 60_000 }, () => {
  it('never puts a host file into an export', async () => {
    const host = hostDir();
    const data = dataDir();
    await startSwapper(data, host.dir);
    let leaked = 0;
    for (let i = 0; i < 150; i++) {
      const tarball = gunzipSync(await buffer(exportArchive(data)));
      if (tarball.includes(CANARY) || tarball.includes('host-only')) leaked += 1;
    }
    await stopSwapper();
    expect(leaked).toBe(0);
    expect(host.listing()).toHaveLength(FILES + 2);
  });

  it('never opens a FIFO swapped in for a file (an open for reading would wait for a writer for good)', async () => {
    const data = dataDir();
    fs.writeFileSync(path.join(data, 'f'), 'a file');
    execFileSync('mkfifo', [path.join(data, 'fifo')]);
    await startLoop(data, "step(() => fs.renameSync('f', 'file')); step(() => fs.renameSync('fifo', 'f')); hold(); step(() => fs.renameSync('f', 'fifo')); step(() => fs.renameSync('file', 'f')); hold();");
    for (let i = 0; i < 100; i++) {
      const listing = execFileSync('tar', ['-tvz'], { input: await buffer(exportArchive(data)), encoding: 'utf8' });
      // Only ever the file, under one of its names.
      expect(listing.split('\n').filter((l) => l.startsWith('p'))).toEqual([]);
    }
  });

  it('never writes, moves or changes a host file while merging an import', async () => {
    const host = hostDir();
    const before = host.listing();
    const data = dataDir();
    await startSwapper(data, host.dir);
    for (let i = 0; i < 60; i++) {
      const staging = path.join(tmp, `staging-${i}`);
      fs.mkdirSync(path.join(staging, 'd'), { recursive: true });
      fs.chmodSync(path.join(staging, 'd'), 0o700);
      for (let j = 0; j < FILES; j++) fs.writeFileSync(path.join(staging, 'd', `f${j}`), `import ${i}`);
      fs.writeFileSync(path.join(staging, 'd', `new-${i}`), `import ${i}`);
      // The swap may make a merge fail (it then rolls back); it must never reach the host dir.
      await mergeContents({ staging, target: data, trash: path.join(tmp, `trash-${i}`) }).catch(() => undefined);
    }
    await stopSwapper();
    expect(host.listing()).toEqual(before);
  });
});
