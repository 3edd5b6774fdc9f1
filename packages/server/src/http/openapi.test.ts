import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes, type RouteDefinition } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const REDOCLY = fileURLToPath(new URL('../../../../node_modules/.bin/redocly', import.meta.url));

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  parameters?: { name?: string; in?: string; $ref?: string }[];
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface Doc {
  openapi: string;
  servers: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, Record<string, string>> };
}

/** The OpenAPI document as the server serves it, checked by the tools clients use. */
describe('the OpenAPI document', () => {
  let t: TestBerth;
  let doc: Doc;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [] }) });
    const res = await t.api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-openapi-'));
    file = path.join(dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, method, path: p, op })));

  it('passes swagger-parser’s validation', async () => {
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it('passes Redocly’s recommended rules with no error', async () => {
    const { stdout } = await promisify(execFile)(REDOCLY, ['lint', '--extends', 'recommended', '--format', 'json', file], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const report = JSON.parse(stdout) as { totals: { errors: number }; problems: { ruleId: string; severity: string; message: string }[] };
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(report.totals.errors).toBe(0);
  }, 60_000);

  it('lives under the server /api/v1, with paths relative to it', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/api/v1' })]);
    expect(Object.keys(doc.paths)).toContain('/bots');
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api'))).toEqual([]);
  });

  it('has paths that, resolved against its server as a client does, reach a route of the server', async () => {
    // A relative server URL is resolved against the document's own address (OpenAPI 3.1 §4.8.5).
    const documentUrl = 'http://berth.test:7070/api/v1/openapi.json';
    const base = new URL(doc.servers[0]!.url, documentUrl).href;
    expect(base).toBe('http://berth.test:7070/api/v1');
    for (const { key, method, path: template } of operations()) {
      const url = base + template.replaceAll(/\{\w+\}/g, 'nothing');
      const abort = new AbortController();
      const res = await t.berth.app.request(url, { method: method.toUpperCase(), headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, signal: abort.signal });
      // An answer from the route itself (bot_not_found, validation_failed, an event stream...), never "no such route".
      const body = res.headers.get('content-type')?.startsWith('application/json') ? ((await res.json()) as { error?: { code: string } }) : null;
      abort.abort();
      await res.body?.cancel().catch(() => undefined);
      expect(res.status, key).not.toBe(405);
      expect(body?.error?.code, key).not.toBe('not_found');
    }
  });

  it('says how to authenticate: a bearer token or the session cookie, everywhere but the login', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.cookieAuth).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'berth_session' });
    expect(doc.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }]);
    const open = operations().filter(({ op }) => op.security !== undefined);
    expect(open.map((o) => [o.key, o.op.security])).toEqual([['POST /session', []]]);
  });

  it('names every operation uniquely and sums it up', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations().filter(({ op }) => !op.summary)).toEqual([]);
  });

  it('is generated from the contract’s route definitions, every one of them', () => {
    const defined = Object.values(routes).flatMap((group) => Object.values(group as Record<string, RouteDefinition>));
    expect(defined.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort()).toEqual(operations().map((o) => o.key).sort());
    for (const r of defined) expect(doc.paths[r.path]?.[r.method]?.operationId).toBe(r.operationId);
  });

  it('names its schemas and refers to them', () => {
    for (const name of ['Bot', 'Container', 'Error', 'Operation', 'Snapshot', 'Task', 'FileInfo', 'Token', 'IssuedToken', 'ExecResult', 'DirectoryListing', 'Info']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    expect(doc.paths['/bots/{bot}']!.get!.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Bot' });
    expect(doc.paths['/bots']!.get!.responses['401']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  it('documents the errors each route can answer', () => {
    for (const { key, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(statuses, key).toContain('401');
      expect(statuses, key).toContain('500');
      if (key !== 'POST /session') expect(statuses, key).toContain('403');
      if (key.includes('{')) expect(statuses, key).toContain('404');
      if (key.includes('{') || op.parameters?.some((p) => p.in === 'query')) expect(statuses, key).toContain('400');
      expect(op.responses['401']!.headers, key).toHaveProperty('WWW-Authenticate');
      if (op.responses['429']) expect(op.responses['429'].headers, key).toHaveProperty('Retry-After');
    }
    const r = (key: string) => operations().find((o) => o.key === key)!.op.responses;
    expect(Object.keys(r('POST /bots'))).toEqual(expect.arrayContaining(['201', '400', '409', '413', '415', '507']));
    expect(Object.keys(r('POST /bots/{bot}/exec'))).toEqual(expect.arrayContaining(['200', '202', '409', '429', '503', '504']));
    expect(Object.keys(r('GET /bots/{bot}/files'))).toEqual(expect.arrayContaining(['200', '206', '416', '429']));
    expect(Object.keys(r('POST /bots/{bot}/data/import'))).toEqual(expect.arrayContaining(['400', '409', '413', '507']));
    expect(Object.keys(r('POST /session'))).toEqual(expect.arrayContaining(['200', '401', '403', '429']));
  });

  it('documents the headers: Range and the X-Berth-* answers of a file read, Last-Event-ID on event streams, the CSRF header', () => {
    const read = doc.paths['/bots/{bot}/files']!.get!;
    expect(read.parameters).toContainEqual(expect.objectContaining({ name: 'Range', in: 'header' }));
    expect(Object.keys(read.responses['200']!.headers!)).toEqual(
      expect.arrayContaining(['Accept-Ranges', 'X-Berth-File-Type', 'X-Berth-File-Size', 'X-Berth-File-Mode', 'X-Berth-Truncated']),
    );
    expect(Object.keys(read.responses['206']!.headers!)).toEqual(expect.arrayContaining(['Content-Range', 'Accept-Ranges']));
    expect(Object.keys(read.responses['416']!.headers!)).toEqual(['Content-Range']);
    for (const p of ['/events', '/operations/{op}/events']) {
      expect(doc.paths[p]!.get!.parameters, p).toContainEqual(expect.objectContaining({ name: 'Last-Event-ID', in: 'header' }));
    }
    expect(doc.paths['/bots']!.post!.parameters).toContainEqual({ $ref: '#/components/parameters/CsrfHeader' });
    expect(doc.paths['/bots']!.get!.parameters ?? []).not.toContainEqual({ $ref: '#/components/parameters/CsrfHeader' });
  });
});
