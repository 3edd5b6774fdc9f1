import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

/** The built UI served at `/` next to the API, which it never shadows. */
describe('web UI files', () => {
  let t: TestBerth;
  let dist: string;

  beforeAll(async () => {
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-dist-'));
    fs.mkdirSync(path.join(dist, 'assets'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Berth</title><div id="root"></div>');
    fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log("berth")');
    fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg/>');
    t = await startTestBerth({ driver: new FakeDriver(), config: { webDist: dist } });
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dist, { recursive: true, force: true });
  });

  const get = (p: string, init: RequestInit = {}) => Promise.resolve(t.berth.app.request(p, init));

  it('serves index.html at / without caching, framing or foreign scripts', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<div id="root">');
  });

  it('answers client-side routes with index.html, so a reload keeps the page', async () => {
    for (const p of ['/bots/alpha', '/bots/alpha/files', '/login']) {
      const res = await get(p);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it('serves built files with their type; content-named assets are cached for good', async () => {
    const js = await get('/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(await js.text()).toBe('console.log("berth")');
    const svg = await get('/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('cache-control')).toBe('no-cache');
    const head = await get('/assets/index-abc123.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('console.log("berth")'.length));
  });

  it('answers 404 for a missing file rather than the page', async () => {
    expect((await get('/assets/index-old.js')).status).toBe(404);
    expect((await get('/missing.png')).status).toBe(404);
  });

  it('never serves anything outside its directory', async () => {
    const outside = path.join(path.dirname(dist), `${path.basename(dist)}-outside.txt`);
    fs.writeFileSync(outside, 'CONTENT-FROM-OUTSIDE');
    try {
      const name = path.basename(outside);
      for (const p of [`/..%2f${name}`, `/%2e%2e/${name}`, `/assets/..%2f..%2f${name}`, '/..%2f..%2f..%2f..%2fetc%2fpasswd']) {
        const body = await (await get(p)).text();
        expect(body).not.toContain('CONTENT-FROM-OUTSIDE');
        expect(body).not.toContain('root:');
      }
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });

  it('leaves the API and the health check alone', async () => {
    expect((await get('/healthz')).headers.get('content-type')).toContain('application/json');
    const api = await get('/api/v1/bots');
    expect(api.status).toBe(401);
    expect(api.headers.get('content-type')).toContain('application/json');
    // Without a token nothing under /api says whether it exists; with one, an unknown path is a JSON 404.
    expect((await get('/api/nothing-here')).status).toBe(401);
    const unknown = await get('/api/nothing-here', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await get('/', { method: 'POST' })).status).toBe(404);
  });

  it('says how to build the UI when it is not built', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-empty-'));
    const bare = await startTestBerth({ driver: new FakeDriver(), config: { webDist: empty } });
    try {
      const res = await Promise.resolve(bare.berth.app.request('/'));
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
