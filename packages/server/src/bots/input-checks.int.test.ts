import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Operation } from '@berth/contract';
import { isAppError } from '../errors.js';
import { closeTestBerth, expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';

/**
 * On the real engine: inputs that used to come back as 500 `internal` (a 256-byte file name, a huge
 * Range) are clear 4xx answers, and a failed pull never echoes what the registry host said.
 */
describe('input checks on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  let bot: Bot;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `checks-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  const answer = async (res: Response | Promise<Response>) => {
    const r = await res;
    return { status: r.status, code: ((await r.json()) as { error?: { code: string } }).error?.code };
  };
  const put = (p: string, body: string) =>
    Promise.resolve(t.berth.app.request(`/api/v1/bots/${bot.id}/files?path=${encodeURIComponent(p)}`, { method: 'PUT', headers: { authorization: 'Bearer berth_test_admin_token_0123456789', 'content-type': 'application/octet-stream' }, body }));

  it('refuses a file name past 255 bytes in a running container, and takes one of 255', async () => {
    for (const p of ['a'.repeat(256), `/tmp/${'b'.repeat(300)}`, `dir/${'é'.repeat(128)}/x`]) {
      expect(await answer(put(p, 'x'))).toEqual({ status: 400, code: 'validation_failed' });
      expect(await answer(t.api('GET', `/bots/${bot.id}/files?path=${encodeURIComponent(p)}`))).toEqual({ status: 400, code: 'validation_failed' });
      expect(await answer(t.api('POST', `/bots/${bot.id}/files/move`, { body: { from: 'nothing', to: p } }))).toEqual({ status: 400, code: 'validation_failed' });
    }
    const ok = 'c'.repeat(255);
    expect((await put(ok, 'fits')).status).toBe(200);
    expect(await (await t.api('GET', `/bots/${bot.id}/files?path=${ok}`)).text()).toBe('fits');
  });

  it('answers 416 to ranges beyond the file and 400 to ranges beyond any file', async () => {
    expect((await put('ranged', 'hello')).status).toBe(200);
    for (const range of ['bytes=99999999999999999999999-', 'bytes=0-99999999999999999999']) {
      expect(await answer(t.api('GET', `/bots/${bot.id}/files?path=ranged`, { headers: { range } })), range).toEqual({ status: 400, code: 'validation_failed' });
    }
    for (const range of ['bytes=9000000000000000-', 'bytes=5-9']) {
      expect(await answer(t.api('GET', `/bots/${bot.id}/files?path=ranged`, { headers: { range } })), range).toEqual({ status: 416, code: 'range_not_satisfiable' });
    }
    const tail = await t.api('GET', `/bots/${bot.id}/files?path=ranged`, { headers: { range: 'bytes=3-9000000000000000' } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe('lo');
  });

  it('reports a failed pull with a fixed message and a class, never the registry host’s own words', async () => {
    // A service on the host that is not a registry, answering with something it would be bad to leak.
    const banner = `secret-banner-${randomBytes(6).toString('hex')}`;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-leak': banner });
      res.end(`${banner}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // Through the API the reference is refused before the engine sees it.
      expect(await answer(t.api('PATCH', `/bots/${bot.id}`, { body: { image: `127.0.0.1:${port}/x:1` } }))).toEqual({ status: 400, code: 'image_invalid' });
      // The driver's own report, for a registry an operator did configure and that misbehaves.
      let caught: unknown;
      try {
        for await (const progress of podman.driver.pullImage(`127.0.0.1:${port}/berth-test/x:1`)) void progress;
      } catch (err) {
        caught = err;
      }
      expect(isAppError(caught)).toBe(true);
      const shown = JSON.stringify({ message: (caught as Error).message, details: (caught as { details: unknown }).details });
      expect(shown).not.toContain(banner);
      expect((caught as { details: Record<string, unknown> }).details).toEqual({ image: `127.0.0.1:${port}/berth-test/x:1`, reason: expect.any(String) as unknown });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
