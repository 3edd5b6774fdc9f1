import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Bot, Container, ExecResult, IssuedBotToken, Operation, Task } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';

/**
 * A bot's MCP endpoint and its token on the real Podman engine, over real HTTP: the official MCP
 * client, as an agent would use it, and the token's reach checked against a real container.
 */
describe('MCP endpoint and bot tokens on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  let server: ServerType;
  let url: string;
  const run = randomBytes(3).toString('hex');
  let alpha: Bot;
  let own: IssuedBotToken;
  let other: IssuedBotToken;
  const clients: Client[] = [];

  beforeAll(async () => {
    podman = await realPodman();
    // Progress every second: the progress test's client gives up after 3 s without any.
    t = await startTestBerth({ driver: podman.driver, config: { mcpProgressSeconds: 1 } });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.berth.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    t.berth.webSockets.inject(server as Server);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    alpha = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `mcp-a-${run}`, image: TEST_IMAGE } }), 201);
    await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `mcp-b-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${alpha.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    own = await expectJson<IssuedBotToken>(t.api('POST', `/bots/${alpha.id}/tokens`, { body: { name: 'agent' } }), 201);
    other = await expectJson<IssuedBotToken>(t.api('POST', `/bots/mcp-b-${run}/tokens`, { body: { name: 'agent' } }), 201);
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    if (server) await new Promise((resolve) => server.close(resolve));
    await closeTestBerth(t);
    await podman?.close();
  });

  async function connect(bot: string, token: string): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/api/v1/bots/${bot}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    const client = new Client({ name: 'berth-int-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    // As the Inspector does: with the tools listed, the client checks every structured result against its output schema.
    await client.listTools();
    return client;
  }

  const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  /** One stream as run_command shows it (without the newline that ends it). */
  const section = (r: CallToolResult, name: 'stdout' | 'stderr'): string => {
    const all = text(r);
    const head = `--- ${name} ---\n`;
    const start = all.indexOf(head);
    if (start < 0) return '';
    const body = all.slice(start + head.length);
    const ends = ['\n--- std', '\n[stdout was', '\n[stderr was'].map((m) => body.indexOf(m)).filter((i) => i >= 0);
    return ends.length > 0 ? body.slice(0, Math.min(...ends)) : body;
  };

  async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return (await client.callTool({ name, arguments: args })) as CallToolResult;
  }

  it('lists the tools, runs commands, and writes, reads, edits and lists files in the bot’s container', async () => {
    const client = await connect(alpha.name, own.token);
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual([
      'delete_file', 'edit_file', 'get_task', 'glob', 'list_files', 'list_tasks', 'make_directory', 'move_file', 'read_file', 'read_task_output',
      'run_command', 'start_container', 'start_task', 'stop_task', 'wait_task', 'write_file',
    ]);

    const echo = await call(client, 'run_command', { command: ['echo', 'hello from', 'berth'] });
    expect(echo.structuredContent).toMatchObject({ exitCode: 0, stdoutBytes: 17, stderrBytes: 0, timedOut: false });
    expect(section(echo, 'stdout')).toBe('hello from berth');
    const shell = await call(client, 'run_command', { command: 'echo "$GREETING" | tr a-z A-Z; echo oops >&2; exit 3', env: { GREETING: 'hi' } });
    expect(shell.structuredContent).toMatchObject({ exitCode: 3, stdoutBytes: 3, stderrBytes: 5 });
    expect(section(shell, 'stdout')).toBe('HI');
    expect(section(shell, 'stderr')).toBe('oops');
    expect(text(shell)).toContain('exit code 3');

    const written = await call(client, 'write_file', { path: 'src/app.py', content: 'print("one")\nprint("two")\n' });
    expect(written.structuredContent).toMatchObject({ path: '/data/src/app.py', type: 'file', size: 26 });
    // The file is in the container: the container's own tools see it.
    expect(section(await call(client, 'run_command', { command: 'cat /data/src/app.py' }), 'stdout')).toBe('print("one")\nprint("two")');

    const read = await call(client, 'read_file', { path: '/data/src/app.py' });
    expect(read.structuredContent).toMatchObject({ encoding: 'utf8', truncated: false, size: 26 });
    expect(text(read)).toBe('print("one")\nprint("two")\n');
    const part = await call(client, 'read_file', { path: 'src/app.py', offset: 13, length: 12 });
    expect(part.structuredContent).toMatchObject({ length: 12, truncated: true });
    expect(part.content[0]).toEqual({ type: 'text', text: 'print("two")' });

    expect(text(await call(client, 'edit_file', { path: 'src/app.py', oldText: 'print', newText: 'log' }))).toMatch(/^edit_no_match: .*2 times/);
    expect((await call(client, 'edit_file', { path: 'src/app.py', oldText: '"two"', newText: '"three"' })).isError).toBeFalsy();
    expect(text(await call(client, 'read_file', { path: 'src/app.py' }))).toBe('print("one")\nprint("three")\n');

    // Outside the data dir, anywhere in the container's root.
    await call(client, 'write_file', { path: '/tmp/tool.sh', content: '#!/bin/sh\necho tool ran\n', mode: '0755' });
    const tool = await call(client, 'run_command', { command: ['/tmp/tool.sh'] });
    expect(tool.structuredContent).toMatchObject({ exitCode: 0 });
    expect(section(tool, 'stdout')).toBe('tool ran');

    const listing = await call(client, 'list_files', { path: 'src' });
    expect(listing.structuredContent).toMatchObject({ entries: 1, truncated: false });
    expect(text(listing)).toMatch(/^file +0644 +28 .* app\.py$/m);
  });

  it('makes directories, finds, moves and deletes files inside the container', async () => {
    const client = await connect(alpha.name, own.token);
    expect((await call(client, 'make_directory', { path: '/srv/work/a/b' })).structuredContent).toMatchObject({ path: '/srv/work/a/b', type: 'directory' });
    expect((await call(client, 'make_directory', { path: '/srv/work/a/b' })).isError).toBeFalsy();
    const made = await call(client, 'run_command', {
      command: 'cd /srv/work && touch a/x.ts a/b/y.ts a/b/z.js .hidden.ts "a/new\nline.ts" && ln -s /etc a/etc-link && echo done',
    });
    expect(section(made, 'stdout')).toBe('done');
    expect(text(await call(client, 'make_directory', { path: '/srv/work/a/x.ts' }))).toMatch(/^file_exists: /);

    const ts = await call(client, 'glob', { pattern: '**/*.ts', path: '/srv/work' });
    expect(ts.structuredContent).toEqual({ path: '/srv/work', count: 4, truncated: false });
    expect(text(ts).split('\n').slice(1)).toEqual(['/srv/work/.hidden.ts', '/srv/work/a/b/y.ts', '/srv/work/a/new', 'line.ts', '/srv/work/a/x.ts']);
    // Symlinks are not followed: nothing of /etc shows up.
    expect((await call(client, 'glob', { pattern: 'a/etc-link/*', path: '/srv/work' })).structuredContent).toMatchObject({ count: 0 });
    expect((await call(client, 'glob', { pattern: 'a/*/*.{js,ts}', path: '/srv/work' })).structuredContent).toMatchObject({ count: 2 });
    expect((await call(client, 'glob', { pattern: '**', path: '/srv/work', limit: 3 })).structuredContent).toMatchObject({ count: 3, truncated: true });
    expect(text(await call(client, 'glob', { pattern: '*', path: '/srv/work/a/x.ts' }))).toMatch(/^validation_failed: .*not a directory/);
    expect(text(await call(client, 'glob', { pattern: '*', path: '/srv/nope' }))).toMatch(/^file_not_found: /);

    expect((await call(client, 'move_file', { from: '/srv/work/a/x.ts', to: '/srv/work/moved/x.ts' })).structuredContent).toMatchObject({ path: '/srv/work/moved/x.ts', type: 'file' });
    expect(text(await call(client, 'move_file', { from: '/srv/work/a/b/y.ts', to: '/srv/work/moved/x.ts' }))).toMatch(/^file_exists: /);
    expect((await call(client, 'move_file', { from: '/srv/work/a/b/y.ts', to: '/srv/work/moved/x.ts', overwrite: true })).isError).toBeFalsy();

    expect(text(await call(client, 'delete_file', { path: '/srv/work/a' }))).toMatch(/^validation_failed: .*not empty/);
    expect((await call(client, 'delete_file', { path: '/srv/work/a', recursive: true })).isError).toBeFalsy();
    // The symlink went, not what it pointed to.
    expect((await call(client, 'list_files', { path: '/etc' })).isError).toBeFalsy();
    const left = await call(client, 'glob', { pattern: '**', path: '/srv/work' });
    expect(text(left).split('\n').slice(1)).toEqual(['/srv/work/.hidden.ts', '/srv/work/moved', '/srv/work/moved/x.ts']);
  });

  it('sends progress while a command runs longer than the client’s timeout, which then keeps waiting', async () => {
    const client = await connect(alpha.name, own.token);
    const progress: Progress[] = [];
    const r = await client.callTool({ name: 'run_command', arguments: { command: 'sleep 6; echo slept' } }, undefined, {
      timeout: 3000,
      resetTimeoutOnProgress: true,
      onprogress: (p) => progress.push(p),
    });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exitCode: 0, timedOut: false });
    expect(section(r as CallToolResult, 'stdout')).toBe('slept');
    expect(progress.length).toBeGreaterThanOrEqual(1);
  });

  it('caps a command’s output for the model and sends it once', async () => {
    const client = await connect(alpha.name, own.token);
    // About 3 MB: lines numbered from 1 to 400000.
    const r = await call(client, 'run_command', { command: 'seq 1 400000' });
    const bytes = (r.structuredContent as { stdoutBytes: number }).stdoutBytes;
    expect(bytes).toBeGreaterThan(2_000_000);
    expect(r.structuredContent).toMatchObject({ exitCode: 0, stdoutTruncated: true, stderrTruncated: false });
    expect(section(r, 'stdout')).toMatch(/^1\n2\n3\n/);
    expect(section(r, 'stdout')).toMatch(/\n399999\n400000$/);
    expect(text(r)).toMatch(/bytes of stdout left out/);
    // The text once, about 64 KiB; the structured part only sizes and flags.
    expect(text(r).length).toBeLessThan(66 * 1024);
    expect(JSON.stringify(r.structuredContent).length).toBeLessThan(512);
  });

  it('waits for a task with progress, and reads all of its output in parts', async () => {
    const client = await connect(alpha.name, own.token);
    const started = await call(client, 'start_task', { command: 'sleep 2; seq 1 30000; echo warn >&2' });
    const { task } = started.structuredContent as { task: Task };

    const early = await call(client, 'wait_task', { taskId: task.id, timeoutSeconds: 0.5 });
    expect(early.structuredContent).toMatchObject({ task: { id: task.id, status: 'running' } });
    expect(text(early)).toMatch(/still running after 0.5 s/);

    const progress: Progress[] = [];
    const done = (await client.callTool({ name: 'wait_task', arguments: { taskId: task.id, timeoutSeconds: 60, tailBytes: 100 } }, undefined, {
      timeout: 30_000,
      resetTimeoutOnProgress: true,
      onprogress: (p) => progress.push(p),
    })) as CallToolResult;
    const size = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('').length;
    expect(done.structuredContent).toMatchObject({ task: { status: 'exited', exitCode: 0 }, stdoutBytes: size, stderrBytes: 5 });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(text(done)).toMatch(/29999\n30000/);
    expect(text(done)).not.toMatch(/^1\n/m);

    // Paged, the parts make up the whole output.
    let all = '';
    for (let offset = 0, more = true; more; ) {
      const part = await call(client, 'read_task_output', { taskId: task.id, offset, length: 50_000 });
      const s = part.structuredContent as { length: number; size: number; more: boolean; encoding: string };
      expect(s).toMatchObject({ size, encoding: 'utf8' });
      all += (part.content[0] as { text: string }).text;
      offset += s.length;
      more = s.more;
    }
    expect(all).toBe(Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join(''));
    const err = await call(client, 'read_task_output', { taskId: task.id, stream: 'stderr' });
    expect(err.structuredContent).toMatchObject({ stream: 'stderr', size: 5, length: 5, more: false });
    expect(err.content[0]).toEqual({ type: 'text', text: 'warn\n' });
    const past = await call(client, 'read_task_output', { taskId: task.id, offset: size + 10 });
    expect(past.structuredContent).toMatchObject({ length: 0, more: false });
    expect(text(await call(client, 'read_task_output', { taskId: 'task_nope' }))).toMatch(/^task_not_found: /);
  });

  it('starts, lists, follows and stops a background task', async () => {
    const client = await connect(alpha.id, own.token);
    const started = await call(client, 'start_task', { command: 'echo started; sleep 300' });
    const task = (started.structuredContent as { task: Task }).task;
    expect(task).toMatchObject({ status: 'running', botId: alpha.id });
    expect(((await call(client, 'list_tasks', {})).structuredContent as { tasks: Task[] }).tasks.map((x) => x.id)).toContain(task.id);
    expect((await expectJson<Container>(t.api('GET', `/bots/${alpha.id}/container`), 200)).tasks).toBe(1);

    const stopped = await call(client, 'stop_task', { taskId: task.id });
    expect((stopped.structuredContent as { task: Task }).task.status).toBe('killed');
    const got = await call(client, 'get_task', { taskId: task.id });
    expect(got.structuredContent).toMatchObject({ task: { status: 'killed' }, stdoutBytes: 8, stderrBytes: 0 });
    expect(text(got)).toMatch(/--- stdout ---\nstarted$/);
    expect((await expectJson<Container>(t.api('GET', `/bots/${alpha.id}/container`), 200)).tasks).toBe(0);
  });

  it('kills a running command when the agent goes away', async () => {
    const watcher = await connect(alpha.name, own.token);
    const marker = `${300 + Math.floor(Math.random() * 600)}`;
    const count = async () => {
      const script = `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep ${marker} *$" || true`;
      return section(await call(watcher, 'run_command', { command: script }), 'stdout').trim();
    };
    const agent = await connect(alpha.name, own.token);
    const pending = agent.callTool({ name: 'run_command', arguments: { command: ['sleep', marker] } }).catch((err: unknown) => err);
    await until(async () => (await count()) === '1');
    // The agent disconnects (it crashed, or it closed its client) while the command runs.
    await agent.close();
    expect(await pending).toBeInstanceOf(Error);
    await until(async () => (await count()) === '0');
    expect(await count()).toBe('0');
  });

  /** Waits for something the engine does on its own schedule; the assertion that follows says what. */
  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100));
  }

  it('starts its own stopped container with a bot token, which still may not stop or delete it', async () => {
    expect((await t.api('POST', `/bots/${alpha.id}/container/stop`, { body: {} })).status).toBe(200);
    const client = await connect(alpha.name, own.token);
    expect(text(await call(client, 'run_command', { command: 'true' }))).toMatch(/^container_not_running: /);
    const progress: Progress[] = [];
    const started = (await client.callTool({ name: 'start_container', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) })) as CallToolResult;
    expect(started.structuredContent).toMatchObject({ started: true, container: { status: 'running' } });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(section(await call(client, 'run_command', { command: 'echo back' }), 'stdout')).toBe('back');
    expect((await call(client, 'start_container', {})).structuredContent).toMatchObject({ started: false });
    expect((await t.api('POST', `/bots/${alpha.id}/container/stop`, { token: own.token, body: {} })).status).toBe(403);
    expect((await t.api('DELETE', `/bots/${alpha.id}/container`, { token: own.token })).status).toBe(403);
    expect((await expectJson<Container>(t.api('GET', `/bots/${alpha.id}/container`, { token: own.token }), 200)).status).toBe('running');
  });

  it('refuses another bot’s token; a bot token reaches only its own bot’s tools', async () => {
    await expect(connect(alpha.name, other.token)).rejects.toThrow(/forbidden/);

    const exec = (token: string) => t.api('POST', `/bots/${alpha.id}/exec`, { token, body: { command: ['echo', 'ok'] } });
    expect((await expectJson<ExecResult>(exec(own.token), 200)).stdout).toBe('ok\n');
    expect((await expectJson<{ error: { code: string } }>(exec(other.token), 403)).error.code).toBe('forbidden');
    // Its own container's life cycle is the admin's: the container keeps running.
    expect((await t.api('POST', `/bots/${alpha.id}/container/stop`, { token: own.token, body: {} })).status).toBe(403);
    expect((await t.api('DELETE', `/bots/${alpha.id}/container`, { token: own.token })).status).toBe(403);
    expect((await expectJson<Container>(t.api('GET', `/bots/${alpha.id}/container`, { token: own.token }), 200)).status).toBe('running');

    const spare = await expectJson<IssuedBotToken>(t.api('POST', `/bots/${alpha.id}/tokens`, { body: { name: 'spare' } }), 201);
    expect((await exec(spare.token)).status).toBe(200);
    expect((await t.api('DELETE', `/bots/${alpha.id}/tokens/${spare.id}`)).status).toBe(204);
    expect((await exec(spare.token)).status).toBe(401);
    await expect(connect(alpha.name, spare.token)).rejects.toThrow(/unauthorized|Unauthorized/);
    await expect(connect(alpha.name, TEST_ADMIN_TOKEN)).resolves.toBeDefined();
  });

  it('opens its own bot’s terminal with a bot token, and no other bot’s', async () => {
    const open = (bot: string, token: string) =>
      new Promise<{ ws: WebSocket; output: () => string }>((resolve, reject) => {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/bots/${bot}/terminal`, { headers: { authorization: `Bearer ${token}` } });
        let output = '';
        ws.on('message', (data, isBinary) => {
          if (isBinary) output += Buffer.from(data as Buffer).toString('utf8');
        });
        ws.once('open', () => resolve({ ws, output: () => output }));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('error', reject);
      });
    await expect(open(alpha.name, other.token)).rejects.toThrow('HTTP 403');
    await expect(open(`mcp-b-${run}`, own.token)).rejects.toThrow('HTTP 403');

    const term = await open(alpha.name, own.token);
    term.ws.send(Buffer.from('echo "term-$((6 * 7))"\n'), { binary: true });
    await until(() => Promise.resolve(term.output().includes('term-42')));
    expect(term.output()).toContain('term-42');
    term.ws.close();
  });
});
