import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { isAppError } from '../errors.js';
import type { ContractTarget } from './driver.contract.js';
import type { ExecSession, RuntimeDriver } from './driver.js';

/**
 * The streaming exec part of the driver contract: output per stream as it comes, standard input,
 * kill of the whole process group, and a resizable tty. Called from `runtimeDriverContract`; the
 * parts that need a kernel underneath are skipped, with their reason printed, on a simulated exec.
 */
export function execStreamContract(name: string, target: () => ContractTarget): void {
  describe('streaming exec', () => {
    let t: ContractTarget;
    let driver: RuntimeDriver;
    let id = '';
    const run = randomBytes(4).toString('hex');

    const realOnly = (ctx: TestContext): void => {
      if (t.simulatedExec) {
        const note = `skipped for ${name}: ${t.simulatedExec}`;
        console.warn(`[driver contract] ${ctx.task.name}: ${note}`);
        ctx.skip(note);
      }
    };

    beforeAll(async () => {
      t = target();
      driver = t.driver;
      const hostPath = join(t.dataDir, `${run}-execstream`);
      mkdirSync(hostPath, { recursive: true });
      ({ id } = await driver.createContainer({
        name: `berth-test-${run}-execstream`,
        image: t.testImage,
        labels: { 'berth.test': run, 'berth.managed': 'true', 'berth.bot': `${run}-execstream` },
        env: { BERTH_CONTRACT: run },
        dataMount: { hostPath, containerPath: '/data' },
        cdiDevices: [],
        resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
        network: 'none',
      }));
      await driver.startContainer(id);
    });

    afterAll(async () => {
      if (id) await driver.removeContainer(id);
    });

    it('streams stdout and stderr apart and answers the exit code', async () => {
      const s = await driver.execStream(id, { command: t.simulatedExec ? ['echo', 'hi'] : ['sh', '-c', 'echo hi; echo oops >&2; exit 3'] });
      const { stdout, stderr } = await collect(s);
      expect(stdout.toString()).toBe('hi\n');
      if (!t.simulatedExec) {
        expect(stderr.toString()).toBe('oops\n');
        expect(await s.exitCode).toBe(3);
      } else {
        expect(await s.exitCode).toBe(0);
      }
    });

    it('carries bytes that are not UTF-8 unchanged', async (ctx) => {
      realOnly(ctx);
      const s = await driver.execStream(id, { command: ['sh', '-c', "printf '\\377\\000\\376\\n'"] });
      expect([...(await collect(s)).stdout]).toEqual([0xff, 0x00, 0xfe, 0x0a]);
    });

    it('feeds standard input, with end-of-file on end()', async () => {
      const s = await driver.execStream(id, { command: t.simulatedExec ? ['cat'] : ['sh', '-c', 'wc -c'], stdin: true });
      const data = Buffer.alloc(t.simulatedExec ? 16 : 1024 * 1024, 0x61);
      const done = collect(s);
      await s.write(data);
      s.end();
      const { stdout } = await done;
      if (t.simulatedExec) expect(stdout.equals(data)).toBe(true);
      else expect(stdout.toString().trim()).toBe(String(data.length));
      expect(await s.exitCode).toBe(0);
    });

    it('honours env and cwd', async (ctx) => {
      realOnly(ctx);
      const s = await driver.execStream(id, { command: ['sh', '-c', 'echo "$EXTRA $BERTH_CONTRACT"; pwd'], env: { EXTRA: 'x y' }, cwd: '/tmp' });
      expect((await collect(s)).stdout.toString()).toBe(`x y ${run}\n/tmp\n`);
      await expect(driver.execStream(id, { command: ['pwd'], cwd: `/no-such-dir-${run}` })).rejects.toSatisfy((e) => isAppError(e, 'validation_failed'));
    });

    it('kills the command with kill(): 137', async () => {
      const s = await driver.execStream(id, { command: ['sleep', '1000'] });
      const done = collect(s);
      await s.kill();
      await done;
      expect(await s.exitCode).toBe(137);
    });

    it('kills everything the command started: its whole process group', async (ctx) => {
      realOnly(ctx);
      // Two sleeps, one in the background, of a duration no other process here has: found by their argv.
      const marker = String(100_000 + Math.floor(Math.random() * 900_000));
      const s = await driver.execStream(id, { command: ['sh', '-c', `sleep ${marker} & sleep ${marker}; echo never`] });
      const done = collect(s);
      await waitFor(async () => (await countProcesses(driver, id, marker)) === 2);
      await s.kill();
      const { stdout } = await done;
      expect(stdout.toString()).not.toContain('never');
      expect(await s.exitCode).toBe(137);
      await waitFor(async () => (await countProcesses(driver, id, marker)) === 0);
    });

    it('aborting the signal kills it too', async () => {
      const ac = new AbortController();
      const s = await driver.execStream(id, { command: ['sleep', '1000'], signal: ac.signal });
      const done = collect(s);
      ac.abort();
      await done;
      expect(await s.exitCode).toBe(137);
    });

    it('runs on a tty with its size, and resizes it', async (ctx) => {
      realOnly(ctx);
      const s = await driver.execStream(id, { command: ['sh'], tty: true, stdin: true, size: { cols: 91, rows: 27 } });
      const done = collect(s);
      await s.write('stty size\n');
      await waitFor(() => Promise.resolve(done.partial().includes('27 91')));
      await s.resize(132, 43);
      await s.write('stty size; exit 5\n');
      const { stdout, stderr } = await done;
      expect(stdout.toString()).toContain('43 132');
      expect(stderr.length).toBe(0);
      expect(await s.exitCode).toBe(5);
    });

    it('refuses a stopped container with container_not_running', async () => {
      await driver.stopContainer(id, { timeoutSeconds: 5 });
      await expect(driver.execStream(id, { command: ['true'] })).rejects.toSatisfy((e) => isAppError(e, 'container_not_running'));
      await driver.startContainer(id);
    });
  });
}

type Collected = Promise<{ stdout: Buffer; stderr: Buffer }> & { partial(): string };

/** Reads a session's output to its end; `partial()` shows stdout so far. */
function collect(s: ExecSession): Collected {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const p = (async () => {
    for await (const chunk of s.output) (chunk.stream === 'stdout' ? stdout : stderr).push(chunk.data);
    return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
  })() as Collected;
  p.partial = () => Buffer.concat(stdout).toString();
  return p;
}

/** Processes whose argv is exactly `sleep <marker>` (the shells around them carry it too, further in). */
async function countProcesses(driver: RuntimeDriver, id: string, marker: string): Promise<number> {
  const script = `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep $1 *\\$" || true`;
  const r = await driver.exec(id, ['sh', '-c', script, 'count', marker]);
  return Number(r.stdout.toString().trim() || '0');
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
