import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { buildTar, listTree, type TarEntry } from '../testing/tree.js';

const IMAGE = 'localhost/berth/test:busybox';
const MAX_IMPORT_BYTES = 4 * 1024 * 1024;

interface ErrorBody {
  error: { code: string; message: string };
}

/** Export, import and reset of a bot's data dir through the HTTP API, over the fake driver and real files. */
describe('data API', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }), config: { maxImportBytes: MAX_IMPORT_BYTES, maxImportEntries: 100 } });
  });
  afterEach(async () => {
    await t.close();
  });

  /** A request with a raw body, as a client streams an archive. */
  function raw(method: string, p: string, body?: RequestInit['body'], headers: Record<string, string> = {}): Promise<Response> {
    return Promise.resolve(
      t.berth.app.request(`/api/v1${p}`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers },
        ...(body !== undefined && body !== null && { body, duplex: 'half' }),
      } as RequestInit),
    );
  }

  async function newBot(name: string): Promise<Bot & { dataDir: string }> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name } }), 201);
    const dataDir = t.berth.paths.dataDir(bot.id);
    fs.mkdirSync(dataDir, { recursive: true });
    return { ...bot, dataDir };
  }

  function fill(dataDir: string): void {
    fs.mkdirSync(path.join(dataDir, 'notes/old'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'notes/todo.md'), '- ship it\n');
    fs.writeFileSync(path.join(dataDir, 'notes/old/2023.md'), 'long ago\n');
    fs.writeFileSync(path.join(dataDir, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dataDir, 'model.bin'), randomBytes(300_000));
    fs.symlinkSync('notes/todo.md', path.join(dataDir, 'todo'));
    fs.symlinkSync('/usr/bin', path.join(dataDir, 'bin'));
    fs.linkSync(path.join(dataDir, 'run.sh'), path.join(dataDir, 'run-again.sh'));
    fs.mkdirSync(path.join(dataDir, 'empty'));
  }

  async function exportData(bot: string): Promise<Buffer> {
    const res = await raw('GET', `/bots/${bot}/data/export`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  function workDirs(botId: string): string[] {
    return fs.readdirSync(t.berth.paths.botDir(botId)).filter((n) => n !== 'data');
  }

  it('exports the data dir as a tar.gz download named after the bot', async () => {
    const bot = await newBot('alpha');
    fill(bot.dataDir);
    const res = await raw('GET', `/bots/alpha/data/export`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="alpha-data.tar.gz"');
    const archive = Buffer.from(await res.arrayBuffer());
    expect(archive.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const listing = execFileSync('tar', ['-tz'], { input: archive, encoding: 'utf8' }).trim().split('\n').sort();
    expect(listing).toEqual(['bin', 'empty/', 'model.bin', 'notes/', 'notes/old/', 'notes/old/2023.md', 'notes/todo.md', 'run-again.sh', 'run.sh', 'todo']);
    expect((await expectJson<ErrorBody>(raw('GET', '/bots/nobody/data/export'), 404)).error.code).toBe('bot_not_found');
  });

  it('export then import into another bot gives identical files, modes, owners, symlinks and hard links', async () => {
    const a = await newBot('alpha');
    fill(a.dataDir);
    fs.chmodSync(path.join(a.dataDir, 'notes/old'), 0o700);
    const archive = await exportData('alpha');

    const b = await newBot('beta');
    const inode = fs.statSync(b.dataDir).ino;
    const result = await expectJson<{ files: number; bytes: number }>(raw('POST', '/bots/beta/data/import', archive, { 'content-type': 'application/gzip' }), 200);
    expect(listTree(b.dataDir)).toEqual(listTree(a.dataDir));
    expect(fs.statSync(b.dataDir).ino).toBe(inode);
    const fileBytes = ['notes/todo.md', 'notes/old/2023.md', 'run.sh', 'model.bin'].reduce((n, f) => n + fs.statSync(path.join(a.dataDir, f)).size, 0);
    expect(result).toEqual({ files: 7, bytes: fileBytes });
    expect(workDirs(b.id)).toEqual([]);

    const ops = await t.berth.operations.recentFor(b.id, 5);
    expect(ops[0]).toMatchObject({ kind: 'import', status: 'succeeded' });
  });

  it('takes a plain tar too, whatever the content type says', async () => {
    const bot = await newBot('alpha');
    const tarball = await buildTar([{ name: 'hello.txt', body: 'hi' }]);
    await expectJson(raw('POST', '/bots/alpha/data/import', tarball, { 'content-type': 'application/gzip' }), 200);
    expect(fs.readFileSync(path.join(bot.dataDir, 'hello.txt'), 'utf8')).toBe('hi');
  });

  it('merge keeps what the archive does not name; replace leaves only the archive’s entries', async () => {
    const bot = await newBot('alpha');
    const archive = await buildTar(
      [
        { name: 'notes/', type: 'directory', mode: 0o755 },
        { name: 'notes/todo.md', body: '- new list\n' },
        { name: 'notes/new.md', body: 'new\n' },
        { name: 'bin/', type: 'directory', mode: 0o755 },
        { name: 'bin/tool', body: 'tool', mode: 0o755 },
      ],
      { gzip: true },
    );

    fill(bot.dataDir);
    await expectJson(raw('POST', '/bots/alpha/data/import?mode=merge', archive), 200);
    const merged = listTree(bot.dataDir).map((l) => l.split(' ').slice(0, 2).join(' '));
    expect(merged).toEqual([
      'bin dir', // the symlink to /usr/bin was replaced by the archive's directory, never followed
      'bin/tool file',
      'empty dir',
      'model.bin file',
      'notes dir',
      'notes/new.md file',
      'notes/old dir',
      'notes/old/2023.md file',
      'notes/todo.md file',
      'run-again.sh file',
      'run.sh file',
      'todo symlink',
    ]);
    expect(fs.readFileSync(path.join(bot.dataDir, 'notes/todo.md'), 'utf8')).toBe('- new list\n');
    expect(fs.existsSync('/usr/bin/tool')).toBe(false);

    const inode = fs.statSync(bot.dataDir).ino;
    await expectJson(raw('POST', '/bots/alpha/data/import?mode=replace', archive), 200);
    expect(listTree(bot.dataDir).map((l) => l.split(' ')[0])).toEqual(['bin', 'bin/tool', 'notes', 'notes/new.md', 'notes/todo.md']);
    expect(fs.statSync(bot.dataDir).ino).toBe(inode);
    expect(workDirs(bot.id)).toEqual([]);

    expect((await expectJson<ErrorBody>(raw('POST', '/bots/alpha/data/import?mode=overwrite', archive), 400)).error.code).toBe('validation_failed');
  });

  it('reset empties the data dir in place and leaves the container alone', async () => {
    const bot = await newBot('alpha');
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const before = await expectJson<{ id: string; version: number }>(t.api('GET', '/bots/alpha/container'), 200);
    fill(bot.dataDir);
    const inode = fs.statSync(bot.dataDir).ino;

    expect(await expectJson(raw('POST', '/bots/alpha/data/reset'), 200)).toEqual({});
    expect(fs.readdirSync(bot.dataDir)).toEqual([]);
    expect(fs.statSync(bot.dataDir).ino).toBe(inode);
    expect(workDirs(bot.id)).toEqual([]);
    const after = await expectJson<{ id: string; version: number }>(t.api('GET', '/bots/alpha/container'), 200);
    expect(after).toMatchObject({ id: before.id, version: before.version });
    expect((await t.berth.operations.recentFor(bot.id, 1))[0]).toMatchObject({ kind: 'reset', status: 'succeeded' });
  });

  it('runs one data operation at a time per bot', async () => {
    await newBot('alpha');
    // An upload that stays open until released: the import is running all along.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const tarball = await buildTar([{ name: 'slow.txt', body: 'slow' }]);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(tarball.subarray(0, 512));
        await released;
        controller.enqueue(tarball.subarray(512));
        controller.close();
      },
    });
    const importing = raw('POST', '/bots/alpha/data/import', body);
    let running: Operation | undefined;
    while (!running) {
      running = (await t.berth.operations.recentFor((await t.berth.bots.get('alpha')).id, 1)).find((o) => o.status === 'running');
      await new Promise((r) => setTimeout(r, 5));
    }
    const busy = await expectJson<ErrorBody>(raw('POST', '/bots/alpha/data/reset'), 409);
    expect(busy.error.code).toBe('operation_in_progress');
    expect(busy.error.message).toContain(running.id);
    release();
    expect(await expectJson(importing, 200)).toEqual({ files: 1, bytes: 4 });
  });

  describe('a bad archive answers 400 or 413 and leaves the data dir byte for byte as it was', () => {
    const bomb = () => gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const cases: { name: string; body: () => Promise<Buffer> | Buffer; status: 400 | 413; code: string; message: RegExp }[] = [
      { name: '../ escape', body: () => tarOf([{ name: 'ok.txt', body: 'fine' }, { name: '../escape.txt', body: 'x' }]), status: 400, code: 'archive_invalid', message: /entry "..\/escape.txt" has a "\.\." component/ },
      { name: 'absolute path', body: () => tarOf([{ name: '/etc/cron.d/evil', body: 'x' }]), status: 400, code: 'archive_invalid', message: /entry "\/etc\/cron.d\/evil" has an absolute path/ },
      {
        name: 'a symlink, then a file written through it',
        body: () => tarOf([{ name: 'out', type: 'symlink', linkname: '/tmp' }, { name: 'out/evil.txt', body: 'x' }]),
        status: 400,
        code: 'archive_invalid',
        message: /entry "out\/evil.txt" would be written through the symlink "out"/,
      },
      {
        name: 'a hard link to outside the archive',
        body: () => tarOf([{ name: 'shadow', type: 'link', linkname: '/etc/shadow' }]),
        status: 400,
        code: 'archive_invalid',
        message: /entry "shadow" is a hard link to "\/etc\/shadow", which is not a file earlier in the same archive/,
      },
      { name: 'a device node', body: () => tarOf([{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]), status: 400, code: 'archive_invalid', message: /entry "sda" is a device node/ },
      { name: 'a FIFO', body: () => tarOf([{ name: 'pipe', type: 'fifo' }]), status: 400, code: 'archive_invalid', message: /entry "pipe" is a FIFO/ },
      { name: 'a gzip bomb past the limit', body: bomb, status: 413, code: 'archive_too_large', message: /larger than the limit of 4194304 bytes uncompressed/ },
      {
        name: 'a file past the limit',
        body: () => tarOf([{ name: 'huge.bin', body: Buffer.alloc(MAX_IMPORT_BYTES + 1) }]),
        status: 413,
        code: 'archive_too_large',
        message: /entry "huge.bin" \(4194305 bytes\) takes it past the limit|larger than the limit/,
      },
      {
        name: 'too many entries',
        body: () => tarOf(Array.from({ length: 101 }, (_, i) => ({ name: `f${i}`, body: '' }))),
        status: 413,
        code: 'archive_too_large',
        message: /more than 100 entries/,
      },
      {
        name: 'a truncated archive',
        body: async () => (await tarOf([{ name: 'big.bin', body: randomBytes(100_000) }])).subarray(0, 60_000),
        status: 400,
        code: 'archive_invalid',
        message: /gzip stream is corrupt or truncated/,
      },
      {
        name: 'a truncated plain tar',
        body: async () => (await buildTar([{ name: 'a.txt', body: 'a' }, { name: 'big.bin', body: randomBytes(100_000) }])).subarray(0, 60_000),
        status: 400,
        code: 'archive_invalid',
        message: /truncated: it ends inside entry "big.bin"/,
      },
      { name: 'a body that is not an archive', body: () => Buffer.from('{"not": "an archive"}\n'.repeat(100)), status: 400, code: 'archive_invalid', message: /not a tar or tar.gz archive/ },
      { name: 'an empty body', body: () => Buffer.alloc(0), status: 400, code: 'archive_invalid', message: /the body is empty/ },
    ];

    async function tarOf(entries: TarEntry[]): Promise<Buffer> {
      return buildTar(entries, { gzip: true });
    }

    for (const c of cases) {
      it.each(['merge', 'replace'])(`${c.name} (%s)`, async (mode) => {
        const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'victim' } }), 201);
        const dataDir = t.berth.paths.dataDir(bot.id);
        fs.mkdirSync(dataDir, { recursive: true });
        fill(dataDir);
        const before = listTree(dataDir, { times: true });

        const res = await raw('POST', `/bots/victim/data/import?mode=${mode}`, await c.body());
        const body = await expectJson<ErrorBody>(res, c.status);
        expect(body.error.code).toBe(c.code);
        expect(body.error.message).toMatch(c.message);

        expect(listTree(dataDir, { times: true })).toEqual(before);
        expect(workDirs(bot.id)).toEqual([]);
        expect(fs.existsSync('/tmp/evil.txt')).toBe(false);
        expect((await t.berth.operations.recentFor(bot.id, 1))[0]).toMatchObject({ kind: 'import', status: 'failed', error: { code: c.code } });
      });
    }
  });

  it('imports a set-uid file without the bit', async () => {
    const bot = await newBot('alpha');
    await expectJson(raw('POST', '/bots/alpha/data/import', await buildTar([{ name: 'sudo', body: '#!/bin/sh\n', mode: 0o4755 }, { name: 'share', type: 'directory', mode: 0o2775 }], { gzip: true })), 200);
    expect((fs.statSync(path.join(bot.dataDir, 'sudo')).mode & 0o7777).toString(8)).toBe('755');
    expect((fs.statSync(path.join(bot.dataDir, 'share')).mode & 0o7777).toString(8)).toBe('775');
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await expectJson<{ paths: Record<string, unknown> }>(t.api('GET', '/openapi.json'), 200);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/bots/{bot}/data/export', '/bots/{bot}/data/import', '/bots/{bot}/data/reset']));
  });
});
