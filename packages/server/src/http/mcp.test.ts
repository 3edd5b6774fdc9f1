import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IssuedBotToken } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

/** The MCP endpoint over the fake driver, reached by the official MCP client through the app in-process. */
describe('MCP endpoint', () => {
  let t: TestBerth;
  let own: IssuedBotToken;
  let other: IssuedBotToken;
  const clients: Client[] = [];

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    for (const name of ['alpha', 'beta']) expect((await t.api('POST', '/bots', { body: { name } })).status).toBe(201);
    const res = await t.api('POST', '/bots/alpha/container', { body: {} });
    await t.berth.operations.settled(((await res.json()) as { operation: { id: string } }).operation.id);
    own = (await (await t.api('POST', '/bots/alpha/tokens', { body: { name: 'own' } })).json()) as IssuedBotToken;
    other = (await (await t.api('POST', '/bots/beta/tokens', { body: { name: 'other' } })).json()) as IssuedBotToken;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t.close();
  });

  async function connect(bot: string, token: string): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`http://berth.test/api/v1/bots/${bot}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: (url, init) => Promise.resolve(t.berth.app.request(url.toString(), init)),
    });
    const client = new Client({ name: 'berth-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

  it('lists the bot’s tools with their input schemas', async () => {
    const client = await connect('alpha', own.token);
    expect(client.getServerVersion()?.name).toBe('berth');
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(expect.arrayContaining(['get_task', 'list_tasks', 'run_command', 'start_task', 'stop_task']));
    const run = tools.find((x) => x.name === 'run_command');
    expect(run?.inputSchema.required).toEqual(['command']);
    expect(run?.description).toMatch(/exit code/);
  });

  it('runs a command in its own container, by bot name or id, with the bot’s token or the admin’s', async () => {
    const alphaId = ((await (await t.api('GET', '/bots/alpha')).json()) as { id: string }).id;
    for (const [bot, token] of [['alpha', own.token], [alphaId, own.token], ['alpha', TEST_ADMIN_TOKEN]] as const) {
      const client = await connect(bot, token);
      const r = (await client.callTool({ name: 'run_command', arguments: { command: ['echo', 'hello', 'mcp'] } })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent).toMatchObject({ exitCode: 0, stdout: 'hello mcp\n', timedOut: false });
      expect(text(r)).toContain('exit code 0');
      expect(text(r)).toContain('hello mcp');
    }
  });

  it('answers Berth’s error code as a tool error', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    const client = await connect('alpha', own.token);
    const r = (await client.callTool({ name: 'run_command', arguments: { command: 'echo hi' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^container_not_running: /);
    expect(r._meta?.['berth/error']).toMatchObject({ code: 'container_not_running' });

    const missing = (await client.callTool({ name: 'get_task', arguments: { taskId: 'task_nope' } })) as CallToolResult;
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/^task_not_found: /);

    const invalid = (await client.callTool({ name: 'run_command', arguments: { command: 42 } })) as CallToolResult;
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toMatch(/command/);
  });

  it('writes, reads, edits and lists files (the data dir of a stopped container, read from the host)', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    const client = await connect('alpha', own.token);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

    const written = await call('write_file', { path: 'notes/todo.txt', content: 'one\ntwo\ntwo\n', mode: '0600' });
    expect(written.structuredContent).toMatchObject({ path: '/data/notes/todo.txt', size: 12, mode: '0600', type: 'file' });
    expect(fs.readFileSync(path.join(t.home, 'bots', await botId('alpha'), 'data', 'notes', 'todo.txt'), 'utf8')).toBe('one\ntwo\ntwo\n');

    const read = await call('read_file', { path: '/data/notes/todo.txt' });
    expect(read.structuredContent).toMatchObject({ content: 'one\ntwo\ntwo\n', encoding: 'utf8', size: 12, truncated: false });
    expect(text(read)).toBe('one\ntwo\ntwo\n');
    const part = await call('read_file', { path: 'notes/todo.txt', offset: 4, length: 3 });
    expect(part.structuredContent).toMatchObject({ content: 'two', offset: 4, length: 3, truncated: true });

    const twice = await call('edit_file', { path: 'notes/todo.txt', oldText: 'two', newText: '2' });
    expect(twice.isError).toBe(true);
    expect(text(twice)).toMatch(/^edit_no_match: .*2 times/);
    expect(twice._meta?.['berth/error']).toMatchObject({ details: { occurrences: 2 } });
    const once = await call('edit_file', { path: 'notes/todo.txt', oldText: 'two\ntwo', newText: 'two\nthree' });
    expect(once.structuredContent).toMatchObject({ replacements: 1 });
    expect(text(await call('read_file', { path: 'notes/todo.txt' }))).toBe('one\ntwo\nthree\n');

    const binary = Buffer.from([0, 255, 1, 254]);
    await call('write_file', { path: 'bin', content: binary.toString('base64'), encoding: 'base64' });
    const bin = await call('read_file', { path: 'bin' });
    expect(bin.structuredContent).toMatchObject({ encoding: 'base64', content: binary.toString('base64') });

    const listing = await call('list_files', {});
    expect(listing.structuredContent).toMatchObject({ path: '/data' });
    expect((listing.structuredContent as { entries: { name: string; type: string }[] }).entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'notes', type: 'directory' }), expect.objectContaining({ name: 'bin', type: 'file', size: 4 })]),
    );
    expect(text(listing)).toContain('notes/');

    const outside = await call('read_file', { path: '/data/../etc/passwd' });
    expect(outside.isError).toBe(true);
    const missing = await call('read_file', { path: 'nope.txt' });
    expect(text(missing)).toMatch(/^file_not_found: /);
  });

  async function botId(name: string): Promise<string> {
    return ((await (await t.api('GET', `/bots/${name}`)).json()) as { id: string }).id;
  }

  it('refuses another bot’s token, an unknown bot, and a foreign browser origin', async () => {
    await expect(connect('alpha', other.token)).rejects.toThrow(/403|forbidden/);
    await expect(connect('no-such-bot', other.token)).rejects.toThrow(/403|forbidden/);
    await expect(connect('alpha', 'berth_bot_wrong')).rejects.toThrow(/401|unauthorized/);
    await expect(connect('no-such-bot', TEST_ADMIN_TOKEN)).rejects.toThrow(/404|bot_not_found/);

    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const headers = { accept: 'application/json, text/event-stream', origin: 'http://evil.example' };
    const res = await t.api('POST', '/bots/alpha/mcp', { token: own.token, body: init, headers });
    expect(res.status).toBe(403);
  });

  it('is stateless: GET and DELETE answer 405 with Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await t.api(method, '/bots/alpha/mcp', { token: own.token, headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('closes its server when the transport fails to answer', async () => {
    const failing = vi.spyOn(WebStandardStreamableHTTPServerTransport.prototype, 'handleRequest').mockRejectedValueOnce(new Error('the transport failed'));
    const closing = vi.spyOn(WebStandardStreamableHTTPServerTransport.prototype, 'close');
    try {
      const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
      const res = await t.api('POST', '/bots/alpha/mcp', { token: own.token, body: init, headers: { accept: 'application/json, text/event-stream' } });
      expect(res.status).toBe(500);
      expect(closing).toHaveBeenCalledTimes(1);
    } finally {
      failing.mockRestore();
      closing.mockRestore();
    }
  });
});
