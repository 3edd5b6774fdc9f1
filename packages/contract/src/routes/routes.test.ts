import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Bot, Container } from '../schemas.js';
import type { Snapshot } from '../snapshots.js';
import { routes, type ResponseBody, type RouteDefinition } from './index.js';

const all = Object.entries(routes).flatMap(([capability, group]) =>
  Object.entries(group as Record<string, RouteDefinition>).map(([name, route]) => ({ capability, name, route })),
);

/** The route definitions a server registers and a client calls by. */
describe('route definitions', () => {
  it('give each route one method and path, an operationId and a summary', () => {
    const keys = all.map(({ route }) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    const ids = all.map(({ route }) => route.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { capability, name, route } of all) {
      expect(route.summary, `${capability}.${name}`).not.toBe('');
      expect(route.path, `${capability}.${name}`).toMatch(/^\/[a-z{}/-]*$/);
      // Every path parameter has a schema.
      const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(Object.keys(route.request?.params?.shape ?? {}).sort(), `${capability}.${name}`).toEqual(params.sort());
    }
  });

  it('type their answers, so a client knows what it gets', () => {
    expectTypeOf<ResponseBody<typeof routes.lifecycle.getBot, 200>>().toEqualTypeOf<Bot>();
    expectTypeOf<ResponseBody<typeof routes.snapshots.create, 201>>().toEqualTypeOf<Snapshot>();
    expectTypeOf<ResponseBody<typeof routes.lifecycle.getContainer, 200>>().toEqualTypeOf<Container>();
    expect(routes.lifecycle.getBot.responses[200].content['application/json'].schema.parse(bot)).toEqual(bot);
    expectTypeOf(routes.snapshots.create.path).toEqualTypeOf<'/bots/{bot}/snapshots'>();
    expectTypeOf(routes.snapshots.create.method).toEqualTypeOf<'post'>();
    expect(routes.snapshots.create).toMatchObject({ method: 'post', path: '/bots/{bot}/snapshots' });
  });

  it('answer every error in the one envelope, its code from the error table', () => {
    const schema = routes.lifecycle.getBot.responses[404].content['application/json'].schema;
    expect(schema.safeParse({ error: { code: 'bot_not_found', message: 'no bot "x"', requestId: 'r' } }).success).toBe(true);
    expect(schema.safeParse({ error: { code: 'no_such_code', message: 'm', requestId: 'r' } }).success).toBe(false);
  });
});

const bot: Bot = {
  id: 'bot_1',
  name: 'alpha',
  image: 'busybox',
  cdiDevices: [],
  resources: { cpus: null, memoryMb: null, pidsLimit: 1024 },
  network: 'bridge',
  env: {},
  diskLimitMb: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  status: null,
  version: 0,
};
