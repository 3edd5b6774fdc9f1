import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { EventSource, type ErrorEvent, type EventSourceFetchInit } from 'eventsource';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, ChangeEvent, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { ChangeLogStore } from '../store/change-log-store.js';
import { expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';
const OPERATION_EVENTS = ['operation', 'phase', 'pull', 'log', 'done', 'error'];
const CHANGE_EVENTS = ['ready', 'reset', 'bot.created', 'bot.updated', 'bot.deleted', 'container.changed', 'operation.started', 'operation.finished'];

interface Received {
  event: string;
  id: string;
  data: unknown;
}

/**
 * The `eventsource` package's EventSource, as a browser would use it; only its fetch is ours, to
 * send the token and to hold a reconnect until the test lets it through.
 */
class Client {
  readonly es: EventSource;
  readonly received: Received[] = [];
  readonly errors: { code: number | undefined; message: string | undefined }[] = [];
  fetches = 0;
  private hold: Promise<void> | null = null;
  private release: (() => void) | null = null;
  private readonly checks = new Set<() => void>();

  constructor(url: string, events: string[]) {
    this.es = new EventSource(url, { fetch: (input, init) => this.fetch(input, init) });
    for (const event of events) {
      this.es.addEventListener(event, (e: Event) => {
        // An operation's `error` event shares its name with the EventSource's own connection errors.
        if (!(e instanceof MessageEvent)) return;
        this.received.push({ event, id: e.lastEventId, data: JSON.parse(String(e.data)) });
        this.notify();
      });
    }
    this.es.addEventListener('error', (e: ErrorEvent) => {
      this.errors.push({ code: e.code, message: e.message });
      this.notify();
    });
  }

  /** Reconnects wait from now on until `letThrough`. */
  holdReconnects(): void {
    this.hold = new Promise((resolve) => (this.release = resolve));
  }

  letThrough(): void {
    this.release?.();
    this.hold = null;
  }

  /** Resolves once `check` holds (checked after each event, error and request). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      const run = () => {
        if (!check()) return;
        this.checks.delete(run);
        resolve();
      };
      this.checks.add(run);
    });
  }

  changeFor(event: string, botId: string): Received | undefined {
    return this.received.find((r) => r.event === event && (r.data as ChangeEvent).botId === botId);
  }

  private notify(): void {
    for (const check of [...this.checks]) check();
  }

  private async fetch(input: string | URL, init: EventSourceFetchInit) {
    this.fetches++;
    this.notify();
    if (this.hold) await this.hold;
    return fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  }
}

/**
 * A real HTTP server and the `eventsource` package: a finished operation's stream ends its client's
 * reconnects with 204, and `/events` resumes with the client's own Last-Event-ID after a disconnect
 * and after a restart. (The package waits its default 3 s before each reconnect.)
 */
describe('SSE with a real EventSource client', () => {
  let home: string;
  let driver: FakeDriver;
  let t: TestBerth;
  let server: Server;
  let base: string;
  const clients: Client[] = [];
  /** What reached the server: path and Last-Event-ID of each request. */
  let requests: { path: string; lastEventId: string | null }[];

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-eventsource-'));
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver, home });
    requests = [];
    server = await new Promise<Server>((resolve) => {
      const s = serve(
        {
          // Through `t` as it is at each request: a restart swaps it under the same port.
          fetch: (req, env) => {
            requests.push({ path: new URL(req.url).pathname, lastEventId: req.headers.get('last-event-id') });
            return t.berth.app.fetch(req, env);
          },
          hostname: '127.0.0.1',
          port: 0,
        },
        () => resolve(s as Server),
      ) as Server;
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.es.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  function connect(url: string, events: string[]): Client {
    const client = new Client(url, events);
    clients.push(client);
    return client;
  }

  const createBot = (name: string) => expectJson<Bot>(t.api('POST', '/bots', { body: { name } }), 201);

  /** Cuts every open connection, as a network failure would; the client reconnects on its own. */
  async function disconnect(client: Client): Promise<void> {
    const before = client.fetches;
    client.holdReconnects();
    server.closeAllConnections();
    await client.until(() => client.fetches > before);
  }

  it('gets a finished operation’s events once, then stops at the 204 of its reconnect', async () => {
    const bot = await createBot('alpha');
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const recorded = await t.store.listEvents(operation.id, 0);

    const client = connect(`${base}/operations/${operation.id}/events`, OPERATION_EVENTS);
    await client.until(() => client.errors.some((e) => e.code === 204));

    expect(client.es.readyState).toBe(EventSource.CLOSED);
    expect(client.received.map((r) => [r.event, r.id])).toEqual(recorded.map((r) => [r.event, String(r.seq)]));
    expect(client.received.at(-1)?.event).toBe('done');
    const last = String(recorded.at(-1)!.seq);
    expect(requests.filter((r) => r.path.endsWith('/events'))).toEqual([
      { path: `/api/v1/operations/${operation.id}/events`, lastEventId: null },
      { path: `/api/v1/operations/${operation.id}/events`, lastEventId: last },
    ]);
    expect(client.fetches).toBe(2);
  });

  it('/events: after a disconnect and after a restart, gets exactly the changes it missed, with ids increasing', async () => {
    const client = connect(`${base}/events`, CHANGE_EVENTS);
    await client.until(() => client.received.some((r) => r.event === 'ready'));
    const a = await createBot('alpha');
    await client.until(() => client.changeFor('bot.created', a.id) !== undefined);
    const seen = client.changeFor('bot.created', a.id)!;

    await disconnect(client);
    const b = await createBot('bravo');
    const c = await createBot('charlie');
    await t.berth.changes.flush();
    const before = client.received.length;
    client.letThrough();
    await client.until(() => client.changeFor('bot.created', c.id) !== undefined);
    const missed = client.received.slice(before).filter((r) => r.event !== 'ready');
    expect(missed.map((r) => [r.event, (r.data as ChangeEvent).botId])).toEqual([
      ['bot.created', b.id],
      ['bot.created', c.id],
    ]);
    expect(missed.map((r) => Number(r.id))).toEqual([Number(seen.id) + 1, Number(seen.id) + 2]);
    expect(requests.filter((r) => r.path === '/api/v1/events').map((r) => r.lastEventId)).toEqual([null, seen.id]);

    // A restart: a new Berth over the same database, behind the same port.
    await disconnect(client);
    await t.close();
    t = await startTestBerth({ driver, home });
    client.letThrough();
    await client.until(() => client.received.filter((r) => r.event === 'ready').length === 3);
    const d = await createBot('delta');
    await client.until(() => client.changeFor('bot.created', d.id) !== undefined);
    expect(Number(client.changeFor('bot.created', d.id)!.id)).toBe(Number(seen.id) + 3);
    expect(requests.filter((r) => r.path === '/api/v1/events').map((r) => r.lastEventId)).toEqual([null, seen.id, String(Number(seen.id) + 2)]);
    // Every change once, in order, ids increasing.
    const changes = client.received.filter((r) => r.event === 'bot.created');
    expect(changes.map((r) => (r.data as ChangeEvent).botId)).toEqual([a.id, b.id, c.id, d.id]);
    expect(changes.map((r) => Number(r.id))).toEqual([0, 1, 2, 3].map((i) => Number(seen.id) + i));
  });

  it('/events: an id older than what is kept gets reset, then live changes', async () => {
    for (const name of ['alpha', 'bravo', 'charlie']) await createBot(name);
    await t.berth.changes.flush();
    const log = new ChangeLogStore(t.store.db);
    const { latest } = await log.bounds();
    await log.pruneThrough(latest - 1);

    // The query form: an EventSource cannot set the header of its first request.
    const client = connect(`${base}/events?lastEventId=1`, CHANGE_EVENTS);
    await client.until(() => client.received.some((r) => r.event === 'reset'));
    expect(client.received).toEqual([
      { event: 'ready', id: '', data: { at: expect.any(String) } },
      { event: 'reset', id: String(latest), data: { reason: 'gap_too_old', oldestSeq: latest, latestSeq: latest } },
    ]);
    const d = await createBot('delta');
    await client.until(() => client.changeFor('bot.created', d.id) !== undefined);
    expect(client.changeFor('bot.created', d.id)!.id).toBe(String(latest + 1));
  });
});
