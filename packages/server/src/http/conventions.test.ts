import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const AUTH = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** HTTP's own conventions, as a generic client (curl, a generated SDK, an MCP client) relies on them. */
describe('HTTP conventions', () => {
  let t: TestBerth;
  let dist: string;

  beforeAll(async () => {
    // A web UI is served beside the API: the API's answers must never turn into its page.
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-dist-'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Berth</title><div id="root"></div>');
    t = await startTestBerth({ driver: new FakeDriver({ images: ['localhost/berth/test:busybox'] }), config: { webDist: dist } });
    expect((await t.api('POST', '/bots', { body: { name: 'alpha' } })).status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dist, { recursive: true, force: true });
  });

  const request = (p: string, init: RequestInit = {}) => Promise.resolve(t.berth.app.request(p, init));
  const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error;

  it('answers 405 with Allow for a known path asked with a method it does not have', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/api/v1/bots', 'GET, HEAD, POST'],
      ['POST', '/api/v1/bots/alpha', 'DELETE, GET, HEAD, PATCH'],
      ['DELETE', '/api/v1/info', 'GET, HEAD'],
      ['PATCH', '/api/v1/bots/alpha/files', 'DELETE, GET, HEAD, PUT'],
    ];
    for (const [method, p, allow] of cases) {
      const res = await request(p, { method, headers: AUTH });
      expect(res.status, `${method} ${p}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await errorOf(res)).toMatchObject({ code: 'method_not_allowed', details: { allow: allow.split(', ') } });
    }
    // A path that does not exist with any method stays a 404.
    const missing = await request('/api/v1/bots/alpha/nothing', { method: 'PUT', headers: AUTH });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('allow')).toBeNull();
    expect((await errorOf(missing)).code).toBe('not_found');
  });

  it('answers 415 to a JSON route given a body that is not JSON, and changes nothing', async () => {
    for (const [p, type] of [
      ['/api/v1/bots', 'text/plain'],
      ['/api/v1/bots', 'application/x-www-form-urlencoded'],
      ['/api/v1/bots/alpha/container', 'text/plain'],
    ] as const) {
      const res = await request(p, { method: 'POST', headers: { ...AUTH, 'content-type': type }, body: '{"name":"beta"}' });
      expect(res.status, `${p} as ${type}`).toBe(415);
      const error = await errorOf(res);
      expect(error.code).toBe('unsupported_media_type');
      expect(error.message).toContain(type);
    }
    expect((await t.api('GET', '/bots/beta')).status).toBe(404);
    expect((await t.api('GET', '/bots/alpha/container')).status).toBe(404);
    // JSON with parameters is JSON.
    const res = await request('/api/v1/bots', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8' }, body: '{"name":"gamma"}' });
    expect(res.status).toBe(201);
  });

  it('answers 416 with the file’s size in Content-Range for a range that starts past the end', async () => {
    // A stopped container: its data dir is read from the host.
    expect((await t.api('POST', '/bots', { body: { name: 'files' } })).status).toBe(201);
    const { operation } = (await (await t.api('POST', '/bots/files/container', { body: {} })).json()) as { operation: { id: string } };
    await t.berth.operations.settled(operation.id);
    expect((await t.api('POST', '/bots/files/container/stop', { body: {} })).status).toBe(200);
    const put = await request('/api/v1/bots/files/files?path=ten.txt', { method: 'PUT', headers: { ...AUTH, 'content-type': 'application/octet-stream' }, body: '0123456789' });
    expect(put.status).toBe(200);
    const part = await t.api('GET', '/bots/files/files?path=ten.txt', { headers: { range: 'bytes=8-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 8-9/10');
    expect(await part.text()).toBe('89');
    for (const res of [
      await t.api('GET', '/bots/files/files?path=ten.txt', { headers: { range: 'bytes=10-' } }),
      await t.api('GET', '/bots/files/files?path=ten.txt&offset=50'),
    ]) {
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe('bytes */10');
      expect(await errorOf(res)).toMatchObject({ code: 'range_not_satisfiable', details: { size: 10 } });
    }
    // A malformed Range is still the client's mistake, not a range past the end.
    expect((await errorOf(await t.api('GET', '/bots/files/files?path=ten.txt', { headers: { range: 'bytes=5-2' } }))).code).toBe('validation_failed');
  });

  it('answers 401 with WWW-Authenticate: Bearer, and never says whether a path exists without a token', async () => {
    for (const p of ['/api/v1/bots', '/api/v1/bots/alpha', '/api/v1/no-such-route', '/api/v1', '/api', '/api/v2/bots', '/api/v1/openapi.json']) {
      for (const headers of [{}, { authorization: 'Bearer not-the-token' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }] as Record<string, string>[]) {
        const res = await request(p, { headers });
        expect(res.status, `${p} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect((await errorOf(res)).code).toBe('unauthorized');
      }
    }
    // A wrong token at the login is a 401 too, with the challenge.
    const login = await t.api('POST', '/session', { token: null, body: { token: 'wrong' } });
    expect(login.status).toBe(401);
    expect(login.headers.get('www-authenticate')).toBe('Bearer');
    // What is outside the API keeps its own rules: the health check needs no token.
    const health = await request('/healthz');
    expect(health.status).toBe(200);
    expect(health.headers.get('www-authenticate')).toBeNull();
  });

  it('answers unknown /api and /.well-known paths with a JSON 404, never the web UI’s page', async () => {
    for (const p of ['/api/v1/no-such-route', '/api/v2/bots', '/api']) {
      const res = await request(p, { headers: AUTH });
      expect(res.status, p).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect((await errorOf(res)).code).toBe('not_found');
    }
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/api/v1/bots/alpha/mcp', '/.well-known/oauth-authorization-server', '/.well-known']) {
      for (const headers of [{}, AUTH] as Record<string, string>[]) {
        const res = await request(p, { headers });
        expect(res.status, p).toBe(404);
        expect(res.headers.get('content-type')).toBe('application/json');
        expect((await errorOf(res)).code).toBe('not_found');
      }
    }
    // The UI still answers its own client-side routes.
    const page = await request('/bots/alpha');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
  });
});
