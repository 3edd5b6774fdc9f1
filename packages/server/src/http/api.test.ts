import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, readSse, startTestBerth, type TestBerth, writeTestCdiSpec } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

describe('Berth API over the fake driver', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE], pullable: ['registry.test/pulled:1'], cdiDevices: ['berth.test/device=null0'] });
    t = await startTestBerth({ driver });
    writeTestCdiSpec(path.join(t.home, 'cdi'), [{ name: 'null0', env: 'BERTH_TEST_CDI=null0' }]);
  });
  afterEach(async () => {
    await t.close();
  });

  async function createBot(body: Record<string, unknown> = {}): Promise<Bot> {
    return expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'alpha', ...body } }), 201);
  }

  async function createContainer(bot: string, body: Record<string, unknown> = {}): Promise<Operation> {
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot}/container`, { body }), 202);
    await t.berth.operations.settled(operation.id);
    return t.berth.operations.get(operation.id);
  }

  describe('authentication', () => {
    it('answers 401 in the error envelope without a token or with a wrong one', async () => {
      for (const token of [null, 'not-the-token']) {
        const res = await t.api('GET', '/bots', { token });
        expect(res.status).toBe(401);
        const body = (await res.json()) as { error: { code: string; requestId: string } };
        expect(body.error.code).toBe('unauthorized');
        expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
      }
    });

    it('serves /healthz without a token and the OpenAPI document with one', async () => {
      expect((await t.berth.app.request('/healthz')).status).toBe(200);
      expect((await t.api('GET', '/openapi.json', { token: null })).status).toBe(401);
      const doc = await expectJson<{ paths: Record<string, unknown> }>(t.api('GET', '/openapi.json'), 200);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/bots', '/bots/{bot}/container', '/operations/{op}/events', '/cdi/devices']));
    });

    it('reports the engine in /healthz: 200 ok when it answers, 503 degraded when it is gone or frozen', async () => {
      expect(await expectJson(t.berth.app.request('/healthz'), 200)).toEqual({ status: 'ok', engine: 'up', runtime: 'fake' });
      driver.engineFault = 'runtime_unavailable';
      expect(await expectJson(t.berth.app.request('/healthz'), 503)).toEqual({ status: 'degraded', engine: 'down', runtime: 'fake' });
      driver.engineFault = 'runtime_timeout';
      expect(await expectJson(t.berth.app.request('/healthz'), 503)).toEqual({ status: 'degraded', engine: 'timeout', runtime: 'fake' });
      driver.engineFault = null;
      expect((await t.berth.app.request('/healthz')).status).toBe(200);
    });
  });

  describe('bots', () => {
    it('creates a bot with defaults and finds it by id and by name', async () => {
      const bot = await createBot();
      expect(bot).toMatchObject({ name: 'alpha', image: IMAGE, cdiDevices: [], network: 'bridge', status: null, version: 0 });
      expect(bot.resources).toEqual({ cpus: null, memoryMb: null, pidsLimit: 4096 });
      expect((await expectJson<Bot>(t.api('GET', `/bots/${bot.id}`), 200)).name).toBe('alpha');
      expect((await expectJson<Bot>(t.api('GET', '/bots/alpha'), 200)).id).toBe(bot.id);
      expect((await expectJson<{ bots: Bot[] }>(t.api('GET', '/bots'), 200)).bots.map((b) => b.name)).toEqual(['alpha']);
    });

    it('rejects bad input with validation_failed and changes nothing', async () => {
      for (const body of [{ name: 'Bad Name' }, { name: '' }, { name: 'x'.repeat(64) }, { name: 'ok', network: 'host' }, { name: 'ok', cdiDevices: 'not-a-device' }, { name: 'ok', extra: 1 }]) {
        const err = await expectJson<{ error: { code: string; message: string } }>(t.api('POST', '/bots', { body }), 400);
        expect(err.error.code).toBe('validation_failed');
      }
      expect((await expectJson<{ bots: Bot[] }>(t.api('GET', '/bots'), 200)).bots).toEqual([]);
    });

    it('answers bot_name_taken for a second bot with the same name', async () => {
      await createBot();
      const err = await expectJson<{ error: { code: string } }>(t.api('POST', '/bots', { body: { name: 'alpha' } }), 409);
      expect(err.error.code).toBe('bot_name_taken');
    });

    it('takes CDI devices as a newline/comma string, trimmed and de-duplicated', async () => {
      const bot = await createBot({ cdiDevices: ' berth.test/device=null0 \nvendor.com/gpu=1, berth.test/device=null0' });
      expect(bot.cdiDevices).toEqual(['berth.test/device=null0', 'vendor.com/gpu=1']);
    });

    it('answers bot_not_found for an unknown bot', async () => {
      const err = await expectJson<{ error: { code: string } }>(t.api('GET', '/bots/nobody'), 404);
      expect(err.error.code).toBe('bot_not_found');
    });
  });

  describe('container lifecycle', () => {
    it('creates and starts a container, reported as the engine has it', async () => {
      const bot = await createBot({ env: { GREETING: 'hi' } });
      const op = await createContainer('alpha');
      expect(op).toMatchObject({ kind: 'create', status: 'succeeded', phase: 'ready' });
      const c = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(c).toMatchObject({ botId: bot.id, name: `berth-${bot.id}`, status: 'running', image: IMAGE, version: 1, pendingRecreate: false, runtime: driver.name });
      expect(c.paths).toEqual({ host: path.join(t.home, 'bots', bot.id, 'data'), container: '/data' });
      expect(fs.statSync(c.paths.host).isDirectory()).toBe(true);
      const state = await driver.inspectContainer(c.id);
      expect(state?.labels).toMatchObject({ 'berth.managed': 'true', 'berth.bot': bot.id, 'berth.version': '1' });
    });

    it('streams the create operation as SSE: operation first, phases in order, done last', async () => {
      await createBot({ image: 'registry.test/pulled:1' });
      const res = await t.api('POST', '/bots/alpha/container', { body: {}, headers: { accept: 'text/event-stream' } });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const frames = await readSse(res);
      expect(frames[0]?.event).toBe('operation');
      expect(frames.at(-1)?.event).toBe('done');
      const phases = frames.filter((f) => f.event === 'phase').map((f) => (f.data as { phase: string }).phase);
      expect(phases).toEqual(['image', 'pull', 'create', 'start', 'ready']);
      const ids = frames.map((f) => Number(f.id));
      expect(ids).toEqual(ids.map((_, i) => i + 1));
      const pulls = frames.filter((f) => f.event === 'pull').map((f) => f.data as { current: number; total: number });
      expect(pulls.length).toBeGreaterThan(0);
      for (let i = 1; i < pulls.length; i++) expect(pulls[i]!.current).toBeGreaterThanOrEqual(pulls[i - 1]!.current);
      expect((frames.at(-1)?.data as { container: Container }).container.status).toBe('running');
    });

    it('replays an operation’s events after Last-Event-ID', async () => {
      await createBot();
      const op = await createContainer('alpha');
      const all = await readSse(await t.api('GET', `/operations/${op.id}/events`));
      const tail = await readSse(await t.api('GET', `/operations/${op.id}/events`, { headers: { 'last-event-id': '2' } }));
      expect(tail.map((f) => f.id)).toEqual(all.slice(2).map((f) => f.id));
      expect(tail.at(-1)?.event).toBe('done');
    });

    it('allows one operation at a time per bot', async () => {
      await createBot();
      const [a, b] = await Promise.all([t.api('POST', '/bots/alpha/container', { body: {} }), t.api('POST', '/bots/alpha/container', { body: {} })]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([202, 409]);
      const loser = (a.status === 409 ? a : b);
      const err = (await loser.json()) as { error: { code: string; details: { operationId: string } } };
      expect(['operation_in_progress', 'container_exists']).toContain(err.error.code);
    });

    it('answers container_exists unless recreate, which keeps the data dir and records a new version', async () => {
      const bot = await createBot();
      await createContainer('alpha');
      const err = await expectJson<{ error: { code: string } }>(t.api('POST', '/bots/alpha/container', { body: {} }), 409);
      expect(err.error.code).toBe('container_exists');
      const dataFile = path.join(t.home, 'bots', bot.id, 'data', 'keep.txt');
      fs.writeFileSync(dataFile, 'kept');
      const first = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      const op = await createContainer('alpha', { recreate: true });
      expect(op).toMatchObject({ kind: 'recreate', status: 'succeeded' });
      const second = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(second.id).not.toBe(first.id);
      expect(second.version).toBe(2);
      expect(fs.readFileSync(dataFile, 'utf8')).toBe('kept');
    });

    it('stops and starts; a container that dies on its own is exited with its code', async () => {
      await createBot();
      await createContainer('alpha');
      const stopped = await expectJson<Container>(t.api('POST', '/bots/alpha/container/stop', { body: {} }), 200);
      expect(stopped.status).toBe('stopped');
      expect(stopped.processes).toBe(0);
      const started = await expectJson<Container>(t.api('POST', '/bots/alpha/container/start', {}), 200);
      expect(started.status).toBe('running');
      driver.simulateExit(started.id, 3);
      const died = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(died).toMatchObject({ status: 'exited', exitCode: 3 });
    });

    it('deletes the container and keeps the data dir unless purgeData', async () => {
      const bot = await createBot();
      await createContainer('alpha');
      const dataDir = path.join(t.home, 'bots', bot.id, 'data');
      fs.writeFileSync(path.join(dataDir, 'f'), 'x');
      expect((await t.api('DELETE', '/bots/alpha/container')).status).toBe(204);
      expect((await expectJson<{ error: { code: string } }>(t.api('GET', '/bots/alpha/container'), 404)).error.code).toBe('container_not_found');
      expect(fs.readFileSync(path.join(dataDir, 'f'), 'utf8')).toBe('x');
      await createContainer('alpha');
      expect((await t.api('DELETE', '/bots/alpha/container?purgeData=true')).status).toBe(204);
      expect(fs.existsSync(dataDir)).toBe(false);
    });

    it('answers container_not_found for start/stop/info without a container', async () => {
      await createBot();
      for (const [method, p] of [['GET', '/bots/alpha/container'], ['POST', '/bots/alpha/container/start'], ['POST', '/bots/alpha/container/stop']] as const) {
        expect((await expectJson<{ error: { code: string } }>(t.api(method, p, method === 'POST' ? { body: {} } : {}), 404)).error.code).toBe('container_not_found');
      }
    });
  });

  describe('CDI devices', () => {
    it('lists the host’s devices', async () => {
      const { devices } = await expectJson<{ devices: { name: string }[] }>(t.api('GET', '/cdi/devices'), 200);
      expect(devices.map((d) => d.name)).toEqual(['berth.test/device=null0']);
    });

    it('fails an unknown device with cdi_unresolvable before any container is made', async () => {
      await createBot({ cdiDevices: ['berth.test/device=null0', 'berth.test/device=nope'] });
      const op = await createContainer('alpha');
      expect(op.status).toBe('failed');
      expect(op.error?.code).toBe('cdi_unresolvable');
      expect(op.error?.message).toContain('unresolvable CDI devices');
      expect(op.error?.message).toContain('berth.test/device=nope');
      expect(await driver.listContainers({ labels: ['berth.managed=true'] })).toEqual([]);
    });

    it('reports the effective devices and marks pendingRecreate until a recreate applies a change', async () => {
      await createBot({ cdiDevices: 'berth.test/device=null0' });
      await createContainer('alpha');
      let c = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(c.cdiDevices).toEqual(['berth.test/device=null0']);
      await expectJson<Bot>(t.api('PATCH', '/bots/alpha', { body: { cdiDevices: [] } }), 200);
      c = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(c).toMatchObject({ pendingRecreate: true, cdiDevices: ['berth.test/device=null0'] });
      await createContainer('alpha', { recreate: true });
      c = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
      expect(c).toMatchObject({ pendingRecreate: false, cdiDevices: [], version: 2 });
    });
  });

  it('keeps an operation running when the client that started it goes away', async () => {
    await createBot({ image: 'registry.test/pulled:1' });
    const res = await t.api('POST', '/bots/alpha/container', { body: {}, headers: { accept: 'text/event-stream' } });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('event: operation');
    const opId = (JSON.parse(/data: (.*)/.exec(first)![1]!) as { id: string }).id;
    await reader.cancel();
    await t.berth.operations.settled(opId);
    expect((await t.berth.operations.get(opId)).status).toBe('succeeded');
    expect((await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200)).status).toBe('running');
  });

  it('streams bot and container changes on /events', async () => {
    const res = await t.api('GET', '/events');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain('event: ready');
    const bot = await createBot();
    while (!text.includes('event: bot.created')) text += decoder.decode((await reader.read()).value);
    await createContainer('alpha');
    while (!text.includes('event: container.changed')) text += decoder.decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain(`"botId":"${bot.id}"`);
  });

  it('deletes a bot with its container and data', async () => {
    const bot = await createBot();
    await createContainer('alpha');
    expect((await t.api('DELETE', '/bots/alpha')).status).toBe(204);
    expect(fs.existsSync(path.join(t.home, 'bots', bot.id))).toBe(false);
    expect(await driver.listContainers({ labels: ['berth.managed=true'] })).toEqual([]);
    expect((await t.api('GET', '/bots/alpha')).status).toBe(404);
  });
});
