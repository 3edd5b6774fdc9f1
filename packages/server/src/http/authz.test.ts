import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedBotToken } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

/**
 * The authorisation matrix: every route of the OpenAPI document (read from the running app, so a new
 * route is covered the day it is added) × every kind of caller, each answering as SPEC §3 says.
 */

const IMAGE = 'localhost/berth/test:busybox';

/** What a bot token reaches on its own bot (SPEC §3 "The bot's tools"); every other route is admin-only. */
function reachableByBotToken(method: string, path: string): boolean {
  if (path === '/bots/{bot}/container') return method === 'get';
  return /^\/bots\/\{bot\}\/(exec|tasks|files|terminal|mcp)(\/|$)/.test(path);
}

/** Routes that need no token by design; anything else answering without one is a hole. */
const PUBLIC_ROUTES = new Set(['post /session']);

async function newBerth(): Promise<TestBerth> {
  return startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
}

// The route list comes from the app itself.
const routes: { method: string; path: string }[] = await (async () => {
  const t = await newBerth();
  try {
    const doc = (await (await t.api('GET', '/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    return Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'put', 'post', 'delete', 'patch', 'head'].includes(m))
        .map((method) => ({ method, path })),
    );
  } finally {
    await t.close();
  }
})();

interface World {
  t: TestBerth;
  alphaId: string;
  own: IssuedBotToken;
  other: IssuedBotToken;
  revoked: IssuedBotToken;
}

/** alpha (with a running container) and beta, each with a token, and a revoked token of alpha. */
async function world(): Promise<World> {
  const t = await newBerth();
  const ok = async <T>(res: Promise<Response>, status: number): Promise<T> => {
    const r = await res;
    expect(r.status).toBe(status);
    return (await r.json()) as T;
  };
  const alpha = await ok<{ id: string }>(t.api('POST', '/bots', { body: { name: 'alpha' } }), 201);
  await ok(t.api('POST', '/bots', { body: { name: 'beta' } }), 201);
  const { operation } = await ok<{ operation: { id: string } }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
  await t.berth.operations.settled(operation.id);
  const own = await ok<IssuedBotToken>(t.api('POST', '/bots/alpha/tokens', { body: { name: 'own' } }), 201);
  const other = await ok<IssuedBotToken>(t.api('POST', '/bots/beta/tokens', { body: { name: 'other' } }), 201);
  const revoked = await ok<IssuedBotToken>(t.api('POST', '/bots/alpha/tokens', { body: { name: 'revoked' } }), 201);
  expect((await t.api('DELETE', `/bots/alpha/tokens/${revoked.id}`)).status).toBe(204);
  return { t, alphaId: alpha.id, own, other, revoked };
}

function concrete(path: string, bot: string): string {
  return path.replace('{bot}', encodeURIComponent(bot)).replace(/\{[^}]+\}/g, 'x_missing');
}

/** Calls a route the way a client would and answers its status and, for refusals, the error code. */
async function call(t: TestBerth, method: string, path: string, token: string | null): Promise<{ status: number; code?: string }> {
  const hasBody = ['post', 'put', 'patch'].includes(method);
  const res = await t.api(method.toUpperCase(), path, { token, ...(hasBody && { body: {} }) });
  if (res.status === 401 || res.status === 403) {
    const body = (await res.json()) as { error: { code: string } };
    return { status: res.status, code: body.error.code };
  }
  // Streams (SSE) stay open: the status is all the matrix needs.
  await res.body?.cancel();
  return { status: res.status };
}

const allowed = (status: number) => status !== 401 && status !== 403;

describe('authorisation matrix', () => {
  it('covers the API: the document lists the bot-scoped tools and the admin routes', () => {
    const paths = routes.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(expect.arrayContaining(['get /bots', 'post /bots/{bot}/tokens', 'get /bots/{bot}/container', 'post /bots/{bot}/container/stop']));
    // The tools' own routes are all among them, bot-scoped: mkdir and glob, a task's wait and output too.
    const tools = ['post /bots/{bot}/files/mkdir', 'get /bots/{bot}/files/glob', 'get /bots/{bot}/tasks/{task}/wait', 'get /bots/{bot}/tasks/{task}/output'];
    expect(paths).toEqual(expect.arrayContaining(tools));
    for (const key of tools) expect(reachableByBotToken(...(key.split(' ') as [string, string])), key).toBe(true);
    expect(routes.filter((r) => reachableByBotToken(r.method, r.path)).length).toBeGreaterThan(0);
  });

  // One world per route; the admin's call, which may change it (a delete, a create), comes last.
  describe.each(routes)('$method $path', ({ method, path }) => {
    let w: World;
    beforeAll(async () => {
      w = await world();
    });
    afterAll(async () => {
      await w.t.close();
    });

    const isPublic = PUBLIC_ROUTES.has(`${method} ${path}`);
    const botScoped = reachableByBotToken(method, path);

    it.skipIf(isPublic)('no token and a wrong token: 401 unauthorized', async () => {
      const p = concrete(path, 'alpha');
      for (const token of [null, 'not-a-token', 'berth_bot_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', w.revoked.token]) {
        expect({ token, ...(await call(w.t, method, p, token)) }).toEqual({ token, status: 401, code: 'unauthorized' });
      }
    });

    it('another bot’s token: 403 forbidden, whether the bot it names exists or not', async () => {
      for (const bot of ['alpha', w.alphaId, 'no-such-bot']) {
        expect({ bot, ...(await call(w.t, method, concrete(path, bot), w.other.token)) }).toEqual({ bot, status: 403, code: 'forbidden' });
      }
    });

    it(botScoped ? 'its own bot’s token: allowed, by name and by id' : 'its own bot’s token: 403 forbidden', async () => {
      for (const bot of ['alpha', w.alphaId]) {
        const r = await call(w.t, method, concrete(path, bot), w.own.token);
        if (botScoped) expect({ bot, allowed: allowed(r.status), r }).toMatchObject({ bot, allowed: true });
        else expect({ bot, ...r }).toEqual({ bot, status: 403, code: 'forbidden' });
      }
    });

    it('the admin token: allowed', async () => {
      const r = await call(w.t, method, concrete(path, 'alpha'), TEST_ADMIN_TOKEN);
      expect({ allowed: allowed(r.status), r }).toMatchObject({ allowed: true });
    });
  });
});

describe('authorisation beyond the document', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(async () => {
    await w.t.close();
  });

  it('the OpenAPI document and unknown routes are admin-only', async () => {
    expect(await call(w.t, 'get', '/openapi.json', w.own.token)).toEqual({ status: 403, code: 'forbidden' });
    expect(await call(w.t, 'get', '/openapi.json', null)).toEqual({ status: 401, code: 'unauthorized' });
    expect((await call(w.t, 'get', '/openapi.json', TEST_ADMIN_TOKEN)).status).toBe(200);
    expect(await call(w.t, 'get', '/bots/alpha/nothing-here', w.own.token)).toEqual({ status: 403, code: 'forbidden' });
    expect(await call(w.t, 'post', '/bots/alpha/container/start', w.own.token)).toEqual({ status: 403, code: 'forbidden' });
  });

  it('a bot token follows its bot through a rename, and loses a name the bot gave up', async () => {
    expect((await w.t.api('PATCH', '/bots/alpha', { body: { name: 'gamma' } })).status).toBe(200);
    expect((await call(w.t, 'get', '/bots/gamma/container', w.own.token)).status).toBe(200);
    expect(await call(w.t, 'get', '/bots/alpha/container', w.own.token)).toEqual({ status: 403, code: 'forbidden' });
  });

  it('paths that dress another route up as a bot-scoped one are refused', async () => {
    for (const p of ['/bots/alpha/container/stop', '/bots/alpha/exec/../container/start', '/bots//alpha/exec', '/bots/beta/../alpha/tokens', '/bots/alpha%2F..%2Fbeta/exec']) {
      const r = await call(w.t, 'post', p, w.own.token);
      expect({ p, ...r }).toMatchObject({ p, status: 403 });
    }
  });
});
