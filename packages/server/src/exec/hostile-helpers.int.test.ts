import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, DirectoryListing, ExecResult, Task } from '@berth/contract';
import { closeTestBerth, createRunningBot, expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { containerName } from '../core/labels.js';
import { TASK_ROOT } from './task-scripts.js';

const WORKSPACE_IMAGE = 'localhost/berth/workspace:bookworm';

/** The programs Berth's helper scripts run, replaced in the hostile container (dash and coreutils). */
const REPLACED = ['sh', 'stat', 'find', 'head', 'tail', 'cat', 'od', 'readlink', 'base64', 'wc', 'mv'];

/**
 * Stands in for each replaced program. `/hostile/mode` holds `<program> <how>`: that program then
 * prints an endless stream of lines (`flood`), bytes without a newline (`line`), 30 MB in one line
 * (`big`) or an endless stream on stderr (`stderr`); every other program does its real job.
 */
const EVIL = `#!/bin/dash
n=\${0##*/}
m=
IFS= read -r m 2>/dev/null </hostile/mode
case "$m" in
"$n flood") exec /hostile/real/yes 'hostile output that never ends' ;;
"$n line") exec /hostile/real/tr '\\0' x </dev/zero ;;
"$n big") /hostile/real/head -c 31457280 /dev/zero | /hostile/real/tr '\\0' x; exit 0 ;;
"$n stderr") exec /hostile/real/yes 'hostile stderr' >&2 ;;
esac
if [ "$n" = sh ]; then exec /bin/dash "$@"; fi
exec "/hostile/real/$n" "$@"
`;

const INSTALL = `set -e
mkdir -p /hostile/real
for n in ${REPLACED.filter((n) => n !== 'sh').join(' ')} yes tr; do cp "$(command -v "$n")" "/hostile/real/$n"; done
cat >/hostile/evil <<'EOS'
${EVIL}EOS
chmod 755 /hostile/evil
: >/hostile/mode
for n in ${REPLACED.filter((n) => n !== 'sh').join(' ')}; do cp /hostile/evil "$(command -v "$n")"; done
rm -f /usr/bin/sh && cp /hostile/evil /usr/bin/sh
mkdir -p /srv/h && printf '%s' 0123456789abcdefghij >/srv/h/f.txt && ln -sf f.txt /srv/h/link`;

/**
 * A bot whose container replaces `/bin/sh` and the programs Berth's helpers rely on with ones that
 * print far too much. Every files and tasks call on it fails cleanly (`output_too_large`, or the
 * API's own truncation), leaves nothing running in its container, and neither the server's memory
 * nor another bot's calls notice.
 */
describe('hostile helper programs in a bot container', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  let hostile: Bot;
  let neighbour: Bot;
  let hostileId = '';
  let baselineProcesses = 0;

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    hostile = await newBot('hostile', WORKSPACE_IMAGE);
    neighbour = await newBot('neighbour', TEST_IMAGE);
    const state = await podman.driver.inspectContainer(containerName(hostile.id));
    hostileId = state?.id ?? '';
    const installed = await podman.driver.exec(hostileId, ['/bin/dash', '-c', INSTALL]);
    expect(installed.stderr.toString()).toBe('');
    expect(installed.exitCode).toBe(0);
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  const newBot = (name: string, image: string): Promise<Bot> => createRunningBot(t, name, image, run);

  /** Makes one program misbehave (or none, with ''), without going through the replaced sh. */
  async function misbehave(mode: string): Promise<void> {
    const r = await podman.driver.exec(hostileId, ['/bin/dash', '-c', 'printf "%s\\n" "$1" >/hostile/mode', 'mode', mode]);
    expect(r.exitCode).toBe(0);
  }

  const q = encodeURIComponent;
  const files = (p: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    Promise.resolve(
      t.berth.app.request(`/api/v1/bots/${hostile.id}/files?path=${q(p)}`, {
        method: init.method ?? 'GET',
        headers: { authorization: 'Bearer berth_test_admin_token_0123456789', ...init.headers },
        ...(init.body !== undefined && { body: init.body }),
      }),
    );
  const errorOf = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code });
  const tooLarge = { status: 413, code: 'output_too_large' };

  /** Processes in the hostile container once the kills have landed (a kill's effect is not instantaneous). */
  async function settledProcesses(): Promise<number> {
    let n = await podman.driver.countProcesses(hostileId);
    for (let i = 0; i < 100 && n !== baselineProcesses; i++) {
      await new Promise((r) => setTimeout(r, 100));
      n = await podman.driver.countProcesses(hostileId);
    }
    return n;
  }

  it('answers every files and tasks call cleanly, keeps memory bounded, and leaves nothing running', async () => {
    // A task recorded while the container still behaved, to look at once it does not.
    await misbehave('');
    const { task } = await expectJson<{ task: Task }>(t.api('POST', `/bots/${hostile.id}/exec`, { body: { command: ['sleep', '1000'], background: true } }), 202);
    expect((await expectJson<Task>(t.api('GET', `/bots/${hostile.id}/tasks/${task.id}`), 200)).status).toBe('running');
    baselineProcesses = await podman.driver.countProcesses(hostileId);
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

    const hostileCalls = async (): Promise<void> => {
      // A read whose answer line never ends.
      await misbehave('sh line');
      expect(await errorOf(await files('/srv/h/f.txt'))).toEqual(tooLarge);
      sample();
      // A file's header holding 30 MB (the size stat prints).
      await misbehave('stat big');
      expect(await errorOf(await files('/srv/h/f.txt'))).toEqual(tooLarge);
      sample();
      // The file's bytes never end: the client gets what it asked for, and not a byte more.
      await misbehave('cat flood');
      const whole = await files('/srv/h/f.txt');
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-length')).toBe('20');
      expect(Buffer.from(await whole.arrayBuffer()).toString()).toBe('hostile output that ');
      await misbehave('head flood');
      const part = await files('/srv/h/f.txt', { headers: { range: 'bytes=5-9' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).length).toBe(5);
      sample();
      // A listing that never ends is cut where the API cuts listings.
      await misbehave('find flood');
      const listing = await expectJson<DirectoryListing>(files('/srv/h'), 200);
      expect(listing.truncated).toBe(true);
      sample();
      await misbehave('od line');
      expect((await expectJson<DirectoryListing>(files('/srv/h'), 200)).truncated).toBe(true);
      // A glob's walk that never ends, in lines or in one endless path, is cut short and says so.
      for (const mode of ['find flood', 'find line']) {
        await misbehave(mode);
        expect(await t.berth.files.glob(hostile.id, '/srv/h', '**', { limit: 100 }), mode).toEqual({ path: '/srv/h', matches: [], truncated: true });
        sample();
      }
      await misbehave('stat big');
      await expect(t.berth.files.makeDirectory(hostile.id, '/srv/h/dir')).rejects.toMatchObject({ code: 'output_too_large' });
      await misbehave('');
      // Write, move and remove answer a stat line or nothing; 30 MB or an endless stream is refused.
      // (An upload the script cannot check is not kept: the file to move is written beforehand.)
      await expectJson(files('/srv/h/new.txt', { method: 'PUT', body: 'x', headers: { 'content-type': 'application/octet-stream' } }), 200);
      await misbehave('stat big');
      expect(await errorOf(await files('/srv/h/other.txt', { method: 'PUT', body: 'x', headers: { 'content-type': 'application/octet-stream' } }))).toEqual(tooLarge);
      expect(await errorOf(await t.api('POST', `/bots/${hostile.id}/files/move`, { body: { from: '/srv/h/new.txt', to: '/srv/h/moved.txt' } }))).toEqual(tooLarge);
      await misbehave('sh flood');
      expect(await errorOf(await files('/srv/h/moved.txt', { method: 'DELETE' }))).toEqual(tooLarge);
      await misbehave('sh stderr');
      expect(await errorOf(await files('/srv/h/f.txt'))).toEqual(tooLarge);
      sample();
      // Background tasks: status, the output's tail, a launch.
      await misbehave('sh flood');
      expect(await errorOf(await t.api('GET', `/bots/${hostile.id}/tasks`))).toEqual(tooLarge);
      await misbehave('base64 flood');
      expect(await errorOf(await t.api('GET', `/bots/${hostile.id}/tasks/${task.id}`))).toEqual(tooLarge);
      await misbehave('base64 big');
      expect(await errorOf(await t.api('GET', `/bots/${hostile.id}/tasks/${task.id}?tailBytes=1024`))).toEqual(tooLarge);
      // A task's output read in parts: no more than the part asked for, or refused.
      for (const mode of ['cat flood', 'tail flood']) {
        await misbehave(mode);
        const read = await t.berth.tasks.readOutput(hostile.id, task.id, { stream: 'stdout', offset: mode === 'tail flood' ? 1 : 0, length: 1024 });
        expect(read.data.length, mode).toBeLessThanOrEqual(1024);
        sample();
      }
      await misbehave('head flood');
      await expect(t.berth.tasks.readOutput(hostile.id, task.id, { stream: 'stdout', offset: 0, length: 1024 })).rejects.toMatchObject({ code: 'output_too_large' });
      await misbehave('wc big');
      await expect(t.berth.tasks.readOutput(hostile.id, task.id, { stream: 'stdout', offset: 0, length: 1024 })).rejects.toMatchObject({ code: 'output_too_large' });
      await misbehave('sh stderr');
      expect(await errorOf(await t.api('POST', `/bots/${hostile.id}/exec`, { body: { command: ['true'], background: true } }))).toEqual(tooLarge);
      sample();
      await misbehave('');
    };

    // Meanwhile another bot's exec and the health check keep answering.
    let hostileDone = false;
    const neighbourCalls = async (): Promise<number> => {
      let calls = 0;
      while (!hostileDone || calls === 0) {
        const r = await expectJson<ExecResult>(t.api('POST', `/bots/${neighbour.id}/exec`, { body: { command: ['echo', 'fine'] } }), 200);
        expect(r).toMatchObject({ exitCode: 0, stdout: 'fine\n' });
        expect((await t.berth.app.request('/healthz')).status).toBe(200);
        calls++;
      }
      return calls;
    };
    const [, calls] = await Promise.all([hostileCalls().finally(() => (hostileDone = true)), neighbourCalls()]);
    expect(calls).toBeGreaterThan(0);

    // Far less than what the helpers printed (hundreds of MB, and endless streams) stayed in memory.
    expect(peakRss - rssBefore).toBeLessThan(256 * 1024 * 1024);

    // Nothing of the hostile helpers keeps running: only the container's own process and the task's.
    expect(await settledProcesses()).toBe(baselineProcesses);
    expect((await expectJson<Task>(t.api('GET', `/bots/${hostile.id}/tasks/${task.id}`), 200)).status).toBe('running');
  }, 300_000);

  it('reads task output the bot swapped for a FIFO or a symlink as empty, instead of waiting on it forever', async () => {
    await misbehave('');
    const { task } = await expectJson<{ task: Task }>(t.api('POST', `/bots/${hostile.id}/exec`, { body: { command: ['/bin/dash', '-c', 'echo hi; sleep 1000'], background: true } }), 202);
    const dir = `${TASK_ROOT}/${task.id}`;
    const swapped = await podman.driver.exec(hostileId, ['/bin/dash', '-c', 'rm -f "$1/stdout" "$1/stderr" && mkfifo "$1/stdout" && ln -s /dev/stdin "$1/stderr"', 'swap', dir]);
    expect(swapped.exitCode).toBe(0);
    // Both answer (a hang would fail the test by its timeout), and a FIFO's "contents" read as nothing.
    expect((await expectJson<Task>(t.api('GET', `/bots/${hostile.id}/tasks/${task.id}?tailBytes=1024`), 200)).status).toBe('running');
    for (const stream of ['stdout', 'stderr'] as const) {
      expect(await t.berth.tasks.readOutput(hostile.id, task.id, { stream, offset: 0, length: 1024 })).toMatchObject({ size: 0, data: Buffer.alloc(0) });
    }
    expect((await t.api('DELETE', `/bots/${hostile.id}/tasks/${task.id}`)).status).toBe(200);
  }, 120_000);
});
