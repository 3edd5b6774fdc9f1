import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { isAppError } from '../errors.js';
import type { ContainerSpec, PullProgress, RuntimeDriver } from './driver.js';
import { execStreamContract } from './exec-stream.contract.js';

/** What a driver's test file hands to the shared suite. */
export interface ContractTarget {
  driver: RuntimeDriver;
  /** A local image whose default command keeps running (e.g. `sleep`), with a POSIX userland. */
  testImage: string;
  /** An image the driver can pull that is not present locally; enables the pull tests. */
  pullableImage?: string;
  /** A CDI name the host's specs declare; enables the CDI injection test. */
  knownCdiDevice?: string;
  /** What the known device's spec injects, checked from inside the container (real engines only). */
  knownCdiEdits?: { env: string; deviceNode: string };
  /** A host directory the suite may fill with per-container data dirs. */
  dataDir: string;
  /**
   * Set (to the reason) when exec is simulated and there is no kernel underneath: the tests that
   * look at the container's network namespace or injected devices from inside are skipped, with
   * this reason printed.
   */
  simulatedExec?: string;
  cleanup(): Promise<void>;
}

const CONTAINER_PATH = '/data';

/**
 * The behaviour every `RuntimeDriver` must show, observed through the driver itself (and from
 * inside the container through exec). Run against the fake driver and every real engine present.
 */
export function runtimeDriverContract(name: string, makeDriver: () => Promise<ContractTarget>): void {
  describe(`RuntimeDriver contract: ${name}`, () => {
    let t: ContractTarget;
    let driver: RuntimeDriver;
    const run = randomBytes(4).toString('hex');
    const runLabel = `berth.test=${run}`;
    const timings: Record<string, number> = {};

    const spec = (suffix: string, over: Partial<ContainerSpec> = {}): ContainerSpec => {
      const hostPath = join(t.dataDir, `${run}-${suffix}`);
      mkdirSync(hostPath, { recursive: true });
      return {
        name: `berth-test-${run}-${suffix}`,
        image: t.testImage,
        labels: { 'berth.test': run, 'berth.managed': 'true', 'berth.bot': `${run}-${suffix}` },
        env: { BERTH_CONTRACT: run },
        dataMount: { hostPath, containerPath: CONTAINER_PATH },
        cdiDevices: [],
        resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
        network: 'bridge',
        ...over,
      };
    };

    const needsRealExec = (ctx: TestContext): void => {
      if (t.simulatedExec) {
        const note = `skipped for ${name}: ${t.simulatedExec}`;
        console.warn(`[driver contract] ${ctx.task.name}: ${note}`);
        ctx.skip(note);
      }
    };

    /** Parts that look inside the container are left out for a simulated exec, with a note. */
    const needsRealExecOrNote = (ctx: TestContext): void => {
      if (t.simulatedExec) console.warn(`[driver contract] ${ctx.task.name}: file checks inside the container left out for ${name}: ${t.simulatedExec}`);
    };

    const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await fn();
      } finally {
        timings[label] = Math.round(performance.now() - started);
      }
    };

    beforeAll(async () => {
      t = await makeDriver();
      driver = t.driver;
    });

    afterAll(async () => {
      if (!driver) return;
      try {
        for (const c of await driver.listContainers({ labels: [runLabel] })) await driver.removeContainer(c.id);
        expect(await driver.listContainers({ labels: [runLabel] })).toEqual([]);
        for (const i of await driver.listImages({ labels: [runLabel] })) for (const ref of i.names.length > 0 ? i.names : [i.id]) await driver.removeImage(ref);
        expect(await driver.listImages({ labels: [runLabel] })).toEqual([]);
        for (const n of await driver.listNetworks({ labels: [runLabel] })) await driver.removeNetwork(n.name);
      } finally {
        if (Object.keys(timings).length > 0) console.info(`[driver contract] ${name} timings (ms): ${JSON.stringify(timings)}`);
        await t.cleanup();
      }
    });

    it('answers ping with a version and states its capabilities', async () => {
      const { version } = await driver.ping();
      expect(version).toMatch(/\S/);
      const caps = await driver.capabilities();
      for (const key of ['cdi', 'pullProgress', 'resources', 'networkNone'] as const) expect(typeof caps[key]).toBe('boolean');
    });

    it('inspects a local image and answers null for a missing one', async () => {
      const image = await driver.inspectImage(t.testImage);
      expect(image).not.toBeNull();
      expect(image?.id).toMatch(/\S/);
      expect(Array.isArray(image?.cmd)).toBe(true);
      expect(await driver.inspectImage(`localhost/berth/missing-${run}:nope`)).toBeNull();
    });

    describe('one container through its life', () => {
      let id = '';
      let s: ContainerSpec;

      it('creates a container that carries its labels and is not yet running', async () => {
        s = spec('life');
        id = (await timed('create', () => driver.createContainer(s))).id;
        expect(id).toMatch(/\S/);
        const st = await driver.inspectContainer(id);
        expect(st).not.toBeNull();
        expect(st?.id).toBe(id);
        expect(st?.name).toBe(s.name);
        expect(st?.state).toBe('created');
        expect(st?.labels).toMatchObject(s.labels);
        expect(st?.imageId).toMatch(/\S/);
        expect(st?.startedAt).toBeNull();
        expect(st?.exitCode).toBeNull();
        // By name as well as by id.
        expect((await driver.inspectContainer(s.name))?.id).toBe(id);
        expect(await driver.countProcesses(id)).toBe(0);
      });

      it('refuses a second container with the same name', async () => {
        await expect(driver.createContainer(spec('life'))).rejects.toSatisfy((e) => isAppError(e, 'container_exists'));
      });

      it('starts it: running, with processes', async () => {
        await timed('start', () => driver.startContainer(id));
        const st = await driver.inspectContainer(id);
        expect(st?.state).toBe('running');
        expect(st?.startedAt).not.toBeNull();
        expect(st?.finishedAt).toBeNull();
        expect(await driver.countProcesses(id)).toBeGreaterThanOrEqual(1);
        // Starting a running container is fine.
        await driver.startContainer(id);
        expect((await driver.inspectContainer(id))?.state).toBe('running');
      });

      it('execs a command and returns its output and exit code', async () => {
        const r = await timed('exec', () => driver.exec(id, ['echo', 'hi']));
        expect(r.exitCode).toBe(0);
        expect(r.stdout.toString()).toBe('hi\n');
        expect(r.stderr.length).toBe(0);
        expect((await driver.exec(id, ['false'])).exitCode).toBe(1);
        const missing = await driver.exec(id, [`no-such-command-${run}`]);
        expect(missing.exitCode).toBe(127);
        expect(missing.stderr.length).toBeGreaterThan(0);
      });

      it('runs exec in the data dir with the container env, and honours cwd and env', async () => {
        expect((await driver.exec(id, ['pwd'])).stdout.toString().trim()).toBe(CONTAINER_PATH);
        const lines = (r: { stdout: Buffer }): string[] => r.stdout.toString().split('\n');
        expect(lines(await driver.exec(id, ['env']))).toContain(`BERTH_CONTRACT=${run}`);
        const withExtra = lines(await driver.exec(id, ['env'], { env: { EXTRA: 'x y' } }));
        expect(withExtra).toContain('EXTRA=x y');
        expect(withExtra).toContain(`BERTH_CONTRACT=${run}`);
        expect((await driver.exec(id, ['pwd'], { cwd: '/' })).stdout.toString().trim()).toBe('/');
      });

      it('shows a file written into the host data dir inside the container', async () => {
        writeFileSync(join(s.dataMount.hostPath, 'x'), `written on the host ${run}\n`);
        const r = await driver.exec(id, ['cat', `${CONTAINER_PATH}/x`]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout.toString()).toBe(`written on the host ${run}\n`);
      });

      it('measures its writable layer: a file in its root filesystem counts, one in the data mount does not', async (ctx) => {
        const before = await driver.writableLayerSize(id);
        expect(before).toBeGreaterThanOrEqual(0);
        expect(await driver.writableLayerSize(s.name)).toBe(before);
        expect(await driver.writableLayerSize(`berth-test-${run}-missing`)).toBeNull();
        needsRealExecOrNote(ctx);
        if (t.simulatedExec) return;
        const MiB = 1024 * 1024;
        const r = await driver.exec(id, ['sh', '-c', `head -c ${3 * MiB} /dev/zero > /layer-file && head -c ${3 * MiB} /dev/zero > ${CONTAINER_PATH}/data-file`]);
        expect(r.exitCode).toBe(0);
        const grown = ((await driver.writableLayerSize(id)) ?? 0) - (before ?? 0);
        expect(grown).toBeGreaterThanOrEqual(3 * MiB);
        expect(grown).toBeLessThan(4 * MiB);
      });

      it('stops it gracefully and quickly (init forwards SIGTERM)', async () => {
        const started = performance.now();
        await timed('stop', () => driver.stopContainer(id, { timeoutSeconds: 10 }));
        const elapsed = performance.now() - started;
        // A workload that ignored SIGTERM would take the full 10 s and die of SIGKILL (137).
        expect(elapsed).toBeLessThan(5_000);
        const st = await driver.inspectContainer(id);
        expect(st?.state).toBe('exited');
        expect(st?.exitCode).not.toBeNull();
        expect(st?.exitCode).not.toBe(137);
        expect(st?.finishedAt).not.toBeNull();
        expect(await driver.countProcesses(id)).toBe(0);
        // Stopping a stopped container is fine; exec in it is refused with a clear code.
        await driver.stopContainer(id, { timeoutSeconds: 10 });
        await expect(driver.exec(id, ['echo', 'hi'])).rejects.toSatisfy((e) => isAppError(e, 'container_not_running'));
      });

      it('starts it again with its data still there', async () => {
        await driver.startContainer(id);
        const st = await driver.inspectContainer(id);
        expect(st?.state).toBe('running');
        expect(st?.exitCode).toBeNull();
        expect((await driver.exec(id, ['cat', `${CONTAINER_PATH}/x`])).stdout.toString()).toBe(`written on the host ${run}\n`);
      });

      it('lists containers by every given label', async () => {
        const mine = await driver.listContainers({ labels: [runLabel] });
        expect(mine.map((c) => c.id)).toContain(id);
        expect(mine.every((c) => c.labels['berth.test'] === run)).toBe(true);
        const listed = mine.find((c) => c.id === id);
        expect(listed?.state).toBe('running');
        expect(listed?.name).toBe(s.name);
        const both = await driver.listContainers({ labels: [runLabel, `berth.bot=${run}-life`] });
        expect(both.map((c) => c.id)).toEqual([id]);
        expect(await driver.listContainers({ labels: [runLabel, `berth.bot=${run}-nobody`] })).toEqual([]);
        const byKey = await driver.listContainers({ labels: ['berth.test', `berth.bot=${run}-life`] });
        expect(byKey.map((c) => c.id)).toEqual([id]);
      });

      it('renames it while it runs; a taken name is refused with container_exists', async () => {
        const other = spec('other');
        const otherId = (await driver.createContainer(other)).id;
        try {
          await expect(driver.renameContainer(id, other.name)).rejects.toSatisfy((e) => isAppError(e, 'container_exists'));
          await driver.renameContainer(id, `${s.name}-renamed`);
          const st = await driver.inspectContainer(`${s.name}-renamed`);
          expect(st?.id).toBe(id);
          expect(st?.state).toBe('running');
          expect(await driver.inspectContainer(s.name)).toBeNull();
          await driver.renameContainer(id, s.name);
          expect((await driver.inspectContainer(s.name))?.id).toBe(id);
        } finally {
          await driver.removeContainer(otherId);
        }
      });

      it('removes it (even running); then it is gone and removing again is fine', async () => {
        await timed('remove', () => driver.removeContainer(id));
        expect(await driver.inspectContainer(id)).toBeNull();
        expect(await driver.inspectContainer(s.name)).toBeNull();
        await driver.removeContainer(id);
        await expect(driver.startContainer(id)).rejects.toSatisfy((e) => isAppError(e, 'container_not_found'));
        await expect(driver.exec(id, ['echo'])).rejects.toSatisfy((e) => isAppError(e, 'container_not_found'));
      });
    });

    it('fails create with image_not_found for a missing image and leaves nothing', async () => {
      const s = spec('noimage', { image: `localhost/berth/missing-${run}:nope` });
      await expect(driver.createContainer(s)).rejects.toSatisfy((e) => isAppError(e, 'image_not_found'));
      expect(await driver.inspectContainer(s.name)).toBeNull();
    });

    it('fails create with cdi_unresolvable for an unknown CDI device and leaves nothing', async () => {
      const unknown = `berth.test/nonexistent=dev-${run}`;
      const s = spec('badcdi', { cdiDevices: [unknown] });
      const err: unknown = await driver.createContainer(s).then(
        () => new Error('create succeeded'),
        (e: unknown) => e,
      );
      expect(isAppError(err, 'cdi_unresolvable')).toBe(true);
      expect((err as Error).message).toContain('unresolvable CDI devices');
      expect((err as Error).message).toContain(unknown);
      expect(await driver.inspectContainer(s.name)).toBeNull();
    });

    it('injects a known CDI device', async (ctx) => {
      if (!t.knownCdiDevice) {
        const note = `skipped for ${name}: no CDI device known on this host`;
        console.warn(`[driver contract] ${ctx.task.name}: ${note}`);
        ctx.skip(note);
        return;
      }
      const s = spec('cdi', { cdiDevices: [t.knownCdiDevice] });
      const { id } = await driver.createContainer(s);
      await driver.startContainer(id);
      const st = await driver.inspectContainer(id);
      expect(st?.state).toBe('running');
      if (t.knownCdiEdits) {
        const { env, deviceNode } = t.knownCdiEdits;
        expect(st?.devices.map((d) => d.containerPath)).toContain(deviceNode);
        expect((await driver.exec(id, ['test', '-c', deviceNode])).exitCode).toBe(0);
        // CDI env edits reach the container's main process (PID 1 and its children).
        const environ = (await driver.exec(id, ['cat', '/proc/1/environ'])).stdout.toString().split('\0');
        expect(environ).toContain(env);
        // Devices survive stop/start.
        await driver.stopContainer(id, { timeoutSeconds: 10 });
        await driver.startContainer(id);
        expect((await driver.exec(id, ['test', '-c', deviceNode])).exitCode).toBe(0);
      }
      await driver.removeContainer(id);
    });

    it("gives network 'none' only a loopback interface", async (ctx) => {
      needsRealExec(ctx);
      const none = await driver.createContainer(spec('netnone', { network: 'none' }));
      await driver.startContainer(none.id);
      const r = await driver.exec(none.id, ['ls', '/sys/class/net']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString().split(/\s+/).filter(Boolean)).toEqual(['lo']);

      const bridge = await driver.createContainer(spec('netbridge'));
      await driver.startContainer(bridge.id);
      const b = await driver.exec(bridge.id, ['ls', '/sys/class/net']);
      expect(b.stdout.toString().split(/\s+/).filter(Boolean)).toEqual(expect.arrayContaining(['lo', 'eth0']));
      await driver.removeContainer(none.id);
      await driver.removeContainer(bridge.id);
    });

    it('puts containers on their private network, made on first use with its labels, removable once unused', async () => {
      const privateNetwork = { name: `berth-test-${run}-net`, labels: { 'berth.test': run, 'berth.managed': 'true', 'berth.bot': `${run}-net` } };
      const first = await driver.createContainer(spec('net1', { privateNetwork }));
      // A replacement built beside a bot's container joins the same network.
      const second = await driver.createContainer(spec('net2', { privateNetwork }));
      expect(await driver.listNetworks({ labels: [runLabel, `berth.bot=${run}-net`] })).toEqual([{ name: privateNetwork.name, labels: privateNetwork.labels }]);
      expect(await driver.listNetworks({ labels: [runLabel, 'berth.bot=nobody'] })).toEqual([]);
      // A container with network 'none' makes none.
      const offline = await driver.createContainer(spec('net3', { network: 'none', privateNetwork: { ...privateNetwork, name: `${privateNetwork.name}-none` } }));
      expect((await driver.listNetworks({ labels: [runLabel] })).map((n) => n.name)).toEqual([privateNetwork.name]);

      await driver.removeContainer(first.id);
      // Still used by the second one: it stays.
      await expect(driver.removeNetwork(privateNetwork.name)).rejects.toThrow();
      expect(await driver.listNetworks({ labels: [runLabel] })).toHaveLength(1);
      await driver.removeContainer(second.id);
      await driver.removeContainer(offline.id);
      await driver.removeNetwork(privateNetwork.name);
      expect(await driver.listNetworks({ labels: [runLabel] })).toEqual([]);
      await driver.removeNetwork(privateNetwork.name);
    });

    describe('commit, pause and snapshot images', () => {
      let id = '';
      const ref = (tag: string) => `localhost/berth-test-${run}/snap:${tag}`;

      it('pauses a running container without ending its processes, and unpauses it', async () => {
        id = (await driver.createContainer(spec('commit'))).id;
        await driver.startContainer(id);
        const processes = await driver.countProcesses(id);
        await timed('pause', () => driver.pauseContainer(id));
        expect((await driver.inspectContainer(id))?.state).toBe('paused');
        await driver.pauseContainer(id);
        await timed('unpause', () => driver.unpauseContainer(id));
        expect((await driver.inspectContainer(id))?.state).toBe('running');
        await driver.unpauseContainer(id);
        expect(await driver.countProcesses(id)).toBe(processes);
      });

      it('commits the root filesystem to a labelled image a new container can run from', async (ctx) => {
        needsRealExecOrNote(ctx);
        if (!t.simulatedExec) expect((await driver.exec(id, ['sh', '-c', `echo ${run} > /etc/berth-commit-test`])).exitCode).toBe(0);
        await driver.pauseContainer(id);
        const committed = await timed('commit', () => driver.commitContainer(id, { ref: ref('one'), labels: { 'berth.test': run, 'berth.snapshot': 'one' }, pause: false }));
        await driver.unpauseContainer(id);
        expect(committed.imageId).toMatch(/\S/);
        expect(committed.size).toBeGreaterThan(0);
        expect((await driver.inspectImage(ref('one')))?.id).toBe(committed.imageId);
        const listed = await driver.listImages({ labels: [runLabel, 'berth.snapshot=one'] });
        expect(listed.map((i) => ({ id: i.id, names: i.names, containers: i.containers }))).toEqual([{ id: committed.imageId, names: [ref('one')], containers: 0 }]);
        expect(listed[0]?.labels).toMatchObject({ 'berth.test': run, 'berth.snapshot': 'one' });

        const child = await driver.createContainer(spec('fromcommit', { image: ref('one') }));
        await driver.startContainer(child.id);
        expect((await driver.inspectContainer(child.id))?.state).toBe('running');
        if (!t.simulatedExec) expect((await driver.exec(child.id, ['cat', '/etc/berth-commit-test'])).stdout.toString()).toBe(`${run}\n`);
        // The engine can pause for the commit itself; the container runs on afterwards.
        await driver.commitContainer(child.id, { ref: ref('two'), labels: { 'berth.test': run, 'berth.snapshot': 'two' }, pause: true });
        expect((await driver.inspectContainer(child.id))?.state).toBe('running');

        // In use: only the name goes; the image stays (untagged) until its container is gone.
        expect(await driver.removeImage(ref('one'))).toEqual({ removed: false });
        expect(await driver.inspectImage(ref('one'))).toBeNull();
        const untagged = (await driver.listImages({ labels: [runLabel, 'berth.snapshot=one'] }))[0];
        expect(untagged).toMatchObject({ id: committed.imageId, names: [], containers: 1 });
        await driver.removeContainer(child.id);
        // Its child image keeps the layers it shares; removing the untagged one by id now works.
        expect(await driver.removeImage(committed.imageId)).toEqual({ removed: true });
        expect(await driver.listImages({ labels: [runLabel, 'berth.snapshot=one'] })).toEqual([]);
        expect(await driver.inspectImage(ref('two'))).not.toBeNull();
        expect(await driver.removeImage(ref('two'))).toEqual({ removed: true });
        expect(await driver.removeImage(ref('two'))).toEqual({ removed: true });
      });

      it('fails a commit or a pause of a missing container with container_not_found', async () => {
        await expect(driver.commitContainer(`berth-test-${run}-nobody`, { ref: ref('none'), labels: {}, pause: false })).rejects.toSatisfy((e) => isAppError(e, 'container_not_found'));
        await expect(driver.pauseContainer(`berth-test-${run}-nobody`)).rejects.toSatisfy((e) => isAppError(e, 'container_not_found'));
        await driver.removeContainer(id);
      });
    });

    execStreamContract(name, () => t);

    describe('pull', () => {
      it('pulls an image with progress whose bytes never go backwards', async (ctx) => {
        if (!t.pullableImage) {
          const note = `skipped for ${name}: no pullable image (no registry) on this host`;
          console.warn(`[driver contract] ${ctx.task.name}: ${note}`);
          ctx.skip(note);
          return;
        }
        const ref = t.pullableImage;
        expect(await driver.inspectImage(ref)).toBeNull();
        const seen: PullProgress[] = [];
        await timed('pull', async () => {
          for await (const p of driver.pullImage(ref)) seen.push(p);
        });
        expect(seen.length).toBeGreaterThan(0);
        for (const p of seen) expect(p.image).toBe(ref);
        // Totals and every layer's numbers only grow; each snapshot has all layers seen so far.
        for (let i = 1; i < seen.length; i++) {
          const prev = seen[i - 1] as PullProgress;
          const cur = seen[i] as PullProgress;
          expect(cur.current).toBeGreaterThanOrEqual(prev.current);
          expect(cur.total).toBeGreaterThanOrEqual(prev.total);
          for (const l of prev.layers) {
            const now = cur.layers.find((x) => x.id === l.id);
            expect(now, `layer ${l.id} disappeared`).toBeDefined();
            expect(now?.current).toBeGreaterThanOrEqual(l.current);
            expect(now?.total).toBeGreaterThanOrEqual(l.total);
          }
        }
        // Byte progress: some snapshot shows a layer part-way, with a known size.
        const partial = seen.flatMap((p) => p.layers).find((l) => l.total > 0 && l.current > 0 && l.current < l.total);
        expect(partial, 'no snapshot showed a layer part-way through its bytes').toBeDefined();
        const last = seen[seen.length - 1] as PullProgress;
        expect(last.total).toBeGreaterThan(0);
        expect(last.current).toBe(last.total);
        expect(await driver.inspectImage(ref)).not.toBeNull();
      });

      it('fails a pull of a missing tag with image_not_found', async (ctx) => {
        if (!t.pullableImage) {
          ctx.skip(`skipped for ${name}: no pullable image (no registry) on this host`);
          return;
        }
        const missing = t.pullableImage.replace(/:[^:/]+$/, '') + `:missing-${run}`;
        await expect(drain(driver.pullImage(missing))).rejects.toSatisfy((e) => isAppError(e, 'image_not_found'));
      });

      it('stops a pull when its signal is aborted', async () => {
        const ac = new AbortController();
        ac.abort();
        await expect(drain(driver.pullImage(t.pullableImage ?? t.testImage, { signal: ac.signal }))).rejects.toSatisfy((e) => e instanceof Error && e.name === 'AbortError');
      });
    });
  });
}

async function drain<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
