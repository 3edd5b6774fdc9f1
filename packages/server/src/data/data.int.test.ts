import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { buildTar, listTree } from '../testing/tree.js';

const WORKSPACE_IMAGE = 'localhost/berth/workspace:bookworm';

/** A running container sees imports and resets of its data dir at once: the bind-mounted dir is never swapped. */
describe('data dir import, reset and export on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  function raw(method: string, p: string, body?: Buffer): Promise<Response> {
    return Promise.resolve(t.berth.app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, ...(body && { body }) }));
  }

  async function runningBot(name: string, image = TEST_IMAGE): Promise<{ bot: Bot; container: Container; dataDir: string }> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `${name}-${run}`, image } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const container = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(container.status).toBe('running');
    return { bot, container, dataDir: t.berth.paths.dataDir(bot.id) };
  }

  async function sh(container: Container, script: string): Promise<string> {
    const r = await podman.driver.exec(container.id, ['/bin/sh', '-c', script]);
    expect(r.exitCode, r.stderr.toString('utf8')).toBe(0);
    return r.stdout.toString('utf8');
  }

  it('a running container sees imported files at /data at once, and an empty /data after a reset', async () => {
    const { bot, container, dataDir } = await runningBot('live');
    const inode = fs.statSync(dataDir).ino;
    await sh(container, 'echo from-inside > /data/before.txt');
    // The container's /data is the host dir itself.
    expect((await sh(container, 'stat -c %i /data')).trim()).toBe(String(inode));

    const archive = await buildTar(
      [
        { name: 'docs/', type: 'directory', mode: 0o755 },
        { name: 'docs/readme.md', body: 'imported\n' },
        { name: 'tool.sh', body: '#!/bin/sh\necho tool ran\n', mode: 0o755 },
        { name: 'readme', type: 'symlink', linkname: 'docs/readme.md' },
      ],
      { gzip: true },
    );
    expect(await expectJson(raw('POST', `/bots/${bot.id}/data/import?mode=merge`, archive), 200)).toEqual({ files: 3, bytes: 9 + 24 });
    expect((await sh(container, 'ls -A /data')).split('\n').filter(Boolean).sort()).toEqual(['before.txt', 'docs', 'readme', 'tool.sh']);
    expect(await sh(container, 'cat /data/readme && /data/tool.sh')).toBe('imported\ntool ran\n');

    await expectJson(raw('POST', `/bots/${bot.id}/data/import?mode=replace`, archive), 200);
    expect((await sh(container, 'ls -A /data')).split('\n').filter(Boolean).sort()).toEqual(['docs', 'readme', 'tool.sh']);

    expect(await expectJson(raw('POST', `/bots/${bot.id}/data/reset`), 200)).toEqual({});
    expect(await sh(container, 'ls -A /data')).toBe('');
    expect((await sh(container, 'stat -c %i /data')).trim()).toBe(String(inode));
    expect(fs.statSync(dataDir).ino).toBe(inode);
    // Still the same container, never restarted.
    const after = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(after).toMatchObject({ id: container.id, status: 'running', startedAt: container.startedAt, version: container.version });
    await sh(container, 'echo still-writable > /data/after-reset.txt');
    expect(fs.readFileSync(`${dataDir}/after-reset.txt`, 'utf8')).toBe('still-writable\n');
  });

  it('a bot swapping a directory for a link to a host dir during merges never gets a host file written, moved or changed', async () => {
    // The workspace image, for its perl.
    const { bot, container, dataDir } = await runningBot('swapper', WORKSPACE_IMAGE);
    const host = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-host-canary-'));
    try {
      for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(host, `f${i}`), 'host file');
      const before = listTree(host, { times: true });
      await sh(container, 'mkdir /data/d && for i in $(seq 0 39); do echo data > /data/d/f$i; done && touch /data/.go');
      // Inside the container: swap /data/d with a link to the host dir, one rename at a time (perl's,
      // to swap fast), holding each state a moment, until /data/.go goes.
      const loop =
        `chdir '/data'; my $n = 0; while (-e '.go') { ` +
        `if (!-l 'lnk') { rename 'lnk', 'spare-' . $n++; symlink '${host}', 'lnk'; } ` +
        `rename 'd', 'real'; rename 'lnk', 'd'; select(undef, undef, undef, 0.0002); rename 'd', 'lnk'; rename 'real', 'd'; select(undef, undef, undef, 0.0002); } ` +
        `open my $f, '>', '.stopped';`;
      execFileSync('podman', ['exec', '-d', container.id, 'perl', '-e', loop]);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const archive = await buildTar([{ name: 'd/', type: 'directory', mode: 0o700 }, ...Array.from({ length: 40 }, (_, j) => ({ name: `d/f${j}`, body: `import ${i}` })), { name: `d/new-${i}`, body: 'new' }]);
        statuses.push((await raw('POST', `/bots/${bot.id}/data/import?mode=merge`, archive)).status);
      }
      fs.rmSync(`${dataDir}/.go`);
      while (!fs.existsSync(`${dataDir}/.stopped`)) await new Promise((r) => setTimeout(r, 10));
      expect(listTree(host, { times: true })).toEqual(before);
      // Paused, the container could not get in the way: every import succeeded, and left it running.
      expect(statuses).toEqual(Array.from({ length: 12 }, () => 200));
      expect((await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).status).toBe('running');
    } finally {
      fs.rmSync(host, { recursive: true, force: true });
    }
  });

  it('exports a data dir a container is writing to, and imports it into another bot byte for byte', async () => {
    const a = await runningBot('source');
    await sh(
      a.container,
      'mkdir -p /data/app/cache && echo config > /data/app/config && chmod 600 /data/app/config && ln -s app/config /data/config-link && ' +
        'head -c 2000000 /dev/urandom > /data/app/blob && ln /data/app/blob /data/blob-hard && chown 1000:1000 /data/app/cache',
    );
    // A writer that keeps appending while the archive is read, until /data/.go is removed.
    await sh(a.container, 'touch /data/.go');
    execFileSync('podman', ['exec', '-d', a.container.id, '/bin/sh', '-c', 'while [ -e /data/.go ]; do head -c 4096 /dev/urandom >> /data/busy.log; done; touch /data/.stopped']);
    while (!fs.existsSync(`${a.dataDir}/busy.log`)) await new Promise((r) => setTimeout(r, 10));
    const sizeBefore = fs.statSync(`${a.dataDir}/busy.log`).size;
    const res = await raw('GET', `/bots/${a.bot.id}/data/export`);
    expect(res.status).toBe(200);
    const busyArchive = Buffer.from(await res.arrayBuffer());
    expect(fs.statSync(`${a.dataDir}/busy.log`).size).toBeGreaterThan(sizeBefore);
    // Valid whatever the writer did meanwhile.
    expect(execFileSync('tar', ['-tz'], { input: busyArchive, encoding: 'utf8' })).toContain('busy.log');

    // Stop the writer, then a quiet export must reproduce the tree exactly in another bot.
    fs.rmSync(`${a.dataDir}/.go`);
    while (!fs.existsSync(`${a.dataDir}/.stopped`)) await new Promise((r) => setTimeout(r, 10));
    fs.rmSync(`${a.dataDir}/.stopped`);
    fs.rmSync(`${a.dataDir}/busy.log`);
    const quiet = Buffer.from(await (await raw('GET', `/bots/${a.bot.id}/data/export`)).arrayBuffer());
    const b = await runningBot('target');
    await expectJson(raw('POST', `/bots/${b.bot.id}/data/import?mode=replace`, quiet), 200);
    expect(listTree(b.dataDir)).toEqual(listTree(a.dataDir));
    expect(await sh(b.container, 'cat /data/config-link && stat -c "%a %u:%g" /data/app/config /data/app/cache')).toBe('config\n600 0:0\n755 1000:1000\n');
  });
});
