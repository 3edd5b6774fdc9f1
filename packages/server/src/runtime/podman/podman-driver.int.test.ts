import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import { ensureTestRegistryConfig, startTestRegistry } from '../../testing/registry.js';
import type { TestRegistry } from '../../testing/registry.js';
import type { ContainerSpec } from '../driver.js';
import { runtimeDriverContract } from '../driver.contract.js';
import { PodmanClient } from './podman-client.js';
import { PodmanDriver, splitReference } from './podman-driver.js';
import { ensurePodmanService } from './podman-service.js';
import type { PodmanService } from './podman-service.js';

const sh = promisify(execFile);
// Overridable so the start-our-own-service path can be exercised: BERTH_RUNTIME_SOCKET=/nowhere/x.sock
const SYSTEM_SOCKET = process.env.BERTH_RUNTIME_SOCKET ?? '/run/podman/podman.sock';
const TEST_IMAGE = 'localhost/berth/test:busybox';
const BUILD_TEST_IMAGE = fileURLToPath(new URL('../../../../../scripts/build-test-image.sh', import.meta.url));
const CDI_SPEC_FILE = '/var/run/cdi/berth-test.yaml';
const CDI_DEVICE = 'berth.test/device=null0';
const CDI_SPEC = `# Written by Berth's Podman integration tests: maps /dev/null and sets an env var.
cdiVersion: "0.5.0"
kind: "berth.test/device"
devices:
  - name: "null0"
    containerEdits:
      deviceNodes:
        - path: "/dev/berth-null"
          hostPath: "/dev/null"
      env:
        - "BERTH_TEST_CDI=null0"
`;

/** The Podman engine for these tests: the system socket if it answers, else a service of our own. */
async function podmanSocket(tmp: string): Promise<{ socketPath: string; service: PodmanService | null }> {
  // A service started before the test registry's drop-in existed would not see it.
  const { written } = ensureTestRegistryConfig();
  if (!written) {
    const probe = new PodmanDriver({ socketPath: SYSTEM_SOCKET });
    const up = await probe.ping().then(
      () => true,
      () => false,
    );
    await probe.close();
    if (up) return { socketPath: SYSTEM_SOCKET, service: null };
  }
  const socketPath = join(tmp, 'podman.sock');
  return { socketPath, service: await ensurePodmanService({ socketPath }) };
}

async function ensureTestImage(driver: PodmanDriver): Promise<void> {
  if (await driver.inspectImage(TEST_IMAGE)) return;
  await sh('bash', [BUILD_TEST_IMAGE, TEST_IMAGE]);
  expect(await driver.inspectImage(TEST_IMAGE), `${BUILD_TEST_IMAGE} did not build ${TEST_IMAGE}`).not.toBeNull();
}

/** Writes the test CDI spec; returns whether we created it (and so should remove it). */
function ensureCdiSpec(): boolean {
  const existed = existsSync(CDI_SPEC_FILE);
  if (!existed || readFileSync(CDI_SPEC_FILE, 'utf8') !== CDI_SPEC) {
    mkdirSync('/var/run/cdi', { recursive: true });
    writeFileSync(CDI_SPEC_FILE, CDI_SPEC);
  }
  return !existed;
}

/**
 * Pushes an image with a fresh random 3 MB layer to the test registry and removes it locally, so a
 * pull must download its bytes.
 */
async function pushFreshImage(registry: TestRegistry, tmp: string, tag: string): Promise<string> {
  const root = join(tmp, `pull-rootfs-${tag}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'blob'), randomBytes(3 * 1024 * 1024));
  const tar = join(tmp, `pull-${tag}.tar`);
  await sh('tar', ['-C', root, '-cf', tar, '.']);
  const local = `localhost/berth/pulltest-src:${tag}`;
  await sh('podman', ['import', '--quiet', tar, local]);
  try {
    return await registry.pushImage(local, `berth/pulltest:${tag}`);
  } finally {
    await sh('podman', ['rmi', '--force', local]);
  }
}

/** The parts of libpod's container inspect these tests read. */
interface RawInspect {
  Path: string;
  Args: string[];
  Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
  Config: { WorkingDir: string; Env: string[]; Labels: Record<string, string> };
  HostConfig: {
    Init: boolean;
    Privileged: boolean;
    SecurityOpt: string[];
    PidsLimit: number;
    CpuQuota: number;
    CpuPeriod: number;
    Memory: number;
    NetworkMode: string;
  };
}

runtimeDriverContract('podman', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-podman-contract-'));
  const { socketPath, service } = await podmanSocket(tmp);
  const driver = new PodmanDriver({ socketPath });
  await ensureTestImage(driver);
  const createdCdiSpec = ensureCdiSpec();
  const registry = await startTestRegistry();
  const pullableImage = await pushFreshImage(registry, tmp, randomBytes(4).toString('hex'));
  const dataDir = join(tmp, 'data');
  mkdirSync(dataDir);
  return {
    driver,
    testImage: TEST_IMAGE,
    pullableImage,
    knownCdiDevice: CDI_DEVICE,
    knownCdiEdits: { env: 'BERTH_TEST_CDI=null0', deviceNode: '/dev/berth-null' },
    dataDir,
    cleanup: async () => {
      await sh('podman', ['rmi', '--force', pullableImage]).catch(() => undefined);
      await registry.stop();
      if (createdCdiSpec) rmSync(CDI_SPEC_FILE, { force: true });
      await driver.close();
      await service?.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
});

describe('PodmanDriver on the real engine', () => {
  const run = randomBytes(4).toString('hex');
  let tmp: string;
  let socketPath: string;
  let service: PodmanService | null;
  let driver: PodmanDriver;
  let client: PodmanClient;

  const spec = (suffix: string, over: Partial<ContainerSpec> = {}): ContainerSpec => {
    const hostPath = join(tmp, suffix);
    mkdirSync(hostPath, { recursive: true });
    return {
      name: `berth-test-${run}-${suffix}`,
      image: TEST_IMAGE,
      labels: { 'berth.test': run },
      env: { HELLO: 'world' },
      dataMount: { hostPath, containerPath: '/data' },
      cdiDevices: [],
      resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
      network: 'bridge',
      ...over,
    };
  };
  const rawInspect = async (id: string): Promise<RawInspect> =>
    (await client.json<RawInspect>({ path: `/v4.0.0/libpod/containers/${id}/json` })).body;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'berth-podman-int-'));
    ({ socketPath, service } = await podmanSocket(tmp));
    driver = new PodmanDriver({ socketPath });
    client = new PodmanClient({ socketPath });
    await ensureTestImage(driver);
  });

  afterAll(async () => {
    for (const c of (await driver?.listContainers({ labels: [`berth.test=${run}`] })) ?? []) await driver.removeContainer(c.id);
    await sh('podman', ['rmi', '--force', `localhost/berth/nocmd:${run}`]).catch(() => undefined);
    client?.close();
    await driver?.close();
    await service?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reports the Podman version', async () => {
    expect((await driver.ping()).version).toMatch(/^\d+\.\d+/);
  });

  it('creates with init, no-new-privileges, not privileged, limits, the data mount as workdir', async () => {
    const s = spec('shape', { resources: { cpus: 0.5, memoryMb: 256, pidsLimit: 123 }, network: 'none' });
    const { id } = await driver.createContainer(s);
    const c = await rawInspect(id);
    expect(c.HostConfig.Init).toBe(true);
    expect(c.HostConfig.Privileged).toBe(false);
    expect(c.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(c.HostConfig.PidsLimit).toBe(123);
    expect(c.HostConfig.CpuQuota).toBe(50_000);
    expect(c.HostConfig.CpuPeriod).toBe(100_000);
    expect(c.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(c.HostConfig.NetworkMode).toBe('none');
    expect(c.Config.WorkingDir).toBe('/data');
    expect(c.Config.Env).toContain('HELLO=world');
    expect(c.Config.Labels).toMatchObject(s.labels);
    expect(c.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Source: s.dataMount.hostPath, Destination: '/data', RW: true })]);
    // The image's own command runs (under the engine's init).
    expect(c.Path).toBe('/run/podman-init');
    expect(c.Args).toEqual(['--', '/bin/sleep', '2147483647']);

    await driver.startContainer(id);
    // The pids limit is enforced by the kernel, seen from inside.
    const pidsMax = await driver.exec(id, ['sh', '-c', 'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max']);
    expect(pidsMax.stdout.toString().trim()).toBe('123');
    await driver.removeContainer(id);
  });

  it('keeps an image with no command alive with `sleep infinity`', async () => {
    // An image with neither Cmd nor Entrypoint: the test image's rootfs re-imported bare.
    const box = await driver.createContainer(spec('export'));
    const tar = join(tmp, 'rootfs.tar');
    await sh('podman', ['export', '--output', tar, box.id]);
    await driver.removeContainer(box.id);
    const ref = `localhost/berth/nocmd:${run}`;
    await sh('podman', ['import', '--quiet', tar, ref]);
    const image = await driver.inspectImage(ref);
    expect(image).toMatchObject({ cmd: [], entrypoint: [] });

    const { id } = await driver.createContainer(spec('nocmd', { image: ref }));
    expect((await rawInspect(id)).Args).toEqual(['--', 'sleep', 'infinity']);
    await driver.startContainer(id);
    await new Promise((r) => setTimeout(r, 300));
    expect((await driver.inspectContainer(id))?.state).toBe('running');
    await driver.removeContainer(id);
  });

  it('reports CDI-injected device nodes from inspect, already after create', async () => {
    const createdSpec = ensureCdiSpec();
    try {
      const { id } = await driver.createContainer(spec('cdi', { cdiDevices: [CDI_DEVICE] }));
      const created = await driver.inspectContainer(id);
      expect(created?.state).toBe('created');
      expect(created?.devices).toEqual([{ hostPath: '/dev/null', containerPath: '/dev/berth-null' }]);
      await driver.startContainer(id);
      expect((await driver.exec(id, ['sh', '-c', 'ls -l /dev/berth-null'])).stdout.toString()).toMatch(/^c/);
      await driver.removeContainer(id);
    } finally {
      if (createdSpec) rmSync(CDI_SPEC_FILE, { force: true });
    }
  });

  it("refuses CDI names Podman 4.3 would crash on with cdi_unresolvable, before asking the engine", async () => {
    for (const name of ['x.com/y=z', 'a/gpu=0', 'not-a-cdi-name']) {
      const s = spec(`crash-${name.length}`, { cdiDevices: [name] });
      await expect(driver.createContainer(s)).rejects.toSatisfy(
        (e) => isAppError(e, 'cdi_unresolvable') && (e as Error).message.includes(`unresolvable CDI devices: ${name}`),
      );
      expect(await driver.inspectContainer(s.name)).toBeNull();
    }
  });

  it('counts processes with libpod top (init + the workload + an exec)', async () => {
    const { id } = await driver.createContainer(spec('top'));
    await driver.startContainer(id);
    // Right after the start, init may not have started the workload yet: wait for it (bounded).
    let count = await driver.countProcesses(id);
    for (let i = 0; i < 50 && count < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      count = await driver.countProcesses(id);
    }
    expect(count).toBe(2);
    await driver.removeContainer(id);
    await expect(driver.countProcesses(id)).rejects.toSatisfy((e) => isAppError(e, 'container_not_found'));
  });

  it('keeps stdout and stderr apart and binary-safe through the stream demux', async () => {
    const { id } = await driver.createContainer(spec('exec'));
    await driver.startContainer(id);
    const r = await driver.exec(id, ['sh', '-c', 'echo out; echo err >&2; printf "\\001\\002\\377"; head -c 200000 /dev/zero; exit 7']);
    expect(r.exitCode).toBe(7);
    expect(r.stderr.toString()).toBe('err\n');
    expect(r.stdout.subarray(0, 7)).toEqual(Buffer.from('out\n\x01\x02\xff', 'latin1'));
    expect(r.stdout.length).toBe(7 + 200_000);
    await driver.removeContainer(id);
  });

  it('answers runtime_unavailable when no engine listens on the socket', async () => {
    const dead = new PodmanDriver({ socketPath: join(tmp, 'nobody.sock') });
    await expect(dead.ping()).rejects.toSatisfy((e) => isAppError(e, 'runtime_unavailable'));
    await expect(dead.inspectContainer('x')).rejects.toSatisfy((e) => isAppError(e, 'runtime_unavailable'));
    const cause = await dead.listContainers({ labels: [] }).catch((e: unknown) => (e as Error).cause);
    expect(cause).toBeInstanceOf(Error);
    await dead.close();
  });

  it('ensurePodmanService starts a service on a fresh socket, reuses a live one, and stops only its own', async () => {
    const sock = join(tmp, 'svc', 'podman.sock');
    const started = performance.now();
    const own = await ensurePodmanService({ socketPath: sock });
    const startMs = performance.now() - started;
    expect(own.started).toBe(true);
    const d = new PodmanDriver({ socketPath: sock });
    expect((await d.ping()).version).toMatch(/^\d/);
    const again = await ensurePodmanService({ socketPath: sock });
    expect(again.started).toBe(false);
    await again.stop();
    expect((await d.ping()).version).toMatch(/^\d/);
    await own.stop();
    await expect(d.ping()).rejects.toSatisfy((e) => isAppError(e, 'runtime_unavailable'));
    await d.close();
    console.info(`[podman] podman system service answered after ${Math.round(startMs)} ms`);
  });

  it('stops a pull mid-stream when its signal is aborted', async () => {
    const registry = await startTestRegistry();
    try {
      const ref = await pushFreshImage(registry, tmp, `abort-${run}`);
      const ac = new AbortController();
      const seen: number[] = [];
      const started = performance.now();
      const pulling = (async () => {
        for await (const p of driver.pullImage(ref, { signal: ac.signal })) {
          seen.push(p.current);
          ac.abort();
        }
      })();
      await expect(pulling).rejects.toSatisfy((e) => e instanceof Error && e.name === 'AbortError');
      expect(seen).toHaveLength(1);
      // The registry holds the layer for 1.5 s; an abort that waited for the pull would take longer.
      expect(performance.now() - started).toBeLessThan(1_400);
      await sh('podman', ['rmi', '--force', ref]).catch(() => undefined);
    } finally {
      await registry.stop();
    }
  });

  it('splits references into the pull endpoint parameters', () => {
    expect(splitReference('127.0.0.1:5000/berth/x:abc')).toEqual({ name: '127.0.0.1:5000/berth/x', tag: 'abc' });
    expect(splitReference('127.0.0.1:5000/berth/x')).toEqual({ name: '127.0.0.1:5000/berth/x', tag: 'latest' });
    expect(splitReference('docker.io/library/debian@sha256:abcd')).toEqual({ name: 'docker.io/library/debian', tag: 'sha256:abcd' });
  });
});
