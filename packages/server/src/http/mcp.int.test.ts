import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
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
    t = await startTestBerth({ driver: podman.driver });
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
    return client;
  }

  const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

  async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return (await client.callTool({ name, arguments: args })) as CallToolResult;
  }

  it('lists the tools, runs commands, and writes, reads, edits and lists files in the bot’s container', async () => {
    const client = await connect(alpha.name, own.token);
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(['edit_file', 'get_task', 'list_files', 'list_tasks', 'read_file', 'run_command', 'start_task', 'stop_task', 'write_file']);

    const echo = await call(client, 'run_command', { command: ['echo', 'hello from', 'berth'] });
    expect(echo.structuredContent).toMatchObject({ exitCode: 0, stdout: 'hello from berth\n', stderr: '', timedOut: false });
    const shell = await call(client, 'run_command', { command: 'echo "$GREETING" | tr a-z A-Z; echo oops >&2; exit 3', env: { GREETING: 'hi' } });
    expect(shell.structuredContent).toMatchObject({ exitCode: 3, stdout: 'HI\n', stderr: 'oops\n' });
    expect(text(shell)).toContain('exit code 3');

    const written = await call(client, 'write_file', { path: 'src/app.py', content: 'print("one")\nprint("two")\n' });
    expect(written.structuredContent).toMatchObject({ path: '/data/src/app.py', type: 'file', size: 26 });
    // The file is in the container: the container's own tools see it.
    expect((await call(client, 'run_command', { command: 'cat /data/src/app.py' })).structuredContent).toMatchObject({ stdout: 'print("one")\nprint("two")\n' });

    const read = await call(client, 'read_file', { path: '/data/src/app.py' });
    expect(read.structuredContent).toMatchObject({ content: 'print("one")\nprint("two")\n', encoding: 'utf8', truncated: false });
    const part = await call(client, 'read_file', { path: 'src/app.py', offset: 13, length: 12 });
    expect(part.structuredContent).toMatchObject({ content: 'print("two")', truncated: true });

    expect(text(await call(client, 'edit_file', { path: 'src/app.py', oldText: 'print', newText: 'log' }))).toMatch(/^edit_no_match: .*2 times/);
    expect((await call(client, 'edit_file', { path: 'src/app.py', oldText: '"two"', newText: '"three"' })).isError).toBeFalsy();
    expect(text(await call(client, 'read_file', { path: 'src/app.py' }))).toBe('print("one")\nprint("three")\n');

    // Outside the data dir, anywhere in the container's root.
    await call(client, 'write_file', { path: '/tmp/tool.sh', content: '#!/bin/sh\necho tool ran\n', mode: '0755' });
    expect((await call(client, 'run_command', { command: ['/tmp/tool.sh'] })).structuredContent).toMatchObject({ exitCode: 0, stdout: 'tool ran\n' });

    const listing = await call(client, 'list_files', { path: 'src' });
    expect((listing.structuredContent as { entries: unknown[] }).entries).toEqual([expect.objectContaining({ name: 'app.py', type: 'file', mode: '0644' })]);
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
    const got = (await call(client, 'get_task', { taskId: task.id })).structuredContent as { task: Task };
    expect(got.task).toMatchObject({ status: 'killed', output: { stdout: 'started\n' } });
    expect((await expectJson<Container>(t.api('GET', `/bots/${alpha.id}/container`), 200)).tasks).toBe(0);
  });

  it('kills a running command when the agent goes away', async () => {
    const watcher = await connect(alpha.name, own.token);
    const marker = `${300 + Math.floor(Math.random() * 600)}`;
    const count = async () => {
      const script = `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep ${marker} *$" || true`;
      return ((await call(watcher, 'run_command', { command: script })).structuredContent as ExecResult).stdout.trim();
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
