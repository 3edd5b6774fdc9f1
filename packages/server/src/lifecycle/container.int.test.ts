import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, readSse, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { pushFreshRunnableImage, startTestRegistry } from '../testing/registry.js';

/** The container life cycle on the real Podman engine, through Berth's API in-process. */
describe('container lifecycle on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  const cdiFile = `/var/run/cdi/berth-test-${run}.json`;
  const cdiKind = `berth-test-${run}.example/device`;

  beforeAll(async () => {
    podman = await realPodman();
    fs.mkdirSync('/var/run/cdi', { recursive: true });
    fs.writeFileSync(
      cdiFile,
      JSON.stringify({
        cdiVersion: '0.5.0',
        kind: cdiKind,
        devices: [{ name: 'null0', containerEdits: { env: ['BERTH_TEST_CDI=null0'], deviceNodes: [{ path: '/dev/berth-null', hostPath: '/dev/null' }] } }],
      }),
    );
    t = await startTestBerth({ driver: podman.driver, cdiSpecDirs: ['/etc/cdi', '/var/run/cdi'] });
  });

  afterAll(async () => {
    await closeTestBerth(t);
    fs.rmSync(cdiFile, { force: true });
    await podman?.close();
  });

  async function newBot(name: string, body: Record<string, unknown> = {}): Promise<Bot> {
    return expectJson<Bot>(t.api('POST', '/bots', { body: { name: `${name}-${run}`, image: TEST_IMAGE, ...body } }), 201);
  }

  async function createContainer(bot: Bot, body: Record<string, unknown> = {}): Promise<Operation> {
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body }), 202);
    await t.berth.operations.settled(operation.id);
    return t.berth.operations.get(operation.id);
  }

  async function sh(bot: Bot, script: string): Promise<{ exitCode: number; stdout: string }> {
    const c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    const r = await podman.driver.exec(c.id, ['/bin/sh', '-c', script]);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8') };
  }

  it('streams create: operation, phases in order, done with the running container', async () => {
    const bot = await newBot('stream');
    const res = await t.api('POST', `/bots/${bot.id}/container`, { body: {}, headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const frames = await readSse(res);
    expect(frames[0]).toMatchObject({ event: 'operation', id: '1', data: { kind: 'create', botId: bot.id } });
    expect(frames.filter((f) => f.event === 'phase').map((f) => (f.data as { phase: string }).phase)).toEqual(['image', 'create', 'start', 'ready']);
    const done = frames.at(-1);
    expect(done?.event).toBe('done');
    const container = (done?.data as { container: Container }).container;
    expect(container).toMatchObject({ status: 'running', image: TEST_IMAGE, version: 1, runtime: 'podman', botId: bot.id, name: `berth-${bot.id}` });
    expect(container.imageId).toMatch(/^(sha256:)?[0-9a-f]{64}$/);
    expect(container.processes).toBeGreaterThanOrEqual(1);
    // Counted from the host's cgroup; the engine's own process list agrees.
    expect(container.processes).toBe(await podman.driver.countProcesses(container.id));
    expect(container.resources.pidsLimit).toBe(4096);
    // The engine agrees: Berth's labels, init process, data dir as the working directory.
    const inspect = JSON.parse(execFileSync('podman', ['inspect', container.id], { encoding: 'utf8' })) as [{ Config: { Labels: Record<string, string>; WorkingDir: string }; HostConfig: { Init: boolean; SecurityOpt: string[] | null; PidsLimit: number } }];
    expect(inspect[0].Config.Labels).toMatchObject({ 'berth.managed': 'true', 'berth.bot': bot.id, 'berth.version': '1' });
    expect(inspect[0].Config.WorkingDir).toBe('/data');
    expect(inspect[0].HostConfig.Init).toBe(true);
    expect(inspect[0].HostConfig.PidsLimit).toBe(4096);
    expect((await sh(bot, 'pwd')).stdout.trim()).toBe('/data');
  });

  it('pulls an absent image from a real registry with byte progress that never goes backwards', async () => {
    const registry = await startTestRegistry();
    try {
      const ref = await pushFreshRunnableImage(registry, { base: TEST_IMAGE, repoTag: `berth/pulltest:${run}` });
      const bot = await newBot('pull', { image: ref });
      const frames = await readSse(await t.api('POST', `/bots/${bot.id}/container`, { body: {}, headers: { accept: 'text/event-stream' } }));
      expect(frames.filter((f) => f.event === 'phase').map((f) => (f.data as { phase: string }).phase)).toEqual(['image', 'pull', 'create', 'start', 'ready']);
      const pulls = frames.filter((f) => f.event === 'pull').map((f) => f.data as { image: string; current: number; total: number; layers: { id: string; current: number; total: number }[] });
      expect(pulls.length).toBeGreaterThan(0);
      const last = pulls.at(-1)!;
      expect(last.image).toBe(ref);
      expect(last.total).toBeGreaterThan(0);
      expect(last.current).toBe(last.total);
      expect(last.layers.length).toBeGreaterThan(0);
      for (let i = 1; i < pulls.length; i++) {
        expect(pulls[i]!.current).toBeGreaterThanOrEqual(pulls[i - 1]!.current);
        expect(pulls[i]!.total).toBeGreaterThanOrEqual(pulls[i - 1]!.total);
      }
      expect(frames.at(-1)?.event).toBe('done');
      await t.berth.bots.remove(bot.id);
      execFileSync('podman', ['rmi', '--force', ref], { stdio: 'ignore' });
    } finally {
      await registry.stop();
    }
  });

  it('fails a create of an image that no registry has with image_not_found', async () => {
    const registry = await startTestRegistry();
    try {
      const bot = await newBot('missing', { image: `${registry.url.replace(/^https?:\/\//, '')}/berth/nothing:${run}` });
      const op = await createContainer(bot);
      expect(op.status).toBe('failed');
      expect(op.error?.code).toBe('image_not_found');
    } finally {
      await registry.stop();
    }
  });

  it('keeps a file written on the host data path through stop/start, delete/create and recreate', async () => {
    const bot = await newBot('data');
    expect((await createContainer(bot)).status).toBe('succeeded');
    const c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    fs.writeFileSync(path.join(c.paths.host, 'note.txt'), `hello ${run}`);
    expect((await sh(bot, 'cat /data/note.txt')).stdout).toBe(`hello ${run}`);

    const stopped = await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: {} }), 200);
    expect(stopped).toMatchObject({ status: 'stopped', processes: 0 });
    const started = await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/start`), 200);
    expect(started.status).toBe('running');
    expect((await sh(bot, 'cat /data/note.txt')).stdout).toBe(`hello ${run}`);

    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    expect(await podman.driver.inspectContainer(c.id)).toBeNull();
    expect((await createContainer(bot)).status).toBe('succeeded');
    expect((await sh(bot, 'cat /data/note.txt')).stdout).toBe(`hello ${run}`);

    await sh(bot, 'echo rootfs > /root-change');
    const before = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect((await createContainer(bot, { recreate: true })).kind).toBe('recreate');
    const after = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(after.id).not.toBe(before.id);
    expect(after.version).toBe(before.version + 1);
    expect((await sh(bot, 'cat /data/note.txt')).stdout).toBe(`hello ${run}`);
    expect((await sh(bot, 'test -e /root-change; echo $?')).stdout.trim()).toBe('1');
  });

  it('shows a container that ended on its own as exited with its exit code, never running', async () => {
    const bot = await newBot('dies');
    await createContainer(bot);
    // The init process forwards the signal to the container's main process, which ends.
    await sh(bot, 'kill -TERM 1').catch(() => undefined);
    let c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    for (let i = 0; i < 50 && c.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    }
    expect(c.status).toBe('exited');
    expect(c.exitCode).not.toBeNull();
    expect(c.processes).toBe(0);
  });

  it('injects CDI devices: the spec’s env var and device node are in the container and reported', async () => {
    const { devices } = await expectJson<{ devices: { name: string; specFile: string }[] }>(t.api('GET', '/cdi/devices'), 200);
    expect(devices).toContainEqual({ name: `${cdiKind}=null0`, specFile: cdiFile });
    const bot = await newBot('cdi', { cdiDevices: `${cdiKind}=null0` });
    const op = await createContainer(bot);
    expect(op.error).toBeNull();
    const c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(c.cdiDevices).toEqual([`${cdiKind}=null0`]);
    expect(c.devices).toContainEqual({ hostPath: '/dev/null', containerPath: '/dev/berth-null' });
    expect((await sh(bot, "tr '\\0' '\\n' < /proc/1/environ | grep BERTH_TEST_CDI; test -c /dev/berth-null && echo char-device")).stdout).toBe('BERTH_TEST_CDI=null0\nchar-device\n');
    // Stop and start keep them.
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: {} }), 200);
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/start`), 200);
    expect((await sh(bot, "tr '\\0' '\\n' < /proc/1/environ | grep BERTH_TEST_CDI")).stdout).toBe('BERTH_TEST_CDI=null0\n');
  });

  it('fails an unknown CDI device with cdi_unresolvable and makes no container', async () => {
    const bot = await newBot('cdi-bad', { cdiDevices: [`${cdiKind}=null0`, `${cdiKind}=missing`] });
    const op = await createContainer(bot);
    expect(op.status).toBe('failed');
    expect(op.error).toMatchObject({ code: 'cdi_unresolvable' });
    expect(op.error?.message).toContain('unresolvable CDI devices');
    expect(op.error?.message).toContain(`${cdiKind}=missing`);
    expect((await expectJson<{ error: { code: string } }>(t.api('GET', `/bots/${bot.id}/container`), 404)).error.code).toBe('container_not_found');
    expect(await podman.driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).toEqual([]);
  });

  it('runs network "none" without any interface but loopback', async () => {
    const bot = await newBot('offline', { network: 'none' });
    await createContainer(bot);
    expect((await sh(bot, 'ls /sys/class/net')).stdout.split(/\s+/).filter(Boolean)).toEqual(['lo']);
  });

  it('lets one of two concurrent creates win; the other gets 409', async () => {
    const bot = await newBot('race');
    const [a, b] = await Promise.all([t.api('POST', `/bots/${bot.id}/container`, { body: {} }), t.api('POST', `/bots/${bot.id}/container`, { body: {} })]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const winner = (a.status === 202 ? a : b);
    const loser = (a.status === 202 ? b : a);
    const { error } = (await loser.json()) as { error: { code: string } };
    expect(['operation_in_progress', 'container_exists']).toContain(error.code);
    const { operation } = (await winner.json()) as { operation: Operation };
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    expect(await podman.driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).toHaveLength(1);
  });
});
