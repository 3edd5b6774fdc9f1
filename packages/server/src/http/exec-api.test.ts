import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecResult, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { readSse, startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

/** The exec API's contract over the fake driver: validation, output capping, SSE, timeouts, refusals. */
describe('exec API over the fake driver', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }), config: { execOutputLimit: 8 } });
    expect((await t.api('POST', '/bots', { body: { name: 'alpha' } })).status).toBe(201);
    const { operation } = (await (await t.api('POST', '/bots/alpha/container', { body: {} })).json()) as { operation: Operation };
    await t.berth.operations.settled(operation.id);
  });
  afterEach(async () => {
    await t.close();
  });

  const exec = async (body: unknown, status = 200) => {
    const res = await t.api('POST', '/bots/alpha/exec', { body });
    const json = (await res.json()) as ExecResult & { error?: { code: string } };
    expect({ status: res.status, json }).toMatchObject({ status });
    return json;
  };

  it('answers exit code and output, capped per stream with truncated and the full byte count', async () => {
    expect(await exec({ command: ['echo', 'hi'] })).toMatchObject({ exitCode: 0, stdout: 'hi\n', stderr: '', stdoutEncoding: 'utf8', stdoutBytes: 3, truncated: false, timedOut: false });
    expect(await exec({ command: ['echo', 'a long line of output'] })).toMatchObject({ stdout: 'a long l', stdoutBytes: 22, truncated: true });
    expect((await exec({ command: ['false'] })).exitCode).toBe(1);
  });

  it('feeds stdin, as text or base64', async () => {
    expect((await exec({ command: ['cat'], stdin: 'in\n' })).stdout).toBe('in\n');
    const r = await exec({ command: ['cat'], stdin: Buffer.from([0xff, 0xfe]).toString('base64'), stdinEncoding: 'base64' });
    expect(r).toMatchObject({ stdout: '//4=', stdoutEncoding: 'base64' });
  });

  it('kills a command whose timeout runs out and says so', async () => {
    expect(await exec({ command: ['sleep', '30'], timeoutSeconds: 0.2 })).toMatchObject({ exitCode: 137, timedOut: true });
  });

  it('streams SSE: output events, then exit', async () => {
    const res = await t.api('POST', '/bots/alpha/exec', { body: { command: ['echo', 'streamed'] }, headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect((await readSse(res)).map((f) => [f.event, f.data])).toEqual([
      ['stdout', { data: 'streamed\n', encoding: 'utf8' }],
      ['exit', expect.objectContaining({ exitCode: 0, timedOut: false })],
    ]);
  });

  it('refuses bad bodies with validation_failed', async () => {
    for (const body of [{}, { command: [] }, { command: '' }, { command: ['x'], timeoutSeconds: -1 }, { command: ['x'], extra: 1 }, { command: ['x'], env: { 'BAD-NAME': 'x' } }]) {
      expect((await exec(body, 400)).error?.code).toBe('validation_failed');
    }
    expect((await exec({ command: ['x'], cwd: '../../..' }, 400)).error?.code).toBe('path_outside_root');
  });

  it('refuses task waits and output reads of unknown tasks and with bad parameters', async () => {
    const code = async (path: string, status: number) => {
      const res = await t.api('GET', path);
      expect({ path, status: res.status }).toEqual({ path, status });
      return ((await res.json()) as { error: { code: string } }).error.code;
    };
    expect(await code('/bots/alpha/tasks/task_none/wait?timeoutSeconds=1', 404)).toBe('task_not_found');
    expect(await code('/bots/alpha/tasks/task_none/output', 404)).toBe('task_not_found');
    expect(await code('/bots/nobody/tasks/task_none/wait', 404)).toBe('bot_not_found');
    for (const q of ['timeoutSeconds=0', 'timeoutSeconds=601', 'timeoutSeconds=x', 'tail=-1']) expect(await code(`/bots/alpha/tasks/task_none/wait?${q}`, 400)).toBe('validation_failed');
    for (const q of ['stream=stdin', 'offset=-1', 'length=0', `length=${1024 * 1024 + 1}`]) expect(await code(`/bots/alpha/tasks/task_none/output?${q}`, 400)).toBe('validation_failed');
  });

  it('answers container_not_running, container_not_found and bot_not_found', async () => {
    expect((await t.api('POST', '/bots/alpha/container/stop', { body: {} })).status).toBe(200);
    expect((await exec({ command: ['true'] }, 409)).error?.code).toBe('container_not_running');
    expect((await exec({ command: ['true'], background: true }, 409)).error?.code).toBe('container_not_running');
    expect((await t.api('DELETE', '/bots/alpha/container')).status).toBe(204);
    expect((await exec({ command: ['true'] }, 404)).error?.code).toBe('container_not_found');
    const res = await t.api('POST', '/bots/nobody/exec', { body: { command: ['true'] } });
    expect(res.status).toBe(404);
  });
});
