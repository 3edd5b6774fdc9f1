import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Bot, ExecResult, IssuedBotToken, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { until as untilWithin } from '../testing/wait.js';

/** Generous: revocation must end a stream "within a second"; the deadline only catches one that never ends. */
const DEADLINE_MS = 10_000;
const until = (what: string, check: () => boolean | Promise<boolean>) => untilWithin(what, check, DEADLINE_MS);

/** A terminal as a client sees it: its output, the control messages, and how it closed. */
class TerminalClient {
  readonly ws: WebSocket;
  output = '';
  readonly messages: unknown[] = [];
  close: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;

  /** Every client made, so that a failing test still closes them all. */
  static readonly all: TerminalClient[] = [];

  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers });
    TerminalClient.all.push(this);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) this.output += Buffer.from(data as Buffer).toString('utf8');
      else this.messages.push(JSON.parse(String(data)));
    });
    this.ws.once('close', (code, reason) => (this.close = { code, reason: reason.toString() }));
  }

  type(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(Buffer.from(text), { binary: true });
  }
}

/** Reads a streamed response body into text until it ends; `ended` tells whether it has. */
function drain(res: Response): { text: () => string; ended: () => boolean } {
  let text = '';
  let ended = false;
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString('utf8');
    } catch {
      // A stream cut off ends too.
    }
    ended = true;
  })();
  return { text: () => text, ended: () => ended };
}

/**
 * Revocation on a real server and the real engine: revoking a bot token, or logging a web session
 * out, ends the terminals, MCP streams and SSE streams opened with it, and what they were running.
 */
describe('revocation ends open streams', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  let server: Server;
  let base: string;
  let bot: Bot;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: t.berth.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as Server)) as Server;
    });
    t.berth.webSockets.inject(server);
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `revoke-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
  });

  afterAll(async () => {
    for (const term of TerminalClient.all) term.ws.terminate();
    if (server) {
      // Streams a failed test left open would hold close() forever.
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await closeTestBerth(t);
    await podman?.close();
  });

  const issue = (name: string) => expectJson<IssuedBotToken>(t.api('POST', `/bots/${bot.id}/tokens`, { body: { name } }), 201);
  const revoke = async (token: IssuedBotToken) => expect((await t.api('DELETE', `/bots/${bot.id}/tokens/${token.id}`)).status).toBe(204);
  /** Whether a file exists in the container, asked with the admin token. */
  const exists = async (file: string) => {
    const r = await expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['sh', '-c', `test -e ${file} && echo yes || echo no`] } }), 200);
    return r.stdout.trim() === 'yes';
  };
  const processGone = async (pid: string) => !(await exists(`/proc/${pid}`));
  const login = async () => {
    const res = await fetch(`http://${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TEST_ADMIN_TOKEN }) });
    expect(res.status).toBe(200);
    return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  };

  it('closes a terminal opened with a bot token when the token is revoked; nothing typed after it runs', async () => {
    const token = await issue('term');
    const term = new TerminalClient(`ws://${base}/api/v1/bots/${bot.id}/terminal`, { authorization: `Bearer ${token.token}` });
    await term.opened;
    term.type('echo "pid=$$"\n');
    await until('the shell shows its pid', () => /pid=\d+/.test(term.output));
    const pid = /pid=(\d+)/.exec(term.output)?.[1] ?? '';

    await revoke(token);
    term.type('touch /tmp/typed-after-revoke\n');
    await until('the terminal is closed', () => term.close !== null);
    expect(term.close).toEqual({ code: 4001, reason: 'access revoked' });
    expect(term.messages).toEqual([{ type: 'exit', code: null, reason: 'revoked' }]);
    await until('the shell is gone', () => processGone(pid));
    expect(await exists('/tmp/typed-after-revoke')).toBe(false);
    // And it cannot be opened again.
    await expect(new TerminalClient(`ws://${base}/api/v1/bots/${bot.id}/terminal`, { authorization: `Bearer ${token.token}` }).opened).rejects.toThrow('HTTP 401');
  });

  it('leaves the terminals of the bot’s other tokens and of the admin open', async () => {
    const revoked = await issue('revoked');
    const kept = await issue('kept');
    const open = async (authorization: string) => {
      const term = new TerminalClient(`ws://${base}/api/v1/bots/${bot.id}/terminal`, { authorization });
      await term.opened;
      return term;
    };
    const gone = await open(`Bearer ${revoked.token}`);
    const other = await open(`Bearer ${kept.token}`);
    const admin = await open(`Bearer ${TEST_ADMIN_TOKEN}`);
    await revoke(revoked);
    await until('the revoked token’s terminal is closed', () => gone.close !== null);
    for (const term of [other, admin]) {
      term.type('echo "still-$((40 + 2))"\n');
      await until('the terminal answers', () => term.output.includes('still-42'));
      expect(term.close).toBeNull();
      term.ws.close();
    }
    await revoke(kept);
  });

  it('ends an SSE exec stream opened with a bot token, and the command behind it', async () => {
    const token = await issue('sse');
    const res = await fetch(`http://${base}/api/v1/bots/${bot.id}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo started; sleep 3; touch /tmp/sse-after-revoke; sleep 600' }),
    });
    expect(res.status).toBe(200);
    const stream = drain(res);
    await until('the command has started', () => stream.text().includes('started'));
    const revokedAt = Date.now();
    await revoke(token);
    await until('the stream has ended', () => stream.ended());
    expect(stream.text()).not.toContain('event: exit');
    // Past the time the command would have reached its next step, it has not.
    await new Promise((r) => setTimeout(r, Math.max(0, revokedAt + 4_000 - Date.now())));
    expect(await exists('/tmp/sse-after-revoke')).toBe(false);
  });

  it('ends a buffered exec run with a bot token, and its command, when the token is revoked', async () => {
    const token = await issue('buffered');
    const answer = fetch(`http://${base}/api/v1/bots/${bot.id}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'sleep 30; echo done > /tmp/buffered-after-revoke', timeoutSeconds: 120 }),
    }).then(
      async (res) => ({ status: res.status, text: await res.text().catch(() => '') }),
      () => ({ status: 0, text: '' }),
    );
    let settled = false;
    void answer.finally(() => (settled = true));
    await until('the command runs', async () => {
      const r = await expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['sh', '-c', 'ps | grep -c "[b]uffered-after-revoke"'] } }), 200);
      return Number(r.stdout.trim()) > 0;
    });
    await revoke(token);
    // Ended long before the command's 30 s, with no result: the connection is cut.
    await until('the request has ended', () => settled);
    expect(await answer).toEqual({ status: 0, text: '' });
    await until('the command is gone', async () => {
      const r = await expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['sh', '-c', 'ps | grep -c "[b]uffered-after-revoke"'] } }), 200);
      return r.stdout.trim() === '0';
    });
    expect(await exists('/tmp/buffered-after-revoke')).toBe(false);
  });

  it('ends an MCP stream opened with a bot token, and the tool call it was running', async () => {
    const token = await issue('mcp');
    const mcp = (id: number, method: string, params: unknown) =>
      fetch(`http://${base}/api/v1/bots/${bot.id}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      });
    const init = await mcp(1, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'revocation-test', version: '1' } });
    expect(init.status).toBe(200);
    await init.text();

    const res = await mcp(2, 'tools/call', { name: 'run_command', arguments: { command: 'sleep 3; touch /tmp/mcp-after-revoke; sleep 600', timeoutSeconds: 900 } });
    expect(res.status).toBe(200);
    const stream = drain(res);
    // The call is running once its shell is in the container.
    await until('the tool call runs', async () => {
      const r = await expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['sh', '-c', 'ps | grep -c "[m]cp-after-revoke"'] } }), 200);
      return Number(r.stdout.trim()) > 0;
    });
    const revokedAt = Date.now();
    await revoke(token);
    await until('the MCP stream has ended', () => stream.ended());
    expect(stream.text()).not.toContain('"id":2');
    await new Promise((r) => setTimeout(r, Math.max(0, revokedAt + 4_000 - Date.now())));
    expect(await exists('/tmp/mcp-after-revoke')).toBe(false);
    expect((await mcp(3, 'tools/list', {})).status).toBe(401);
  });

  it('ends the terminal and the event stream of a web session when it logs out', async () => {
    const cookie = await login();
    const origin = `http://${base}`;
    const term = new TerminalClient(`ws://${base}/api/v1/bots/${bot.id}/terminal`, { cookie, origin });
    await term.opened;
    const events = await fetch(`${origin}/api/v1/events`, { headers: { cookie, accept: 'text/event-stream' } });
    expect(events.status).toBe(200);
    const stream = drain(events);
    await until('the event stream is ready', () => stream.text().includes('event: ready'));
    // Another session's streams stay.
    const otherCookie = await login();
    const other = drain(await fetch(`${origin}/api/v1/events`, { headers: { cookie: otherCookie, accept: 'text/event-stream' } }));
    await until('the other event stream is ready', () => other.text().includes('event: ready'));

    const out = await fetch(`${origin}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-berth': '1' } });
    expect(out.status).toBe(204);
    await until('the terminal is closed', () => term.close !== null);
    expect(term.close?.code).toBe(4001);
    await until('the event stream has ended', () => stream.ended());
    expect((await fetch(`${origin}/api/v1/bots`, { headers: { cookie } })).status).toBe(401);
    expect(other.ended()).toBe(false);
    expect((await fetch(`${origin}/api/v1/session`, { method: 'DELETE', headers: { cookie: otherCookie, 'x-berth': '1' } })).status).toBe(204);
    await until('the other event stream has ended', () => other.ended());
  });

  it('closes the terminals of a bot’s tokens when the bot is deleted', async () => {
    const doomed = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `revoke-gone-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${doomed.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const token = await expectJson<IssuedBotToken>(t.api('POST', `/bots/${doomed.id}/tokens`, { body: { name: 'x' } }), 201);
    const term = new TerminalClient(`ws://${base}/api/v1/bots/${doomed.id}/terminal`, { authorization: `Bearer ${token.token}` });
    await term.opened;
    expect((await t.api('DELETE', `/bots/${doomed.id}`)).status).toBe(204);
    await until('the terminal is closed', () => term.close !== null);
    // Closed as revoked when the delete began, not as a shell that died with its container.
    expect(term.messages).toEqual([{ type: 'exit', code: null, reason: 'revoked' }]);
  });
});
