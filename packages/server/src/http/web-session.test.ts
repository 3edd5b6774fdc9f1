import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, IssuedBotToken, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';
const COOKIE = `berth_session=${TEST_ADMIN_TOKEN}`;

/** The web UI's session: login, the cookie it sets, the CSRF guard on cookie requests, logout. */
describe('web session', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE], delayMs: { createContainer: 300 } }) });
  });
  afterEach(async () => {
    await t.close();
  });

  const login = (token: string) => t.api('POST', '/session', { token: null, body: { token } });
  /** A request as a browser sends it: the cookie, no Authorization header. */
  const browser = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    Promise.resolve(t.berth.app.request(`/api/v1${path}`, { method, headers: { cookie: COOKIE, host: 'berth.test:7070', ...headers }, ...(body !== undefined && { body }) }));
  const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('trades the admin token for an HttpOnly, SameSite=Strict cookie on the API path', async () => {
    const res = await login(TEST_ADMIN_TOKEN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ principal: 'admin' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toContain(`berth_session=${TEST_ADMIN_TOKEN}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/api(;|$)/);
    expect(cookie).not.toMatch(/Secure/);
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

  it('logs out by clearing the cookie', async () => {
    const res = await browser('DELETE', '/session', { 'x-berth': '1' });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^berth_session=;.*Max-Age=0.*Path=\/api/);
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
