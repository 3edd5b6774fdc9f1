import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Bot, Operation } from '@berth/contract';
import { TEST_ADMIN_TOKEN, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';

const WORKSPACE_IMAGE = 'localhost/berth/workspace:bookworm';

interface Listening {
  t: TestBerth;
  server: Server;
  base: string;
}

/** Berth on a real port (WebSockets need one), with upgrades injected as main.ts does. */
async function listen(t: TestBerth): Promise<Listening> {
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: t.berth.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as Server)) as Server;
  });
  t.berth.webSockets.inject(server);
  return { t, server, base: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A terminal session as a client sees it: everything received, in order, and how it closed. */
class TerminalClient {
  readonly ws: WebSocket;
  output = '';
  readonly messages: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      // A refused upgrade is an ordinary HTTP answer: its status and the error envelope's code.
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => {
          const code = (JSON.parse(body || '{}') as { error?: { code?: string } }).error?.code;
          reject(new Error(`HTTP ${res.statusCode} ${code ?? 'without an error envelope'}`));
        });
      });
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) this.output += Buffer.from(data as Buffer).toString('utf8');
      else this.messages.push(JSON.parse(String(data)));
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text), { binary: true });
  }

  async waitFor(text: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`terminal never showed ${JSON.stringify(text)}; it showed ${JSON.stringify(this.output)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The terminal WebSocket on the real Podman engine, over a real socket. */
describe('terminal on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let l: Listening;
  const run = randomBytes(3).toString('hex');
  let busybox: Bot;
  let debian: Bot;
  const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  beforeAll(async () => {
    podman = await realPodman();
    l = await listen(await startTestBerth({ driver: podman.driver }));
    busybox = await newBot(l.t, 'term', TEST_IMAGE);
    debian = await newBot(l.t, 'term-deb', WORKSPACE_IMAGE);
  });

  afterAll(async () => {
    if (l) {
      l.server.close();
      for (const bot of await l.t.berth.bots.list()) await l.t.berth.bots.remove(bot.id).catch(() => undefined);
      await l.t.close();
    }
    await podman?.close();
  });

  async function newBot(t: TestBerth, name: string, image: string): Promise<Bot> {
    const bot = (await (await t.api('POST', '/bots', { body: { name: `${name}-${run}`, image } })).json()) as Bot;
    const { operation } = (await (await t.api('POST', `/bots/${bot.id}/container`, { body: {} })).json()) as { operation: Operation };
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    return bot;
  }

  const url = (bot: Bot, query = '') => `ws://${l.base}/api/v1/bots/${bot.id}/terminal${query}`;

  it('runs a command and shows its output; exit sends the exit message and closes', async () => {
    const term = new TerminalClient(url(busybox), auth);
    await term.opened;
    term.type('echo "answer-$((6 * 7))"\n');
    // The typed line echoes back as typed; only the shell's output has the computed value.
    await term.waitFor('answer-42');
    term.type('exit 3\n');
    const closed = await term.closed;
    expect(term.messages).toEqual([{ type: 'exit', code: 3 }]);
    expect(closed.code).toBe(1000);
  });

  it('resizes the terminal on a resize message', async () => {
    const term = new TerminalClient(url(busybox, '?cols=100&rows=30'), auth);
    await term.opened;
    term.type('stty size\n');
    await term.waitFor('30 100');
    term.ws.send(JSON.stringify({ type: 'resize', cols: 132, rows: 43 }));
    term.type('stty size; exit\n');
    await term.closed;
    expect(term.output).toContain('43 132');
    expect(term.messages).toEqual([{ type: 'exit', code: 0 }]);
  });

  it('gives bash where the image has it', async () => {
    const term = new TerminalClient(url(debian), auth);
    await term.opened;
    term.type('echo "bash=${BASH_VERSION%%.*}"; exit 0\n');
    await term.closed;
    expect(term.output).toMatch(/bash=\d/);
  });

  it('ends the shell when the client goes away', async () => {
    const term = new TerminalClient(url(busybox), auth);
    await term.opened;
    term.type('echo "pid=$$"\n');
    await term.waitFor('pid=');
    await new Promise((r) => setTimeout(r, 100));
    const pid = /pid=(\d+)/.exec(term.output)?.[1];
    expect(pid).toBeDefined();
    term.ws.terminate();
    const c = await l.t.berth.containers.info(busybox.id);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await podman.driver.exec(c.id, ['sh', '-c', `test -d /proc/${pid} && echo alive || echo gone`]);
      if (r.stdout.toString().trim() === 'gone') break;
      if (Date.now() > deadline) throw new Error(`shell ${pid} still running after its client went away`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('is authenticated like the API, refuses other origins, and says why it cannot open', async () => {
    await expect(new TerminalClient(url(busybox), {}).opened).rejects.toThrow('HTTP 401 unauthorized');
    await expect(new TerminalClient(url(busybox), { authorization: 'Bearer wrong' }).opened).rejects.toThrow('HTTP 401 unauthorized');
    await expect(new TerminalClient(url(busybox), { ...auth, origin: 'https://evil.example' }).opened).rejects.toThrow('HTTP 403 forbidden');
    // Same origin is fine.
    const same = new TerminalClient(url(busybox), { ...auth, origin: `http://${l.base}` });
    await same.opened;
    same.type('exit\n');
    await same.closed;
    // The web UI's session cookie, from its own origin.
    const login = await fetch(`http://${l.base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TEST_ADMIN_TOKEN }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/=/);
    const byCookie = new TerminalClient(url(busybox), { cookie, origin: `http://${l.base}` });
    await byCookie.opened;
    byCookie.type('exit\n');
    await byCookie.closed;
    await expect(new TerminalClient(url(busybox), { cookie, origin: 'http://127.0.0.1:1' }).opened).rejects.toThrow('HTTP 403 forbidden');
    // A plain GET is not a terminal.
    expect((await fetch(`http://${url(busybox).slice(5)}`, { headers: auth })).status).toBe(400);
    const stopped = await newBot(l.t, 'term-stopped', TEST_IMAGE);
    expect((await l.t.api('POST', `/bots/${stopped.id}/container/stop`, { body: { timeoutSeconds: 1 } })).status).toBe(200);
    await expect(new TerminalClient(url(stopped), auth).opened).rejects.toThrow('HTTP 409 container_not_running');
    // Only the terminal takes an upgrade: on another route (a file read that would be left open) it is refused unread.
    const filesUrl = url(busybox).replace(/\/terminal$/, '/files?path=/etc/hostname');
    await expect(new TerminalClient(filesUrl, auth).opened).rejects.toThrow('HTTP 400 validation_failed');
  });

  it('closes a session idle for BERTH_TERMINAL_IDLE_SECONDS', async () => {
    const idle = await listen(await startTestBerth({ driver: podman.driver, config: { terminalIdleSeconds: 1 } }));
    try {
      const bot = await newBot(idle.t, 'term-idle', TEST_IMAGE);
      const term = new TerminalClient(`ws://${idle.base}/api/v1/bots/${bot.id}/terminal`, auth);
      await term.opened;
      const closed = await term.closed;
      expect(closed.code).toBe(4000);
      expect(term.messages).toEqual([{ type: 'exit', code: null, reason: 'idle' }]);
      await idle.t.berth.bots.remove(bot.id);
    } finally {
      idle.server.close();
      await idle.t.close();
    }
  });
});
