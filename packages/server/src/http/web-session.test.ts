import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, IssuedBotToken, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

/** The `name=value` pair of a response's Set-Cookie. */
function cookiePair(res: Response): string {
  expect(res.status).toBe(200);
  const pair = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  expect(pair).toMatch(/^berth_session=./);
  return pair;
}

/** The web UI's session: login, the cookie it sets, the CSRF guard on cookie requests, logout. */
describe('web session', () => {
  let t: TestBerth;
  /** The `berth_session=…` pair of a fresh login. */
  let cookie: string;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE], delayMs: { createContainer: 300 } }) });
    cookie = cookiePair(await login(TEST_ADMIN_TOKEN));
  });
  afterEach(async () => {
    await t.close();
  });

  const login = (token: string) => t.api('POST', '/session', { token: null, body: { token } });
  /** A request as a browser sends it: the cookie, no Authorization header. */
  const browser = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    Promise.resolve(t.berth.app.request(`/api/v1${path}`, { method, headers: { cookie, host: 'berth.test:7070', ...headers }, ...(body !== undefined && { body }) }));
  const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('trades the admin token for an HttpOnly, SameSite=Strict cookie on the API path', async () => {
    const res = await login(TEST_ADMIN_TOKEN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ principal: 'admin' });
    const header = res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).toMatch(/Path=\/api(;|$)/);
    expect(header).not.toMatch(/Secure/);
  });

  it('puts a random session id in the cookie, never the admin token, and keeps only its hash', async () => {
    const first = cookiePair(await login(TEST_ADMIN_TOKEN));
    const value = first.slice('berth_session='.length);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(value).not.toContain(TEST_ADMIN_TOKEN);
    expect(first).not.toBe(cookie);
    const rows = await t.store.db.selectFrom('web_sessions').selectAll().execute();
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(value);
    expect(JSON.stringify(rows)).not.toContain(TEST_ADMIN_TOKEN);
    // The admin token itself is not a cookie.
    const raw = await t.berth.app.request('/api/v1/bots', { headers: { cookie: `berth_session=${TEST_ADMIN_TOKEN}` } });
    expect(raw.status).toBe(401);
  });

  it('clears a cookie that holds no current session (one from an earlier version holding the token itself)', async () => {
    const raw = await t.berth.app.request('/api/v1/bots', { headers: { cookie: `berth_session=${TEST_ADMIN_TOKEN}` } });
    expect(raw.status).toBe(401);
    const header = raw.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/^berth_session=;/);
    expect(header).toMatch(/Max-Age=0/);
    expect(header).toMatch(/Path=\/api/);
    // A bearer token that is refused leaves cookies alone.
    expect((await t.berth.app.request('/api/v1/bots', { headers: { authorization: 'Bearer nope' } })).headers.get('set-cookie')).toBeNull();
  });

  it('refuses a wrong token (401) and a bot token (403) without setting a cookie', async () => {
    const wrong = await login('not-the-admin-token');
    expect(wrong.status).toBe(401);
    expect(await code(wrong)).toBe('unauthorized');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    await t.api('POST', '/bots', { body: { name: 'alpha' } });
    const issued = (await (await t.api('POST', '/bots/alpha/tokens', { body: { name: 'agent' } })).json()) as IssuedBotToken;
    const bot = await login(issued.token);
    expect(bot.status).toBe(403);
    expect(bot.headers.get('set-cookie')).toBeNull();
  });

  it('marks the cookie Secure behind HTTPS', async () => {
    const res = await t.api('POST', '/session', { token: null, body: { token: TEST_ADMIN_TOKEN }, headers: { 'x-forwarded-proto': 'https' } });
    expect(res.headers.get('set-cookie')).toMatch(/Secure/);
  });

  it('authenticates reads by the cookie; writes need X-Berth or a JSON body', async () => {
    expect((await browser('GET', '/bots')).status).toBe(200);

    // A plain form post from anywhere carries the cookie but neither: refused before anything happens.
    const form = await browser('POST', '/bots', { 'content-type': 'application/x-www-form-urlencoded' }, 'name=evil');
    expect(form.status).toBe(403);
    expect(await code(form)).toBe('forbidden');
    const noBody = await browser('DELETE', '/bots/alpha');
    expect(noBody.status).toBe(403);
    expect((await t.api('GET', '/bots').then((r) => r.json() as Promise<{ bots: Bot[] }>)).bots).toEqual([]);

    const json = await browser('POST', '/bots', { 'content-type': 'application/json' }, JSON.stringify({ name: 'alpha' }));
    expect(json.status).toBe(201);
    const withHeader = await browser('DELETE', '/bots/alpha', { 'x-berth': '1' });
    expect(withHeader.status).toBe(204);
  });

  it('refuses cookie requests that come from another origin or site, WebSocket upgrades included', async () => {
    expect((await browser('GET', '/bots', { origin: 'http://berth.test:7070' })).status).toBe(200);
    expect((await browser('GET', '/bots', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);

    // Another port on the same host is the same "site" for SameSite cookies: Origin tells them apart.
    const otherPort = await browser('GET', '/bots', { origin: 'http://berth.test:8080' });
    expect(otherPort.status).toBe(403);
    expect(await code(otherPort)).toBe('forbidden');
    expect((await browser('GET', '/bots', { origin: 'null' })).status).toBe(403);
    expect((await browser('GET', '/bots', { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await browser('GET', '/bots', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await browser('POST', '/bots', { origin: 'http://evil.example', 'x-berth': '1', 'content-type': 'application/json' }, '{"name":"x"}')).status).toBe(403);
  });

  it('leaves bearer-token requests alone whatever their origin', async () => {
    const res = await t.api('GET', '/bots', { headers: { origin: 'http://elsewhere.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
    const del = await t.api('DELETE', '/bots/nobody');
    expect(await code(del)).toBe('bot_not_found');
  });

  it('logs out by ending the session on the server and clearing the cookie', async () => {
    const other = cookiePair(await login(TEST_ADMIN_TOKEN));
    const res = await browser('DELETE', '/session', { 'x-berth': '1' });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^berth_session=;.*Max-Age=0.*Path=\/api/);
    // A copy of the cookie kept elsewhere no longer works; another session does.
    const after = await browser('GET', '/bots');
    expect(after.status).toBe(401);
    expect(await code(after)).toBe('unauthorized');
    expect((await t.berth.app.request('/api/v1/bots', { headers: { cookie: other } })).status).toBe(200);
  });

  it('answers 429 with Retry-After once a client has failed to log in too often; the right token included', async () => {
    for (let i = 0; i < 10; i++) expect((await login(`wrong-token-${i}`)).status).toBe(401);
    const limited = await login('wrong-again');
    expect(limited.status).toBe(429);
    expect(await code(limited)).toBe('too_many_requests');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const right = await login(TEST_ADMIN_TOKEN);
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
    // The API with a bearer token is not affected.
    expect((await t.api('GET', '/bots')).status).toBe(200);
  });

  it('does not count successful logins', async () => {
    for (let i = 0; i < 9; i++) expect((await login(`wrong-token-${i}`)).status).toBe(401);
    for (let i = 0; i < 20; i++) expect((await login(TEST_ADMIN_TOKEN)).status).toBe(200);
    expect((await login('wrong-token-9')).status).toBe(401);
    expect((await login('wrong-token-10')).status).toBe(429);
  });

  it('lists a bot’s operations newest first, the running one among them', async () => {
    await t.api('POST', '/bots', { body: { name: 'alpha' } });
    const first = (await (await t.api('POST', '/bots/alpha/container', { body: {} })).json()) as { operation: Operation };
    await t.berth.operations.settled(first.operation.id);
    await t.api('POST', '/bots/alpha/container/stop', { body: {} });
    const running = (await (await t.api('POST', '/bots/alpha/container', { body: { recreate: true } })).json()) as { operation: Operation };

    const res = await t.api('GET', '/bots/alpha/operations?limit=2');
    expect(res.status).toBe(200);
    const { operations } = (await res.json()) as { operations: Operation[] };
    expect(operations.map((o) => [o.kind, o.status])).toEqual([
      ['recreate', 'running'],
      ['stop', 'succeeded'],
    ]);
    expect(operations[0]?.id).toBe(running.operation.id);
    await t.berth.operations.settled(running.operation.id);

    expect((await t.api('GET', '/bots/nobody/operations')).status).toBe(404);
    expect((await t.api('GET', '/bots/alpha/operations?limit=0')).status).toBe(400);
  });
});

describe('web sessions across restarts', () => {
  it('survive a restart with the same admin token, and end with a restart under another one', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-sessions-'));
    const driver = new FakeDriver({ images: [IMAGE] });
    const started: TestBerth[] = [];
    const start = async (adminToken: string) => {
      const t = await startTestBerth({ driver, home, adminToken });
      started.push(t);
      return t;
    };
    const get = (t: TestBerth, cookie: string) => Promise.resolve(t.berth.app.request('/api/v1/bots', { headers: { cookie } }));
    try {
      const first = await start(TEST_ADMIN_TOKEN);
      const cookie = cookiePair(await first.api('POST', '/session', { token: null, body: { token: TEST_ADMIN_TOKEN } }));
      expect((await get(first, cookie)).status).toBe(200);
      await first.close();

      const same = await start(TEST_ADMIN_TOKEN);
      expect((await get(same, cookie)).status).toBe(200);
      await same.close();

      const rotated = await start('berth_test_another_admin_token_987');
      expect((await get(rotated, cookie)).status).toBe(401);
      expect(await rotated.store.db.selectFrom('web_sessions').selectAll().execute()).toEqual([]);
      await rotated.close();

      // Back to the first token: the session is gone for good.
      const back = await start(TEST_ADMIN_TOKEN);
      expect((await get(back, cookie)).status).toBe(401);
    } finally {
      for (const t of started) await t.close().catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
