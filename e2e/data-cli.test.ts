import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthApiError, type Bot } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { buildTar, listTree } from '../packages/server/src/testing/tree.js';
import { runCli, startServer, type ServerProcess } from './server-process.js';

/** `berth data` and the SDK's data methods against the built server over real HTTP. */
describe('berth data', () => {
  let server: ServerProcess;
  let client: BerthClient;
  let tmp: string;
  const id = randomBytes(3).toString('hex');
  const names = { a: `data-a-${id}`, b: `data-b-${id}` };
  const bots: Record<'a' | 'b', Bot> = {} as never;

  beforeAll(async () => {
    server = await startServer({ env: { BERTH_LOG_LEVEL: 'warn' } });
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-data-cli-'));
    bots.a = await client.createBot({ name: names.a });
    bots.b = await client.createBot({ name: names.b });
  });

  afterAll(async () => {
    if (!server) return;
    for (const name of Object.values(names)) await client.deleteBot(name).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function berth(...args: string[]) {
    return runCli(server, args);
  }

  const dataDir = (bot: Bot) => path.join(server.home, 'bots', bot.id, 'data');

  it('exports with the CLI, imports into another bot with --replace, and resets', async () => {
    const src = dataDir(bots.a);
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub/file.txt'), 'content\n');
    fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(5 * 1024 * 1024));
    fs.symlinkSync('sub/file.txt', path.join(src, 'link'));
    const file = path.join(tmp, 'a.tar.gz');

    await berth('data', 'export', names.a, '--output', file);
    expect(execFileSyncText('tar', ['-tzf', file]).split('\n').sort()).toEqual(['big.bin', 'link', 'sub/', 'sub/file.txt']);

    fs.mkdirSync(dataDir(bots.b), { recursive: true });
    fs.writeFileSync(path.join(dataDir(bots.b), 'stale.txt'), 'goes away');
    const imported = await berth('data', 'import', names.b, file, '--replace');
    expect(imported.stdout).toBe(`imported 3 files, ${5 * 1024 * 1024 + 8} bytes into ${names.b}'s data dir (replaced)\n`);
    expect(listTree(dataDir(bots.b))).toEqual(listTree(src));

    expect((await berth('data', 'reset', names.b)).stdout).toContain('is empty');
    expect(fs.readdirSync(dataDir(bots.b))).toEqual([]);
  });

  it('the SDK streams an import from a ReadableStream and the export as a Response body', async () => {
    const archive = await buildTar([{ name: 'streamed.txt', body: 'streamed\n' }], { gzip: true });
    const result = await client.importData(names.b, Readable.toWeb(Readable.from([archive.subarray(0, 10), archive.subarray(10)])) as unknown as ReadableStream<Uint8Array>);
    expect(result).toEqual({ files: 1, bytes: 9 });
    const res = await client.exportData(names.b);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${names.b}-data.tar.gz"`);
    expect(execFileSyncText('tar', ['-tz'], Buffer.from(await res.arrayBuffer()))).toBe('streamed.txt');
  });

  it('answers a bad archive with 400 at once, even while a large upload is still being sent', async () => {
    // The first entry breaks the rules; 64 MiB follow that the server never needs to read.
    const head = await buildTar([{ name: '../escape.txt', body: 'x' }]);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(head.subarray(0, 1024));
      },
      pull(controller) {
        if (sent >= 64 * 1024 * 1024) return controller.close();
        sent += 1024 * 1024;
        controller.enqueue(new Uint8Array(1024 * 1024));
      },
    });
    const err = await client.importData(names.b, body).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BerthApiError);
    expect(err).toMatchObject({ status: 400, code: 'archive_invalid', message: expect.stringContaining('entry "../escape.txt" has a ".." component') });
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(fs.existsSync(path.join(server.home, 'bots', 'escape.txt'))).toBe(false);

    // The CLI says it in words and exits non-zero.
    const bad = path.join(tmp, 'bad.tar');
    fs.writeFileSync(bad, 'not an archive at all');
    const cli = await berth('data', 'import', names.b, bad).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(cli?.code).toBe(125);
    expect(cli?.stderr).toMatch(/^berth: the body is not a tar or tar.gz archive.*\(archive_invalid\)$/m);
  });

  it('keeps data routes from bot tokens', async () => {
    const { token } = await client.createToken(names.b, { name: 'agent' });
    const asBot = new BerthClient({ baseUrl: server.url, token });
    for (const call of [() => asBot.exportData(names.b), () => asBot.resetData(names.b), () => asBot.importData(names.b, new Uint8Array(1024))]) {
      await expect(call()).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    }
  });
});

function execFileSyncText(cmd: string, args: string[], input?: Buffer): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input && { input }) }).trim();
}
