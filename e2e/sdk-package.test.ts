import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Berth } from '@berth/sdk';
import { startTestRegistry, type TestRegistry } from '../packages/server/src/testing/registry.js';
import { startServer, type ServerProcess } from './server-process.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const TEST_IMAGE = 'localhost/berth/test:busybox';

/** The environment without what npm sets for the script running these tests (its prefix, its workspace). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return { ...env, ...extra };
}

/** What a user outside the repository writes: ESM, the installed packages only. */
const APP = `
import { Berth, BerthApiError, OperationFailedError } from '@berth/sdk';

const { BERTH_URL, BERTH_TOKEN, BOT, FAIL_BOT, FAIL_IMAGE, IMAGE } = process.env;
const berth = new Berth({ baseUrl: BERTH_URL, token: BERTH_TOKEN });
const out = {};

const live = new AbortController();
const changes = berth.events({ signal: live.signal })[Symbol.asyncIterator]();
out.firstEvent = (await changes.next()).value.event;

const events = [];
const bot = await berth.bots.create({ name: BOT, image: IMAGE }, { container: true, onEvent: (e) => events.push(e.event) });
out.createEvents = events;
out.status = (await bot.container.info()).status;

out.exec = await bot.exec(['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
let streamed = '';
for await (const ev of bot.execStream('for i in 1 2 3; do echo line $i; done')) {
  if (ev.event === 'stdout') streamed += ev.data.data;
  if (ev.event === 'exit') out.streamExit = ev.data.exitCode;
}
out.streamed = streamed;

out.written = await bot.files.write('notes/hello.txt', 'hello from the sdk\\n', { mode: '0600' });
const file = await bot.files.read('notes/hello.txt');
out.read = { size: file.size, mode: file.mode, text: await file.text() };
out.listing = (await bot.files.list('notes')).entries.map((e) => e.name);

out.snapshot = (await bot.snapshots.create({ name: 'first' })).name;
await bot.files.write('notes/hello.txt', 'changed\\n');
await bot.snapshots.restore('first', { keepCurrent: false });
out.restored = await bot.files.readText('notes/hello.txt');

const archive = new Uint8Array(await new Response(await bot.data.export()).arrayBuffer());
await bot.data.reset();
out.afterReset = (await bot.files.list('.')).entries.length;
out.imported = await bot.data.import(archive);
out.reimported = await bot.files.readText('notes/hello.txt');

const op = await bot.container.begin({ recreate: true });
out.waited = await berth.operations.wait(op.id);
out.afterRecreate = (await bot.exec('cat /data/notes/hello.txt')).stdout;

const token = await bot.tokens.create({ name: 'agent' });
const asBot = new Berth({ baseUrl: BERTH_URL, token: token.token });
out.asBot = (await asBot.bots.get(BOT).exec(['echo', 'bot token'])).stdout;
await bot.tokens.revoke(token.id);

try {
  await berth.bots.create({ name: FAIL_BOT, image: FAIL_IMAGE }, { container: true });
  out.failed = 'did not throw';
} catch (err) {
  out.failed = { name: err.name, api: err instanceof BerthApiError, op: err instanceof OperationFailedError, code: err.code, status: err.status, operationId: err.operationId };
  try {
    await berth.operations.wait(err.operationId);
  } catch (again) {
    out.waitFailed = again.code;
  }
}

try {
  await berth.bots.get('no-such-bot-' + BOT).info();
} catch (err) {
  out.missing = { code: err.code, status: err.status, requestId: typeof err.requestId };
}

await bot.delete();
await berth.bots.get(FAIL_BOT).delete();
out.left = (await berth.bots.list()).filter((b) => b.name === BOT || b.name === FAIL_BOT).length;
live.abort();
await changes.return?.();
console.log(JSON.stringify(out));
`;

/** A typed use of the installed packages: `tsc --noEmit` must accept it (and refuse the marked mistake). */
const TYPED = `
import { Berth, BerthApiError, OperationFailedError, type BotHandle } from '@berth/sdk';
import type { Container, ExecResult, Snapshot } from '@berth/contract';

export async function use(berth: Berth): Promise<string> {
  const bot: BotHandle = await berth.bots.create({ name: 'typed' }, { container: true, onEvent: (e) => void e.event });
  const r: ExecResult = await bot.exec(['ls', '-la']);
  const c: Container = await bot.container.info();
  const s: Snapshot = await bot.snapshots.create({ name: 'one' });
  for await (const ev of bot.execStream('echo hi')) if (ev.event === 'exit') void ev.data.exitCode;
  const file = await bot.files.read('a.txt');
  const stream: ReadableStream<Uint8Array> = file.stream;
  try {
    await berth.operations.wait('op');
  } catch (err) {
    if (err instanceof OperationFailedError) return err.code + String(err.operationId);
    if (err instanceof BerthApiError) return err.code;
  }
  // @ts-expect-error a bot's name is a string
  await berth.bots.create({ name: 1 });
  return r.stdout + c.status + s.name + String(stream.locked);
}
`;

/**
 * @berth/contract and @berth/sdk as a user outside the repository gets them: packed by npm, installed
 * from the tarballs into a fresh ESM project, type-checked there, and run against a built server.
 */
describe('the SDK as a package', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sdk-package-'));
  const project = path.join(tmp, 'app');
  const suffix = randomBytes(3).toString('hex');
  const names = { bot: `sdk-${suffix}`, fail: `sdk-fail-${suffix}` };
  let server: ServerProcess | undefined;
  let registry: TestRegistry | undefined;

  beforeAll(async () => {
    // Packed before the server starts: packing rebuilds the packages' dist.
    await run(process.execPath, [TSC, '-b', 'packages/contract', 'packages/sdk'], { cwd: ROOT });
    await run('npm', ['pack', '--workspace', '@berth/contract', '--workspace', '@berth/sdk', '--pack-destination', tmp], { cwd: ROOT, env: cleanEnv() });
    const tarballs = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
    expect(tarballs.sort()).toEqual(['berth-contract-0.1.0.tgz', 'berth-sdk-0.1.0.tgz']);

    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'berth-sdk-user', private: true, type: 'module' }));
    const install = ['install', '--no-audit', '--no-fund', ...tarballs.map((t) => path.join(tmp, t))];
    // zod, the one dependency from the registry, is in npm's cache after `npm ci`.
    await run('npm', [...install, '--offline'], { cwd: project, env: cleanEnv() }).catch(() => run('npm', [...install, '--prefer-offline'], { cwd: project, env: cleanEnv() }));

    registry = await startTestRegistry();
    server = await startServer();
  });

  afterAll(async () => {
    if (server) {
      const berth = new Berth({ baseUrl: server.url, token: server.token });
      for (const name of Object.values(names)) await berth.bots.get(name).delete().catch(() => undefined);
      await server.kill();
      fs.rmSync(server.home, { recursive: true, force: true });
    }
    await registry?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('installs from the tarballs with its dependencies, and nothing of the server', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(['@berth/contract', '@berth/sdk']);
    const modules = fs.readdirSync(path.join(project, 'node_modules')).filter((d) => !d.startsWith('.'));
    expect(modules.sort()).toEqual(['@berth', 'zod']);
    expect(fs.readdirSync(path.join(project, 'node_modules/@berth')).sort()).toEqual(['contract', 'sdk']);
    // Browser-safe: no Node built-ins, no server code.
    for (const pkg of ['contract', 'sdk']) {
      const dist = path.join(project, 'node_modules/@berth', pkg, 'dist');
      const files = fs.readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
      expect(files.length).toBeGreaterThan(5);
      for (const f of files) expect(fs.readFileSync(path.join(dist, f), 'utf8')).not.toMatch(/from ['"](node:|@berth\/server)/);
    }
  });

  it('type-checks a user’s TypeScript against the installed types (browser libs, no Node types)', async () => {
    fs.writeFileSync(path.join(project, 'use.ts'), TYPED);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [], strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true },
        files: ['use.ts'],
      }),
    );
    await run(process.execPath, [TSC, '-p', project], { cwd: project });
  });

  it('drives a real server: a bot with a container, exec, files, snapshots, data, waiting, tokens, and a failed create that throws', async () => {
    fs.writeFileSync(path.join(project, 'app.mjs'), APP);
    const { stdout } = await run(process.execPath, ['app.mjs'], {
      cwd: project,
      env: cleanEnv({
        BERTH_URL: server!.url,
        BERTH_TOKEN: server!.token,
        BOT: names.bot,
        FAIL_BOT: names.fail,
        IMAGE: TEST_IMAGE,
        // A registry that answers, without this image: the create operation fails with image_not_found.
        FAIL_IMAGE: `${registry!.url}/berth/nothing-${suffix}:none`,
      }),
      timeout: 240_000,
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.firstEvent).toBe('ready');
    expect(out.createEvents).toEqual(expect.arrayContaining(['operation', 'phase', 'done']));
    expect((out.createEvents as string[]).at(-1)).toBe('done');
    expect(out.status).toBe('running');
    expect(out.exec).toMatchObject({ exitCode: 3, stdout: 'hello\n', stderr: 'oops\n' });
    expect(out.streamed).toBe('line 1\nline 2\nline 3\n');
    expect(out.streamExit).toBe(0);
    expect(out.written).toMatchObject({ path: '/data/notes/hello.txt', type: 'file', size: 19, mode: '0600' });
    expect(out.read).toEqual({ size: 19, mode: '0600', text: 'hello from the sdk\n' });
    expect(out.listing).toEqual(['hello.txt']);
    expect(out.snapshot).toBe('first');
    expect(out.restored).toBe('hello from the sdk\n');
    expect(out.afterReset).toBe(0);
    expect(out.imported).toMatchObject({ files: 1 });
    expect(out.reimported).toBe('hello from the sdk\n');
    expect(out.waited).toMatchObject({ kind: 'recreate', status: 'succeeded' });
    expect(out.afterRecreate).toBe('hello from the sdk\n');
    expect(out.asBot).toBe('bot token\n');
    expect(out.failed).toMatchObject({ name: 'OperationFailedError', api: true, op: true, code: 'image_not_found', status: 404 });
    expect((out.failed as { operationId: unknown }).operationId).toMatch(/./);
    expect(out.waitFailed).toBe('image_not_found');
    expect(out.missing).toEqual({ code: 'bot_not_found', status: 404, requestId: 'string' });
    expect(out.left).toBe(0);
  });
});
