import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, ExecResult, Task } from '@berth/contract';
import { closeTestBerth, createRunningBot, expectJson, readSse, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';

const WORKSPACE_IMAGE = 'localhost/berth/workspace:bookworm';

/** The exec API and background tasks on the real Podman engine, through Berth's API in-process. */
describe('exec and background tasks on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  const bots: Record<'busybox' | 'debian', Bot> = {} as never;

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    bots.busybox = await newBot('bb', TEST_IMAGE);
    bots.debian = await newBot('deb', WORKSPACE_IMAGE);
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  const newBot = (name: string, image: string): Promise<Bot> => createRunningBot(t, name, image, run);

  const exec = (bot: Bot, body: Record<string, unknown>) => expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body }), 200);

  /** Processes in the container whose whole argv is `sleep <n>`. */
  async function sleepers(bot: Bot, n: string): Promise<number> {
    const r = await exec(bot, { command: ['sh', '-c', `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep ${n} *$" || true`] });
    return Number(r.stdout.trim());
  }

  async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  describe.each(['busybox', 'debian'] as const)('on the %s image', (image) => {
    const bot = () => bots[image];

    it('runs an argv and a shell string and answers their exit codes and output', async () => {
      const argv = await exec(bot(), { command: ['echo', 'hello', 'world'] });
      expect(argv).toMatchObject({ exitCode: 0, stdout: 'hello world\n', stderr: '', stdoutEncoding: 'utf8', truncated: false, timedOut: false });
      expect(argv.durationMs).toBeGreaterThanOrEqual(0);
      const sh = await exec(bot(), { command: 'echo out; echo err >&2; exit 42' });
      expect(sh).toMatchObject({ exitCode: 42, stdout: 'out\n', stderr: 'err\n' });
      const missing = await exec(bot(), { command: [`no-such-command-${run}`] });
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toContain(`no-such-command-${run}`);
      // An argv is not parsed by a shell: its metacharacters are plain text.
      expect((await exec(bot(), { command: ['echo', '$HOME; rm -rf /'] })).stdout).toBe('$HOME; rm -rf /\n');
    });

    it('feeds stdin, sets env and the working directory', async () => {
      expect((await exec(bot(), { command: ['sh', '-c', 'tr a-z A-Z'], stdin: 'shout\n' })).stdout).toBe('SHOUT\n');
      const env = await exec(bot(), { command: 'echo "$GREETING|$BERTH_X"', env: { GREETING: 'hi there', BERTH_X: '1' } });
      expect(env.stdout).toBe('hi there|1\n');
      expect((await exec(bot(), { command: ['pwd'] })).stdout).toBe('/data\n');
      expect((await exec(bot(), { command: ['pwd'], cwd: '/tmp' })).stdout).toBe('/tmp\n');
      await exec(bot(), { command: ['mkdir', '-p', '/data/sub'] });
      expect((await exec(bot(), { command: ['pwd'], cwd: 'sub' })).stdout).toBe('/data/sub\n');
      const bad = await expectJson<{ error: { code: string } }>(t.api('POST', `/bots/${bot().id}/exec`, { body: { command: ['pwd'], cwd: `/nowhere-${run}` } }), 400);
      expect(bad.error.code).toBe('validation_failed');
    });

    it('carries binary output as base64 and binary stdin given as base64, byte for byte', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const r = await exec(bot(), { command: ['cat'], stdin: bytes.toString('base64'), stdinEncoding: 'base64' });
      expect(r.stdoutEncoding).toBe('base64');
      expect(Buffer.from(r.stdout, 'base64').equals(bytes)).toBe(true);
      expect(r.stdoutBytes).toBe(256);
      // Text that is valid UTF-8 stays text, multi-byte characters included.
      const text = await exec(bot(), { command: ['printf', 'h\u00e9llo \u2603'] });
      expect(text).toMatchObject({ stdout: 'h\u00e9llo \u2603', stdoutEncoding: 'utf8' });
    });

    it('caps big output at the limit, says so and counts every byte', async () => {
      const r = await exec(bot(), { command: "head -c 3000000 /dev/zero | tr '\\0' a; echo done >&2" });
      expect(r.exitCode).toBe(0);
      expect(r.truncated).toBe(true);
      expect(r.stdout.length).toBe(t.config.execOutputLimit);
      expect(r.stdout).toMatch(/^a+$/);
      expect(r.stdoutBytes).toBe(3_000_000);
      expect(r.stderr).toBe('done\n');
    });

    it('kills the whole process group when the timeout runs out', async () => {
      const n = String(200_000 + Math.floor(Math.random() * 100_000));
      const started = Date.now();
      const r = await exec(bot(), { command: `sleep ${n} & sleep ${n}; echo never`, timeoutSeconds: 1 });
      expect(r).toMatchObject({ timedOut: true, exitCode: 137 });
      expect(r.stdout).not.toContain('never');
      expect(Date.now() - started).toBeLessThan(30_000);
      // The background child is gone too, not only the shell.
      await eventually(async () => (await sleepers(bot(), n)) === 0);
    });

    it('streams output as SSE events in the order it was written, then exit', async () => {
      const res = await t.api('POST', `/bots/${bot().id}/exec`, {
        body: { command: 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3' },
        headers: { accept: 'text/event-stream' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const frames = await readSse(res);
      expect(frames.map((f) => [f.event, f.data])).toEqual([
        ['stdout', { data: 'one\n', encoding: 'utf8' }],
        ['stderr', { data: 'two\n', encoding: 'utf8' }],
        ['stdout', { data: 'three\n', encoding: 'utf8' }],
        ['exit', expect.objectContaining({ exitCode: 3, timedOut: false })],
      ]);
    });
  });

  it('refuses a stopped container with 409 container_not_running and a missing one with 404', async () => {
    const bot = await newBot('stopped', TEST_IMAGE);
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: { timeoutSeconds: 1 } }), 200);
    for (const body of [{ command: ['true'] }, { command: ['true'], background: true }]) {
      expect((await expectJson<{ error: { code: string } }>(t.api('POST', `/bots/${bot.id}/exec`, { body }), 409)).error.code).toBe('container_not_running');
    }
    expect((await expectJson<{ error: { code: string } }>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['true'] }, headers: { accept: 'text/event-stream' } }), 409)).error.code).toBe('container_not_running');
    expect((await expectJson<{ tasks: Task[] }>(t.api('GET', `/bots/${bot.id}/tasks`), 200)).tasks).toEqual([]);
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    expect((await expectJson<{ error: { code: string } }>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['true'] } }), 404)).error.code).toBe('container_not_found');
  });

  describe.each(['busybox', 'debian'] as const)('background tasks on the %s image', (image) => {
    const bot = () => bots[image];
    const task = (id: string, query = '') => expectJson<Task>(t.api('GET', `/bots/${bot().id}/tasks/${id}${query}`), 200);

    it('starts at once, runs detached, and ends with its exit code and output tail', async () => {
      const { task: started } = await expectJson<{ task: Task }>(
        t.api('POST', `/bots/${bot().id}/exec`, { body: { command: 'echo begin; read line; echo "got $line"; echo warn >&2; sleep 1; exit 7', stdin: 'input\n', background: true } }),
        202,
      );
      expect(started).toMatchObject({ status: 'running', exitCode: null, cwd: '/data', command: 'echo begin; read line; echo "got $line"; echo warn >&2; sleep 1; exit 7' });
      expect(started.id).toMatch(/^task_/);
      const listed = await expectJson<{ tasks: Task[] }>(t.api('GET', `/bots/${bot().id}/tasks`), 200);
      expect(listed.tasks.map((x) => x.id)).toContain(started.id);
      await eventually(async () => (await task(started.id)).status !== 'running');
      const done = await task(started.id);
      expect(done).toMatchObject({ status: 'exited', exitCode: 7, timedOut: false });
      expect(done.finishedAt).not.toBeNull();
      expect(done.output).toMatchObject({ stdout: 'begin\ngot input\n', stderr: 'warn\n', stdoutEncoding: 'utf8', stdoutBytes: 16, stderrBytes: 5 });
      // The tail is the end of the output.
      expect((await task(started.id, '?tail=4')).output).toMatchObject({ stdout: 'put\n', stdoutBytes: 16 });
    });

    it('is counted in the container info while it runs, and DELETE kills its whole process group', async () => {
      const n = String(300_000 + Math.floor(Math.random() * 100_000));
      const { task: started } = await expectJson<{ task: Task }>(t.api('POST', `/bots/${bot().id}/exec`, { body: { command: `sleep ${n} & sleep ${n}`, background: true } }), 202);
      await eventually(async () => (await sleepers(bot(), n)) === 2);
      expect((await expectJson<Container>(t.api('GET', `/bots/${bot().id}/container`), 200)).tasks).toBe(1);
      const killed = await expectJson<Task>(t.api('DELETE', `/bots/${bot().id}/tasks/${started.id}`), 200);
      expect(killed).toMatchObject({ status: 'killed', exitCode: 137 });
      await eventually(async () => (await sleepers(bot(), n)) === 0);
      expect((await expectJson<Container>(t.api('GET', `/bots/${bot().id}/container`), 200)).tasks).toBe(0);
      // Killing it again answers the same.
      expect(await expectJson<Task>(t.api('DELETE', `/bots/${bot().id}/tasks/${started.id}`), 200)).toMatchObject({ status: 'killed' });
    });

    it('waits for its end without holding a work place, and reads its output in parts as it grows', async () => {
      const go = `/tmp/go-${randomBytes(4).toString('hex')}`;
      const { task: started } = await expectJson<{ task: Task }>(
        t.api('POST', `/bots/${bot().id}/exec`, { body: { command: `printf 0123456789; printf err >&2; while [ ! -e ${go} ]; do sleep 1; done; echo done; exit 3`, background: true } }),
        202,
      );
      const read = async (query: string) => {
        const res = await t.api('GET', `/bots/${bot().id}/tasks/${started.id}/output${query}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/octet-stream');
        return { text: await res.text(), size: Number(res.headers.get('x-berth-output-size')) };
      };
      await eventually(async () => (await read('')).size === 10);
      // Time up while it runs: answered as running, not an error.
      expect(await expectJson<Task>(t.api('GET', `/bots/${bot().id}/tasks/${started.id}/wait?timeoutSeconds=0.5`), 200)).toMatchObject({ id: started.id, status: 'running', exitCode: null });
      expect(await read('?offset=2&length=5')).toEqual({ text: '23456', size: 10 });
      expect(await read('?stream=stderr')).toEqual({ text: 'err', size: 3 });
      expect(await read('?offset=50')).toEqual({ text: '', size: 10 });

      // A wait whose client goes away ends then, long before its timeout; the task runs on.
      const gone = new AbortController();
      const abandoned = t.berth.app.request(`/api/v1/bots/${bot().id}/tasks/${started.id}/wait?timeoutSeconds=600`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, signal: gone.signal });
      gone.abort();
      expect((await abandoned).status).toBe(200);

      // More waits than the bot has places for engine work: other calls still go through meanwhile.
      const waits = Array.from({ length: 6 }, () => expectJson<Task>(t.api('GET', `/bots/${bot().id}/tasks/${started.id}/wait?timeoutSeconds=120&tail=100`), 200));
      expect((await exec(bot(), { command: ['touch', go] })).exitCode).toBe(0);
      for (const waited of await Promise.all(waits)) {
        expect(waited).toMatchObject({ status: 'exited', exitCode: 3, output: { stdout: '0123456789done\n', stderr: 'err' } });
      }
      expect(await read('')).toEqual({ text: '0123456789done\n', size: 15 });
    });

    it('kills a task whose timeout runs out', async () => {
      const { task: started } = await expectJson<{ task: Task }>(t.api('POST', `/bots/${bot().id}/exec`, { body: { command: ['sleep', '1000'], timeoutSeconds: 1, background: true } }), 202);
      await eventually(async () => (await task(started.id)).status !== 'running');
      expect(await task(started.id)).toMatchObject({ status: 'killed', timedOut: true, exitCode: 137 });
    });
  });

  it('marks a task lost when its container stops under it, and answers task_not_found for unknown ids', async () => {
    const bot = await newBot('lost', TEST_IMAGE);
    const { task: started } = await expectJson<{ task: Task }>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command: ['sleep', '1000'], background: true } }), 202);
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: { timeoutSeconds: 1 } }), 200);
    expect(await expectJson<Task>(t.api('GET', `/bots/${bot.id}/tasks/${started.id}`), 200)).toMatchObject({ status: 'lost' });
    const c = await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/start`), 200);
    expect(c.tasks).toBe(0);
    const after = await expectJson<Task>(t.api('GET', `/bots/${bot.id}/tasks/${started.id}`), 200);
    expect(after).toMatchObject({ status: 'lost', exitCode: null });
    expect(after.finishedAt).not.toBeNull();
    expect((await expectJson<{ error: { code: string } }>(t.api('GET', `/bots/${bot.id}/tasks/task_nope`), 404)).error.code).toBe('task_not_found');
    expect((await expectJson<{ error: { code: string } }>(t.api('DELETE', `/bots/${bot.id}/tasks/task_nope`), 404)).error.code).toBe('task_not_found');
    // The container was started again, not replaced: the task's output is still there to read.
    expect((await t.api('GET', `/bots/${bot.id}/tasks/${started.id}/output`)).status).toBe(200);
    expect((await expectJson<{ error: { code: string } }>(t.api('GET', `/bots/${bot.id}/tasks/task_nope/wait`), 404)).error.code).toBe('task_not_found');
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: { timeoutSeconds: 1 } }), 200);
    expect((await expectJson<{ error: { code: string } }>(t.api('GET', `/bots/${bot.id}/tasks/${started.id}/output`), 409)).error.code).toBe('container_not_running');
    // A lost task is over: a wait answers it at once.
    expect(await expectJson<Task>(t.api('GET', `/bots/${bot.id}/tasks/${started.id}/wait?timeoutSeconds=600`), 200)).toMatchObject({ status: 'lost' });
  });
});
