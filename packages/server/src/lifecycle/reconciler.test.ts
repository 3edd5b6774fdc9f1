import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

describe('start-up reconciliation', () => {
  const open: TestBerth[] = [];
  const homes: string[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close().catch(() => undefined);
    for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
  });

  it('marks an interrupted operation failed, adopts the container it made, and leaves the data dir alone', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reconcile-'));
    homes.push(home);
    const driver = new FakeDriver({ images: [IMAGE] });
    const first = await startTestBerth({ driver, home });
    const bot = await first.berth.bots.create({ name: 'alpha' });
    // Simulate a crash after the engine made the container but before Berth recorded it.
    const dataDir = first.berth.paths.dataDir(bot.id);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'precious'), 'data');
    await first.store.insertOperation({ id: 'op_interrupted', bot_id: bot.id, kind: 'create', status: 'running', phase: 'create', error: null, started_at: new Date().toISOString(), finished_at: null });
    const { id } = await driver.createContainer({
      name: `berth-${bot.id}`,
      image: IMAGE,
      labels: { 'berth.managed': 'true', 'berth.bot': bot.id, 'berth.version': '1', 'berth.cdi': '' },
      env: {},
      dataMount: { hostPath: dataDir, containerPath: '/data' },
      cdiDevices: [],
      resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
      network: 'bridge',
    });
    const stray = await driver.createContainer({
      name: 'berth-bot_unknown',
      image: IMAGE,
      labels: { 'berth.managed': 'true', 'berth.bot': 'bot_unknown', 'berth.version': '1', 'berth.cdi': '' },
      env: {},
      dataMount: { hostPath: dataDir, containerPath: '/data' },
      cdiDevices: [],
      resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
      network: 'bridge',
    });
    await first.store.close();

    // The next start, over the same home and engine.
    const second = await startTestBerth({ driver, home });
    open.push(second);
    const op = await second.berth.operations.get('op_interrupted');
    expect(op.status).toBe('failed');
    expect(op.error?.message).toMatch(/interrupted/);
    const c = await second.berth.containers.info('alpha');
    expect(c).toMatchObject({ id, version: 1 });
    expect((await second.store.listVersions(bot.id)).map((v) => v.version)).toEqual([1]);
    expect(fs.readFileSync(path.join(dataDir, 'precious'), 'utf8')).toBe('data');
    expect(await driver.inspectContainer(stray.id)).not.toBeNull();
    const info = (await (await second.api('GET', '/info')).json()) as { unmanagedContainers: { id: string }[] };
    expect(info.unmanagedContainers.map((u) => u.id)).toEqual([stray.id]);
    // Usable again: the next operation is accepted.
    const stop = await second.api('POST', '/bots/alpha/container/stop', { body: {} });
    expect(stop.status).toBe(200);
  });
});
