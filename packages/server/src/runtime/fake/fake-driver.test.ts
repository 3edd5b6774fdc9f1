import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import type { ContainerSpec } from '../driver.js';
import { runtimeDriverContract } from '../driver.contract.js';
import { FakeDriver } from './fake-driver.js';

const TEST_IMAGE = 'localhost/berth/test:busybox';

runtimeDriverContract('fake', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-fake-contract-'));
  return Promise.resolve({
    driver: new FakeDriver({
      images: [TEST_IMAGE],
      pullable: ['127.0.0.1:5000/berth/pulltest:fake'],
      cdiDevices: ['berth.test/device=null0'],
    }),
    testImage: TEST_IMAGE,
    pullableImage: '127.0.0.1:5000/berth/pulltest:fake',
    knownCdiDevice: 'berth.test/device=null0',
    dataDir,
    simulatedExec: 'FakeDriver runs no processes: its exec knows echo, cat, pwd, env, true and false only',
    cleanup: () => {
      rmSync(dataDir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});

describe('FakeDriver test hooks', () => {
  const spec = (name: string): ContainerSpec => ({
    name,
    image: TEST_IMAGE,
    labels: { 'berth.managed': 'true' },
    env: {},
    dataMount: { hostPath: '/nonexistent', containerPath: '/data' },
    cdiDevices: [],
    resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
    network: 'bridge',
  });

  it('simulateExit makes a running container exit on its own with that code', async () => {
    const d = new FakeDriver({ images: [TEST_IMAGE] });
    const { id } = await d.createContainer(spec('berth-a'));
    await d.startContainer(id);
    d.simulateExit(id, 137);
    const st = await d.inspectContainer(id);
    expect(st?.state).toBe('exited');
    expect(st?.exitCode).toBe(137);
    expect(st?.finishedAt).not.toBeNull();
    expect(await d.countProcesses(id)).toBe(0);
    await expect(d.exec(id, ['echo'])).rejects.toSatisfy((e) => isAppError(e, 'container_not_running'));
    expect(() => d.simulateExit(id, 1)).toThrow(/not running/);
  });

  it('delayMs makes calls take time, so overlapping calls can be tested', async () => {
    const d = new FakeDriver({ images: [TEST_IMAGE], delayMs: { createContainer: 50 } });
    const started = performance.now();
    const results = await Promise.allSettled([d.createContainer(spec('berth-same')), d.createContainer(spec('berth-same'))]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    // Both ran concurrently: one won the name, the other got container_exists.
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected');
    expect(isAppError(rejected?.reason, 'container_exists')).toBe(true);
    expect(d.calls.filter((c) => c.method === 'createContainer')).toHaveLength(2);
  });

  it('a stop of a created container leaves it created, like Podman', async () => {
    const d = new FakeDriver({ images: [TEST_IMAGE] });
    const { id } = await d.createContainer(spec('berth-b'));
    await d.stopContainer(id, { timeoutSeconds: 1 });
    expect((await d.inspectContainer(id))?.state).toBe('created');
  });

  it('pull adds the image; a pull of an unknown image fails with image_not_found', async () => {
    const d = new FakeDriver({ pullable: ['x.test/a:1'] });
    expect(await d.inspectImage('x.test/a:1')).toBeNull();
    const steps = [];
    for await (const p of d.pullImage('x.test/a:1')) steps.push(p);
    expect(steps.length).toBeGreaterThan(2);
    expect(await d.inspectImage('x.test/a:1')).not.toBeNull();
    const consume = async (): Promise<void> => {
      for await (const p of d.pullImage('x.test/b:1')) steps.push(p);
    };
    await expect(consume()).rejects.toSatisfy((e) => isAppError(e, 'image_not_found'));
  });

  it('records the spec a container was created with', async () => {
    const d = new FakeDriver({ images: [TEST_IMAGE] });
    await d.createContainer({ ...spec('berth-c'), resources: { cpus: 1.5, memoryMb: 512, pidsLimit: 100 }, network: 'none' });
    expect(d.specOf('berth-c')).toMatchObject({ resources: { cpus: 1.5, memoryMb: 512, pidsLimit: 100 }, network: 'none' });
  });
});
