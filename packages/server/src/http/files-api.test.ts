import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, FileGlobResult, FileInfo, IssuedBotToken, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

/**
 * mkdir and glob over the fake driver, with the container stopped: the data dir is then served from
 * the host, which needs no shell in the container (the in-container side is files.int.test.ts).
 */
describe('files mkdir and glob over the fake driver', () => {
  let t: TestBerth;
  let bot: Bot;
  let dataDir: string;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'alpha' } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    await expectJson(t.api('POST', '/bots/alpha/container/stop', { body: {} }), 200);
    dataDir = path.join(t.home, 'bots', bot.id, 'data');
  });
  afterEach(async () => {
    await t.close();
  });

  const mkdir = (p: string, status: number, token?: string) => expectJson<FileInfo & { error?: { code: string } }>(t.api('POST', '/bots/alpha/files/mkdir', { body: { path: p }, ...(token && { token }) }), status);
  const glob = (query: string, status: number) => expectJson<FileGlobResult & { error?: { code: string } }>(t.api('GET', `/bots/alpha/files/glob?${query}`), status);

  it('makes a directory with its parents; one that exists is answered as it is', async () => {
    expect(await mkdir('a/b/c', 200)).toMatchObject({ path: '/data/a/b/c', type: 'directory' });
    expect(fs.statSync(path.join(dataDir, 'a/b/c')).isDirectory()).toBe(true);
    expect(await mkdir('/data/a/b', 200)).toMatchObject({ path: '/data/a/b', type: 'directory' });
  });

  it('refuses a file in the way, a path out of the data dir, and a bad body', async () => {
    fs.writeFileSync(path.join(dataDir, 'plain.txt'), 'x');
    expect((await mkdir('plain.txt/sub', 400)).error?.code).toBe('validation_failed');
    expect((await mkdir('../../etc', 400)).error?.code).toBe('path_outside_root');
    expect((await mkdir('', 400)).error?.code).toBe('validation_failed');
    const extra = await t.api('POST', '/bots/alpha/files/mkdir', { body: { path: 'x', mode: '0700' } });
    expect(extra.status).toBe(400);
    expect(fs.existsSync(path.join(dataDir, 'x'))).toBe(false);
  });

  it('globs: sorted paths in the container, dot files included, capped at limit with truncated', async () => {
    for (const f of ['src/a.ts', 'src/lib/b.ts', 'src/lib/c.js', '.hidden/d.ts', 'e.ts']) {
      fs.mkdirSync(path.dirname(path.join(dataDir, f)), { recursive: true });
      fs.writeFileSync(path.join(dataDir, f), f);
    }
    expect(await glob('pattern=**/*.ts', 200)).toEqual({ path: '/data', matches: ['/data/.hidden/d.ts', '/data/e.ts', '/data/src/a.ts', '/data/src/lib/b.ts'], truncated: false });
    expect(await glob(`pattern=${encodeURIComponent('*.{ts,js}')}&path=src/lib`, 200)).toEqual({ path: '/data/src/lib', matches: ['/data/src/lib/b.ts', '/data/src/lib/c.js'], truncated: false });
    const capped = await glob('pattern=**/*.ts&limit=2', 200);
    expect(capped.matches).toHaveLength(2);
    expect(capped.truncated).toBe(true);
    expect(await glob('pattern=nothing*', 200)).toEqual({ path: '/data', matches: [], truncated: false });
  });

  it('refuses bad globs with validation_failed, and paths outside the data dir', async () => {
    for (const q of ['', 'pattern=', 'pattern=/abs/*', 'pattern=a/../b', 'pattern=*&limit=0', 'pattern=*&limit=5001', 'pattern=*&limit=x']) {
      expect((await glob(q, 400)).error?.code, q).toBe('validation_failed');
    }
    expect((await glob('pattern=*&path=../..', 400)).error?.code).toBe('path_outside_root');
    expect((await glob('pattern=*&path=/etc', 409)).error?.code).toBe('container_not_running');
    expect((await t.api('GET', '/bots/nobody/files/glob?pattern=*')).status).toBe(404);
  });

  it('are reached by the bot’s own token', async () => {
    const own = await expectJson<IssuedBotToken>(t.api('POST', '/bots/alpha/tokens', { body: { name: 'own' } }), 201);
    expect(await mkdir('by-bot', 200, own.token)).toMatchObject({ path: '/data/by-bot' });
    const res = await t.api('GET', '/bots/alpha/files/glob?pattern=by-*', { token: own.token });
    expect(await expectJson(res, 200)).toMatchObject({ matches: ['/data/by-bot'] });
  });
});
