import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { discoverOAuthServerInfo } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
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
    // Progress every 200 ms: the test's client gives up after 1 s without any.
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }), config: { mcpProgressSeconds: 0.2 } });
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
    // As the Inspector does: with the tools listed, the client checks every structured result against its output schema.
    await client.listTools();
    return client;
  }

  const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

  it('lists the bot’s tools with their input schemas', async () => {
    const client = await connect('alpha', own.token);
    expect(client.getServerVersion()?.name).toBe('berth');
    // Nothing can announce a changed list: the server says so.
    expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: false });
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual([
      'delete_file', 'edit_file', 'get_task', 'glob', 'list_files', 'list_tasks', 'make_directory', 'move_file', 'read_file', 'read_task_output',
      'run_command', 'start_container', 'start_task', 'stop_task', 'wait_task', 'write_file',
    ]);
    const run = tools.find((x) => x.name === 'run_command');
    expect(run?.inputSchema.required).toEqual(['command']);
    expect(run?.description).toMatch(/exit code/);
    expect(run?.description).toMatch(/64 KiB/);
    for (const x of tools) expect(x.inputSchema.type, x.name).toBe('object');
  });

  it('runs a command in its own container, by bot name or id, with the bot’s token or the admin’s', async () => {
    const alphaId = ((await (await t.api('GET', '/bots/alpha')).json()) as { id: string }).id;
    for (const [bot, token] of [['alpha', own.token], [alphaId, own.token], ['alpha', TEST_ADMIN_TOKEN]] as const) {
      const client = await connect(bot, token);
      const r = (await client.callTool({ name: 'run_command', arguments: { command: ['echo', 'hello', 'mcp'] } })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent).toEqual({ exitCode: 0, timedOut: false, durationMs: expect.any(Number), stdoutBytes: 10, stderrBytes: 0, stdoutTruncated: false, stderrTruncated: false });
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
    expect(text(invalid)).toMatch(/^validation_failed: .*command/);
    expect(invalid._meta?.['berth/error']).toMatchObject({ code: 'validation_failed' });
    const tooLong = (await client.callTool({ name: 'wait_task', arguments: { taskId: 'task_x', timeoutSeconds: 100_000 } })) as CallToolResult;
    expect(text(tooLong)).toMatch(/^validation_failed: .*timeoutSeconds/);
    const unknown = (await client.callTool({ name: 'no_such_tool', arguments: {} })) as CallToolResult;
    expect(text(unknown)).toMatch(/^validation_failed: .*no_such_tool/);
  });

  it('writes, reads, edits and lists files (the data dir of a stopped container, read from the host)', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    const client = await connect('alpha', own.token);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

    const written = await call('write_file', { path: 'notes/todo.txt', content: 'one\ntwo\ntwo\n', mode: '0600' });
    expect(written.structuredContent).toMatchObject({ path: '/data/notes/todo.txt', size: 12, mode: '0600', type: 'file' });
    expect(fs.readFileSync(path.join(t.home, 'bots', await botId('alpha'), 'data', 'notes', 'todo.txt'), 'utf8')).toBe('one\ntwo\ntwo\n');

    const read = await call('read_file', { path: '/data/notes/todo.txt' });
    // The text once: in the content, not again in structuredContent.
    expect(read.structuredContent).toEqual({ path: '/data/notes/todo.txt', encoding: 'utf8', size: 12, offset: 0, length: 12, truncated: false });
    expect(text(read)).toBe('one\ntwo\ntwo\n');
    const part = await call('read_file', { path: 'notes/todo.txt', offset: 4, length: 3 });
    expect(part.structuredContent).toMatchObject({ offset: 4, length: 3, truncated: true });
    expect(part.content[0]).toEqual({ type: 'text', text: 'two' });
    expect(text(part)).toContain('read on with offset 7');

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
    expect(bin.structuredContent).toMatchObject({ encoding: 'base64' });
    expect(bin.content[0]).toEqual({ type: 'text', text: binary.toString('base64') });

    const listing = await call('list_files', {});
    expect(listing.structuredContent).toEqual({ path: '/data', entries: 2, shown: 2, truncated: false });
    expect(text(listing)).toMatch(/^directory .* notes\/$/m);
    expect(text(listing)).toMatch(/^file +0644 +4 .* bin$/m);

    const outside = await call('read_file', { path: '/data/../etc/passwd' });
    expect(outside.isError).toBe(true);
    const missing = await call('read_file', { path: 'nope.txt' });
    expect(text(missing)).toMatch(/^file_not_found: /);
  });

  it('makes directories, moves, deletes and finds files (the data dir of a stopped container)', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    const client = await connect('alpha', own.token);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

    expect((await call('make_directory', { path: 'src/lib/deep' })).structuredContent).toMatchObject({ path: '/data/src/lib/deep', type: 'directory' });
    // Again: it is there already, which is fine.
    expect((await call('make_directory', { path: 'src/lib/deep' })).isError).toBeFalsy();
    for (const f of ['src/a.ts', 'src/lib/b.ts', 'src/lib/deep/c.ts', 'src/lib/d.js', 'top.ts']) await call('write_file', { path: f, content: f });
    const onFile = await call('make_directory', { path: 'top.ts' });
    expect(text(onFile)).toMatch(/^file_exists: /);

    const found = await call('glob', { pattern: '**/*.ts', path: 'src' });
    expect(found.structuredContent).toEqual({ path: '/data/src', count: 3, truncated: false });
    expect(text(found).split('\n').slice(1)).toEqual(['/data/src/a.ts', '/data/src/lib/b.ts', '/data/src/lib/deep/c.ts']);
    expect(text(await call('glob', { pattern: '*.ts' }))).toContain('/data/top.ts');
    expect((await call('glob', { pattern: '*.{ts,js}', path: 'src/lib' })).structuredContent).toMatchObject({ count: 2 });
    const limited = await call('glob', { pattern: '**', limit: 2 });
    expect(limited.structuredContent).toMatchObject({ count: 2, truncated: true });
    expect(text(await call('glob', { pattern: '../*' }))).toMatch(/^validation_failed: invalid glob pattern/);

    const moved = await call('move_file', { from: 'top.ts', to: 'src/top.ts' });
    expect(moved.structuredContent).toMatchObject({ path: '/data/src/top.ts', type: 'file' });
    expect(text(await call('move_file', { from: 'src/a.ts', to: 'src/top.ts' }))).toMatch(/^file_exists: /);
    expect((await call('move_file', { from: 'src/a.ts', to: 'src/top.ts', overwrite: true })).isError).toBeFalsy();
    expect(text(await call('read_file', { path: 'src/top.ts' }))).toBe('src/a.ts');

    expect(text(await call('delete_file', { path: 'src/lib' }))).toMatch(/^validation_failed: .*not empty/);
    expect((await call('delete_file', { path: 'src/lib', recursive: true })).isError).toBeFalsy();
    expect((await call('delete_file', { path: 'src/top.ts' })).isError).toBeFalsy();
    expect(text(await call('delete_file', { path: 'src/top.ts' }))).toMatch(/^file_not_found: /);
    expect(text(await call('delete_file', { path: '/data', recursive: true }))).toMatch(/^validation_failed: /);
    expect((await call('list_files', { path: 'src' })).structuredContent).toMatchObject({ entries: 0 });
  });

  it('caps a command’s output for the model, keeps its start and end, and sends the text once', async () => {
    const client = await connect('alpha', own.token);
    const input = `START${'x'.repeat(300_000)}END`;
    const r = (await client.callTool({ name: 'run_command', arguments: { command: ['cat'], stdin: input } })) as CallToolResult;
    expect(r.structuredContent).toMatchObject({ exitCode: 0, stdoutBytes: input.length, stdoutTruncated: true, stderrTruncated: false });
    const shown = text(r);
    expect(shown).toMatch(/--- stdout ---\nSTARTx/);
    expect(shown).toMatch(/x+END\n/);
    expect(shown).toContain(`[… ${input.length - 64 * 1024} bytes of stdout left out …]`);
    expect(shown).toMatch(/read_file/);
    // The whole answer is about the cap, not the output.
    expect(JSON.stringify(r).length).toBeLessThan(70 * 1024);
  });

  it('sends progress while a command runs, so a client that waits on progress outlives its timeout', async () => {
    const client = await connect('alpha', own.token);
    const progress: Progress[] = [];
    const r = (await client.callTool({ name: 'run_command', arguments: { command: ['sleep', '2'] } }, undefined, {
      timeout: 1000,
      resetTimeoutOnProgress: true,
      onprogress: (p) => progress.push(p),
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exitCode: 0 });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatchObject({ progress: expect.any(Number), total: 120, message: expect.stringContaining('run_command') });
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
  });

  it('starts its own stopped container, and leaves a running one as it is', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    const client = await connect('alpha', own.token);
    const started = (await client.callTool({ name: 'start_container', arguments: {} })) as CallToolResult;
    expect(started.structuredContent).toMatchObject({ started: true, container: { status: 'running' } });
    expect(((await (await t.api('GET', '/bots/alpha/container')).json()) as { status: string }).status).toBe('running');
    const again = (await client.callTool({ name: 'start_container', arguments: {} })) as CallToolResult;
    expect(again.structuredContent).toMatchObject({ started: false, container: { status: 'running' } });
    expect(text(again)).toMatch(/already running/);

    const beta = await connect('beta', other.token);
    const none = (await beta.callTool({ name: 'start_container', arguments: {} })) as CallToolResult;
    expect(none.isError).toBe(true);
    expect(text(none)).toMatch(/^container_not_found: /);
  });

  it('answers an unauthenticated client 401 with WWW-Authenticate: Bearer, and no OAuth metadata anywhere', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    for (const token of [null, 'berth_bot_wrong']) {
      const res = await t.api('POST', '/bots/alpha/mcp', { token, body: init, headers: { accept: 'application/json, text/event-stream' } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(res.headers.get('www-authenticate')).not.toMatch(/resource_metadata/);
    }
    const fetchFn = (url: string | URL, init?: RequestInit) => Promise.resolve(t.berth.app.request(url.toString(), init));
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/api/v1/bots/alpha/mcp', '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/api/v1/bots/alpha/mcp', '/.well-known/openid-configuration']) {
      const res = await fetchFn(`http://berth.test${p}`);
      expect(res.status, p).toBe(404);
      expect(res.headers.get('content-type'), p).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    // What the official client's OAuth support does after a 401: it finds nothing to start a flow with.
    const info = await discoverOAuthServerInfo('http://berth.test/api/v1/bots/alpha/mcp', { fetchFn });
    expect(info.resourceMetadata).toBeUndefined();
    expect(info.authorizationServerMetadata).toBeUndefined();
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
