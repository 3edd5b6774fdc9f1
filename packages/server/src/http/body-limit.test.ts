import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { importBodyLimit } from './app.js';
import { BodyBudget } from './body-limit.js';

const IMAGE = 'localhost/berth/test:busybox';

/** A body of `total` bytes, sent in pieces; `pulled()` tells how much of it the server asked for. */
function streamedBody(total: number, piece = 64 * 1024) {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      const n = Math.min(piece, total - pulled);
      pulled += n;
      controller.enqueue(new Uint8Array(n).fill(0x20));
    },
  });
  return { stream, pulled: () => pulled };
}

/** Per-route body limits, in-process (the listening server's side is e2e/body-limits.test.ts). */
describe('request body limits', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }), config: { maxImportBytes: 1024 * 1024 } });
  });
  afterEach(async () => {
    await t.close();
  });

  const send = (path: string, init: { body: string | ReadableStream<Uint8Array>; headers?: Record<string, string>; token?: string | null; method?: string }) =>
    t.berth.app.request(`/api/v1${path}`, {
      method: init.method ?? 'POST',
      headers: { 'content-type': 'application/json', ...(init.token !== null && { authorization: `Bearer ${init.token ?? TEST_ADMIN_TOKEN}` }), ...init.headers },
      body: init.body,
      // Node's Request needs it for a streamed body.
      duplex: 'half',
    } as RequestInit);

  const code = async (res: Response) => ((await res.json()) as { error: { code: string; details?: unknown } }).error;

  it('refuses a declared Content-Length past the limit without reading the body', async () => {
    const body = streamedBody(64 * 1024 * 1024);
    const res = await send('/bots', { body: body.stream, headers: { 'content-length': String(64 * 1024 * 1024) } });
    expect(res.status).toBe(413);
    expect(await code(res)).toMatchObject({ code: 'body_too_large', details: { limitBytes: 1024 * 1024, contentLength: 64 * 1024 * 1024 } });
    // The stream's first pieces may be buffered by the runtime; the body itself was not read.
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it('stops reading a body without a length as soon as it passes the limit', async () => {
    const body = streamedBody(64 * 1024 * 1024);
    const res = await send('/bots', { body: body.stream });
    expect(res.status).toBe(413);
    expect((await code(res)).code).toBe('body_too_large');
    expect(body.pulled()).toBeLessThan(2 * 1024 * 1024);
  });

  it('gives the login route a small limit, and takes a normal login', async () => {
    const res = await send('/session', { body: JSON.stringify({ token: 'x'.repeat(20 * 1024) }), token: null });
    expect(res.status).toBe(413);
    expect(await code(res)).toMatchObject({ code: 'body_too_large', details: { limitBytes: 16 * 1024 } });
    expect((await send('/session', { body: JSON.stringify({ token: TEST_ADMIN_TOKEN }), token: null })).status).toBe(200);
  });

  it('answers 401 to an unauthenticated body without reading it', async () => {
    const body = streamedBody(64 * 1024 * 1024);
    const res = await send('/bots', { body: body.stream, token: null });
    expect(res.status).toBe(401);
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it('reads bodies under the limit as before', async () => {
    const res = await send('/bots', { body: JSON.stringify({ name: 'alpha', env: { A: 'b'.repeat(60_000) } }) });
    expect(res.status).toBe(201);
    const bad = await send('/bots', { body: '{"name": ' });
    expect(bad.status).toBe(400);
  });

  it('gives exec and file edits room for their data (stdin up to 16 MiB, texts up to 8 MiB)', async () => {
    expect((await t.api('POST', '/bots', { body: { name: 'alpha' } })).status).toBe(201);
    const stdin = 'x'.repeat(3 * 1024 * 1024);
    // No container: refused by the service, not by the body limit.
    expect((await code(await send('/bots/alpha/exec', { body: JSON.stringify({ command: ['cat'], stdin }) }))).code).toBe('container_not_found');
    expect((await code(await send('/bots/alpha/files/edit', { body: JSON.stringify({ path: 'f', oldText: stdin, newText: 'y' }) }))).code).not.toBe('body_too_large');
    const tooMuch = await send('/bots/alpha/exec', { body: JSON.stringify({ command: ['cat'], stdin: 'x'.repeat(21 * 1024 * 1024) }) });
    expect(tooMuch.status).toBe(413);
  });

  it('refuses an import declared larger than any archive within BERTH_MAX_IMPORT_BYTES', async () => {
    expect((await t.api('POST', '/bots', { body: { name: 'alpha' } })).status).toBe(201);
    const declared = importBodyLimit(1024 * 1024) + 1;
    const body = streamedBody(declared);
    const res = await send('/bots/alpha/data/import', { body: body.stream, headers: { 'content-type': 'application/x-tar', 'content-length': String(declared) } });
    expect(res.status).toBe(413);
    expect((await code(res)).code).toBe('archive_too_large');
  });

  it('holds at most two large bodies of one bot at once; its small calls, other bots and later calls go through', async () => {
    for (const name of ['alpha', 'beta']) expect((await t.api('POST', '/bots', { body: { name } })).status).toBe(201);
    const tokenOf = async (bot: string) => ((await (await t.api('POST', `/bots/${bot}/tokens`, { body: { name: 'x' } })).json()) as { token: string }).token;
    const alpha = await tokenOf('alpha');
    const beta = await tokenOf('beta');
    const size = 4 * 1024 * 1024;
    const text = JSON.stringify({ command: ['cat'], stdin: 'x'.repeat(size - 40) });
    // A body whose first piece arrives at once and the rest only when the test says: its request stays in flight.
    const gates: (() => void)[] = [];
    const held = (bot: string, token: string) => {
      const bytes = new TextEncoder().encode(text);
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            return controller.enqueue(bytes.subarray(0, 1024));
          }
          await new Promise<void>((resolve) => gates.push(resolve));
          controller.enqueue(bytes.subarray(1024));
          controller.close();
        },
      });
      return send(`/bots/${bot}/exec`, { body: stream, token, headers: { 'content-length': String(bytes.length) } });
    };
    const inFlight = [held('alpha', alpha), held('alpha', alpha)];
    await until(() => gates.length === 2);
    const third = await send('/bots/alpha/exec', { body: text, token: alpha });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('2');
    expect((await code(third)).code).toBe('too_many_requests');
    // Without a declared length it is counted once read past 1 MiB.
    const chunked = streamedBody(size);
    expect((await send('/bots/alpha/exec', { body: chunked.stream, token: alpha })).status).toBe(429);
    // A small body of the same bot, and another bot's large one, are not held up.
    expect((await code(await send('/bots/alpha/exec', { body: JSON.stringify({ command: ['true'] }), token: alpha }))).code).toBe('container_not_found');
    expect((await code(await send('/bots/beta/exec', { body: text, token: beta }))).code).toBe('container_not_found');
    // Once the held requests are answered, their places are free again.
    for (const open of gates.splice(0)) open();
    for (const res of await Promise.all(inFlight)) expect((await code(res)).code).toBe('container_not_found');
    expect((await code(await send('/bots/alpha/exec', { body: text, token: alpha }))).code).toBe('container_not_found');
  });
});

describe('BodyBudget', () => {
  it('counts the bytes held across callers and gives them back once', () => {
    const budget = new BodyBudget({ perCaller: 2, totalBytes: 10 });
    const a = budget.take('a', 6);
    expect(() => budget.take('b', 5)).toThrow(expect.objectContaining({ code: 'too_many_requests', details: { retryAfterSeconds: 2 } }));
    const b = budget.take('b', 4);
    a();
    a();
    expect(() => budget.take('c', 7)).toThrow(expect.objectContaining({ code: 'too_many_requests' }));
    budget.take('c', 6);
    b();
  });
});

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}
