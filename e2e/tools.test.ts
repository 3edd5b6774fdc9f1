import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Task } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { CLI_MAIN, startServer, type ServerProcess } from './server-process.js';

/**
 * The bot's tools through the built server as a process: a background task that outlives a kill -9
 * of the server and is then killed through the API; and the `berth exec`, `tasks` and `files` verbs
 * of the built CLI.
 */
describe('the bot’s tools, server process and CLI', () => {
  let server: ServerProcess;
  let client: BerthClient;
  const name = `tools-${randomBytes(3).toString('hex')}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tools-e2e-'));

  beforeAll(async () => {
    server = await startServer();
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    await client.createBot({ name, image: 'localhost/berth/test:busybox' });
    for await (const ev of client.createContainerStream(name)) if (ev.event === 'error') throw new Error(JSON.stringify(ev.data));
  });

  afterAll(async () => {
    if (server) {
      await client.deleteBot(name).catch(() => undefined);
      await server.kill();
      fs.rmSync(server.home, { recursive: true, force: true });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function berth(args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_MAIN, '--url', server.url, ...args], { env: { ...process.env, BERTH_TOKEN: server.token } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
      child.stdin.end(input);
    });
  }

  /** berth's standard output as bytes, for output that is not text. */
  function berthBytes(args: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_MAIN, '--url', server.url, ...args], { env: { ...process.env, BERTH_TOKEN: server.token } });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`berth ${args.join(' ')} exited ${code}`))));
      child.stdin.end();
    });
  }

  it('keeps a background task running through a kill -9 of the server, then kills it through the API', async () => {
    const n = String(400_000 + Math.floor(Math.random() * 100_000));
    const task = await client.startTask(name, { command: `echo started; sleep ${n} & sleep ${n}` });
    expect(task.status).toBe('running');
    await server.kill('SIGKILL');

    server = await startServer({ home: server.home, token: server.token });
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    // Re-found at start-up: still running, in the container and in the API.
    const after = await client.getTask(name, task.id);
    expect(after).toMatchObject({ id: task.id, status: 'running' });
    expect(after.output?.stdout).toBe('started\n');
    expect((await client.getContainer(name)).tasks).toBe(1);
    const sleepers = async () => Number((await client.exec(name, { command: `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep ${n} *$" || true` })).stdout.trim());
    expect(await sleepers()).toBe(2);

    const killed: Task = await client.killTask(name, task.id);
    expect(killed).toMatchObject({ status: 'killed', exitCode: 137 });
    expect(await sleepers()).toBe(0);
    expect((await client.getContainer(name)).tasks).toBe(0);
  });

  it('berth exec streams output, passes stdin and exits with the command’s exit code', async () => {
    const r = await berth(['exec', name, '--', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 5 });
    expect(await berth(['exec', name, '--sh', 'tr a-z A-Z', '--stdin'], 'piped\n')).toMatchObject({ stdout: 'PIPED\n', code: 0 });
    expect(await berth(['exec', name, '-e', 'X=1', '-w', '/tmp', '--sh', 'echo "$X $(pwd)"'])).toMatchObject({ stdout: '1 /tmp\n', code: 0 });
    const timedOut = await berth(['exec', name, '--timeout', '1', '--', 'sleep', '100']);
    expect(timedOut.code).toBe(137);
    expect(timedOut.stderr).toContain('timed out');
  });

  it('berth tasks starts, lists, shows and kills', async () => {
    const started = JSON.parse((await berth(['--json', 'exec', name, '-d', '--sh', 'echo hi; sleep 100'])).stdout) as Task;
    expect(started.status).toBe('running');
    expect((await berth(['tasks', 'list', name])).stdout).toMatch(new RegExp(`^${started.id}\\s+running`, 'm'));
    const killed = JSON.parse((await berth(['--json', 'tasks', 'kill', name, started.id])).stdout) as Task;
    expect(killed.status).toBe('killed');
    expect((await berth(['tasks', 'get', name, started.id])).stdout).toContain('hi');
  });

  it('berth tasks wait prints the exit code (124 when the time is up first), tasks output prints the raw bytes', async () => {
    const go = `/tmp/go-${randomBytes(3).toString('hex')}`;
    const started = JSON.parse((await berth(['--json', 'exec', name, '-d', '--sh', `printf 'one\\377\\n'; echo two >&2; while [ ! -e ${go} ]; do sleep 1; done; exit 6`])).stdout) as Task;
    const early = await berth(['tasks', 'wait', name, started.id, '--timeout', '0.5']);
    expect(early).toMatchObject({ code: 124, stdout: '' });
    expect(early.stderr).toContain('still running');
    await client.exec(name, { command: ['touch', go] });
    expect(await berth(['tasks', 'wait', name, started.id])).toMatchObject({ code: 0, stdout: '6\n' });
    const raw = await berthBytes(['tasks', 'output', name, started.id]);
    expect(raw.equals(Buffer.from('one\xff\n', 'latin1'))).toBe(true);
    expect(await berth(['tasks', 'output', name, started.id, '--stderr'])).toMatchObject({ code: 0, stdout: 'two\n' });
    expect(await berth(['tasks', 'output', name, started.id, '--offset', '1', '--length', '2'])).toMatchObject({ code: 0, stdout: 'ne' });
    expect((await berth(['tasks', 'wait', name, started.id, '--timeout', '-1'])).code).toBe(125);
  });

  it('berth files mkdir and glob', async () => {
    expect((await berth(['files', 'mkdir', name, 'gl/a/b'])).code).toBe(0);
    await client.exec(name, { command: 'touch /data/gl/a/one.ts /data/gl/a/b/two.ts /data/gl/three.js' });
    expect(await berth(['files', 'glob', name, '**/*.ts', '--path', 'gl'])).toMatchObject({ code: 0, stdout: '/data/gl/a/b/two.ts\n/data/gl/a/one.ts\n' });
    const capped = await berth(['files', 'glob', name, '**', '--path', '/data/gl', '--limit', '1']);
    expect(capped.code).toBe(0);
    expect(capped.stdout).toMatch(/^\/data\/gl\/[^\n]+\n$/);
    expect(capped.stderr).toContain('--limit');
    expect((await berth(['files', 'glob', name, '*', '--limit', '0'])).code).toBe(125);
  });

  it('berth files puts, gets, lists, edits, moves and removes', async () => {
    const local = path.join(tmp, 'local.bin');
    const data = randomBytes(70_000);
    fs.writeFileSync(local, data);
    expect((await berth(['files', 'put', name, 'cli/blob', local, '--mode', '0600'])).code).toBe(0);
    const out = path.join(tmp, 'back.bin');
    expect((await berth(['files', 'get', name, 'cli/blob', '-o', out])).code).toBe(0);
    expect(fs.readFileSync(out).equals(data)).toBe(true);
    expect((await berth(['files', 'put', name, '/data/cli/note.txt', '-'], 'alpha beta\n')).code).toBe(0);
    expect((await berth(['files', 'get', name, '/data/cli/note.txt'])).stdout).toBe('alpha beta\n');
    expect((await berth(['files', 'ls', name, 'cli'])).stdout).toMatch(/^0600 file\s+70000 .* blob$/m);
    expect((await berth(['files', 'edit', name, 'cli/note.txt', '--old', 'beta', '--new', 'gamma'])).code).toBe(0);
    const twice = await berth(['files', 'edit', name, 'cli/note.txt', '--old', 'a', '--new', 'b']);
    expect(twice.code).toBe(125);
    expect(twice.stderr).toContain('edit_no_match');
    expect((await berth(['files', 'mv', name, 'cli/note.txt', 'cli/moved.txt'])).code).toBe(0);
    expect((await berth(['files', 'get', name, 'cli/moved.txt'])).stdout).toBe('alpha gamma\n');
    expect((await berth(['files', 'rm', name, 'cli', '-r'])).code).toBe(0);
    expect((await berth(['files', 'ls', name, 'cli'])).stderr).toContain('file_not_found');
  });
});
