import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { isAppError } from '../../errors.js';
import { closeTestBerth, expectJson, startTestBerth, type TestBerth } from '../../testing/harness.js';
import { TEST_IMAGE } from '../../testing/podman.js';
import { PodmanDriver } from './podman-driver.js';
import { ensurePodmanService, pidFileOf, type PodmanService } from './podman-service.js';
import { alive, until } from '../../testing/wait.js';

const sh = promisify(execFile);
const BUILD_TEST_IMAGE = fileURLToPath(new URL('../../../../../scripts/build-test-image.sh', import.meta.url));
// The built module, so that a separate process can play a Berth that gets killed.
const SERVICE_MODULE = fileURLToPath(new URL('../../../dist/runtime/podman/podman-service.js', import.meta.url));
/** Small, so a frozen engine is noticed quickly here; production uses BERTH_ENGINE_TIMEOUT_SECONDS. */
const DEADLINE_MS = 2_000;

const engineFault = (e: unknown) => isAppError(e, 'runtime_timeout') || isAppError(e, 'runtime_unavailable');



/**
 * Engine faults on a private Podman service of these tests (never the system one other runs share):
 * frozen with SIGSTOP, killed with SIGKILL, and a Berth killed with SIGKILL.
 */
describe('engine faults on a private Podman service', () => {
  const run = randomBytes(3).toString('hex');
  let tmp: string;
  let service: PodmanService;
  let driver: PodmanDriver;
  let t: TestBerth | undefined;
  /** Processes a test froze: thawed whatever happens. */
  const frozen = new Set<number>();
  const botIds: string[] = [];

  const freeze = (pid: number) => {
    frozen.add(pid);
    process.kill(pid, 'SIGSTOP');
  };
  const thaw = (pid: number) => {
    process.kill(pid, 'SIGCONT');
    frozen.delete(pid);
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'berth-faults-'));
    service = await ensurePodmanService({ socketPath: join(tmp, 'podman.sock'), supervise: true });
    expect(service.started).toBe(true);
    driver = new PodmanDriver({ socketPath: service.socketPath, timeoutMs: DEADLINE_MS });
    if (!(await driver.inspectImage(TEST_IMAGE))) await sh('bash', [BUILD_TEST_IMAGE, TEST_IMAGE]);
    t = await startTestBerth({ driver });
  });

  afterAll(async () => {
    for (const pid of frozen) thaw(pid);
    await closeTestBerth(t);
    // A commit the frozen engine received runs once it is thawed, after its snapshot had failed.
    for (const botId of botIds) {
      const { stdout } = await sh('podman', ['images', '-q', '--filter', `label=berth.bot=${botId}`]).catch(() => ({ stdout: '' }));
      for (const id of new Set(stdout.split('\n').filter(Boolean))) await sh('podman', ['rmi', '--force', id]).catch(() => undefined);
    }
    await driver?.close();
    await service?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function runningBot(name: string): Promise<{ bot: Bot; container: Container }> {
    const bot = await expectJson<Bot>(t!.api('POST', '/bots', { body: { name: `${name}-${run}`, image: TEST_IMAGE } }), 201);
    botIds.push(bot.id);
    const { operation } = await expectJson<{ operation: Operation }>(t!.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t!.berth.operations.settled(operation.id);
    expect(await t!.berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    return { bot, container: await expectJson<Container>(t!.api('GET', `/bots/${bot.id}/container`), 200) };
  }

  it('a frozen engine: calls fail with runtime_timeout instead of hanging, /healthz says 503, and all works again after SIGCONT', async () => {
    const { bot, container } = await runningBot('frozen');
    const pid = service.pid!;
    freeze(pid);
    try {
      await expect(driver.inspectContainer(container.id)).rejects.toSatisfy((e) => isAppError(e, 'runtime_timeout'));
      await expect(driver.stopContainer(container.id, { timeoutSeconds: 0 })).rejects.toSatisfy((e) => isAppError(e, 'runtime_timeout'));
      await expect(driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).rejects.toSatisfy((e) => isAppError(e, 'runtime_timeout'));
      // Through the API: the error table's 504, not a hang.
      const res = await t!.api('GET', `/bots/${bot.id}/container`);
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('runtime_timeout');
      expect(await expectJson(t!.berth.app.request('/healthz'), 503)).toMatchObject({ status: 'degraded', engine: 'timeout' });
    } finally {
      thaw(pid);
    }
    // The stop sent while frozen may run now; either way the engine answers again.
    await until('the engine answers', async () => (await driver.inspectContainer(container.id)) !== null);
    expect(await expectJson(t!.berth.app.request('/healthz'), 200)).toMatchObject({ status: 'ok', engine: 'up' });
  });

  it('a streamed exec may stay silent longer than the deadline: only the engine’s answer is bounded', async () => {
    const { container } = await runningBot('silent');
    const session = await driver.execStream(container.id, { command: ['/bin/sh', '-c', 'sleep 3; echo done'] });
    let out = '';
    for await (const chunk of session.output) out += chunk.data.toString();
    expect(out).toBe('done\n');
    expect(await session.exitCode).toBe(0);
  });

  it('a container left paused by an unpause the frozen engine refused is unpaused once the engine answers again', async () => {
    const { bot, container } = await runningBot('paused');
    await driver.pauseContainer(container.id);
    const pid = service.pid!;
    freeze(pid);
    try {
      await expect(t!.berth.pauses.unpause(container.id, { botId: bot.id })).rejects.toSatisfy(engineFault);
    } finally {
      thaw(pid);
    }
    // No call of ours unpauses it: the watchdog's retry does.
    await until('the container runs again', async () => (await driver.inspectContainer(container.id))?.state === 'running');
  });

  it('an engine that freezes in the middle of a snapshot’s commit: the snapshot fails with runtime_timeout and the container runs again once the engine answers', async () => {
    const { bot, container } = await runningBot('commit');
    const pid = service.pid!;
    // The same engine, but it freezes just as the commit is sent (the container is paused by then).
    const freezing = Object.create(driver) as PodmanDriver;
    freezing.commitContainer = (id, options) => {
      freeze(pid);
      return driver.commitContainer(id, options);
    };
    const other = await startTestBerth({ driver: freezing, home: t!.home });
    try {
      const res = await other.api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'frozen' } });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('runtime_timeout');
      expect(res.status).toBe(504);
    } finally {
      thaw(pid);
      await other.close();
    }
    await until('the container runs again', async () => (await driver.inspectContainer(container.id))?.state === 'running');
  });

  /**
   * A recreate whose engine fails just as the new container is to start: the recreate fails with the
   * engine's error, and once the engine answers again the new container is gone and the old one runs
   * on, with its root filesystem change, under the bot's name.
   */
  for (const fault of ['frozen', 'killed'] as const) {
    it(`an engine ${fault} in the middle of a recreate: it fails, and the old container runs on unchanged`, async () => {
      const { bot, container } = await runningBot(`recreate-${fault}`);
      await driver.exec(container.id, ['/bin/sh', '-c', 'echo kept > /etc/marker']);
      const pid = service.pid!;
      const failing = Object.create(driver) as PodmanDriver;
      failing.startContainer = (id) => {
        if (id !== container.id) {
          if (fault === 'killed') process.kill(pid, 'SIGKILL');
          else {
            freeze(pid);
            // Thawed a while after the start has run into its deadline, while the undo keeps trying.
            setTimeout(() => thaw(pid), DEADLINE_MS * 3).unref();
          }
        }
        return driver.startContainer(id);
      };
      const other = await startTestBerth({ driver: failing, home: t!.home });
      try {
        const { operation } = await expectJson<{ operation: Operation }>(other.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
        await other.berth.operations.settled(operation.id);
        const op = await other.berth.operations.get(operation.id);
        expect(op.status).toBe('failed');
        expect(['runtime_timeout', 'runtime_unavailable']).toContain(op.error?.code);
      } finally {
        if (frozen.has(pid)) thaw(pid);
        await other.close();
      }
      const now = await driver.inspectContainer(`berth-${bot.id}`);
      expect(now).toMatchObject({ id: container.id, state: 'running' });
      expect((await driver.exec(container.id, ['cat', '/etc/marker'])).stdout.toString()).toBe('kept\n');
      expect(await driver.inspectContainer(`berth-${bot.id}-next`)).toBeNull();
      expect((await driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).map((c) => c.id)).toEqual([container.id]);
    });
  }

  it('the watchdog unpauses a paused container whose bot runs no operation', async () => {
    const { container } = await runningBot('sweep');
    await driver.pauseContainer(container.id);
    expect(await t!.berth.pauses.sweep()).toContain(container.id);
    expect((await driver.inspectContainer(container.id))?.state).toBe('running');
  });

  it('a killed engine: runtime_unavailable and /healthz 503, then the supervised service is back', async () => {
    const { container } = await runningBot('killed');
    const pid = service.pid!;
    const restarts = service.restarts;
    process.kill(pid, 'SIGKILL');
    await until('the service is dead', () => !alive(pid), 10_000);
    // Right away: the restart waits out a backoff first.
    await expect(driver.inspectContainer(container.id)).rejects.toSatisfy((e) => isAppError(e, 'runtime_unavailable'));
    expect(await expectJson(t!.berth.app.request('/healthz'), 503)).toMatchObject({ status: 'degraded', engine: 'down' });

    await until('the service was restarted', () => service.restarts === restarts + 1);
    expect(service.pid).not.toBe(pid);
    expect((await driver.ping()).version).toMatch(/^\d/);
    expect((await driver.inspectContainer(container.id))?.state).toBe('running');
    expect(await expectJson(t!.berth.app.request('/healthz'), 200)).toMatchObject({ status: 'ok', engine: 'up' });
  });

  it('after a Berth is killed with SIGKILL, the next start takes its service back as its own and stops it on exit', async () => {
    const socketPath = join(tmp, 'crashed', 'podman.sock');
    // A "Berth" in its own process starts the service, then dies without stopping it.
    const script = `const { ensurePodmanService } = await import(${JSON.stringify(SERVICE_MODULE)});
const s = await ensurePodmanService({ socketPath: ${JSON.stringify(socketPath)} });
process.stdout.write(String(s.pid) + '\\n');
setInterval(() => undefined, 1000);`;
    let berth: ChildProcess | undefined;
    let servicePid: number | undefined;
    let next: PodmanService | undefined;
    try {
      berth = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      servicePid = await new Promise<number>((resolve, reject) => {
        let out = '';
        berth!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        berth!.once('exit', (code) => reject(new Error(`the first Berth exited with ${code} before its service answered`)));
      });
      expect(servicePid).toBeGreaterThan(0);
      berth.kill('SIGKILL');
      await until('the first Berth is dead', () => berth!.exitCode !== null || berth!.signalCode !== null, 10_000);
      expect(alive(servicePid)).toBe(true);

      next = await ensurePodmanService({ socketPath, supervise: true });
      expect(next.started).toBe(true);
      expect(next.pid).toBe(servicePid);
      await next.stop();
      await until('the service is gone', () => !alive(servicePid!), 10_000);
    } finally {
      await next?.stop();
      if (berth && berth.exitCode === null && berth.signalCode === null) berth.kill('SIGKILL');
      if (servicePid && alive(servicePid)) process.kill(servicePid, 'SIGKILL');
      rmSync(pidFileOf(socketPath), { force: true });
    }
  });

  it('never adopts or stops a service another live process started', async () => {
    const again = await ensurePodmanService({ socketPath: service.socketPath, supervise: true });
    expect(again.started).toBe(false);
    await again.stop();
    expect((await driver.ping()).version).toMatch(/^\d/);
  });
});
