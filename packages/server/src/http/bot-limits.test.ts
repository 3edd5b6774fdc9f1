import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecResult, Operation } from '@berth/contract';
import { DEFAULT_BOT_WORK_LIMITS } from '../core/bot-work-limiter.js';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { until } from '../testing/wait.js';

const IMAGE = 'localhost/berth/test:busybox';

/** Per-bot limits on exec/files calls, as a client sees them (the default limits). */
describe('per-bot limits on engine work', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver });
    for (const name of ['alpha', 'beta']) {
      expect((await t.api('POST', '/bots', { body: { name } })).status).toBe(201);
      const { operation } = (await (await t.api('POST', `/bots/${name}/container`, { body: {} })).json()) as { operation: Operation };
      await t.berth.operations.settled(operation.id);
    }
  });
  afterEach(async () => {
    await t.close();
  });

  const exec = (bot: string, command: string[], signal?: AbortSignal) =>
    Promise.resolve(
      t.berth.app.request(`/api/v1/bots/${bot}/exec`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command }),
        ...(signal && { signal }),
      }),
    );

  it('queues past the running limit, refuses past the queue with 429 and Retry-After, and leaves other bots alone', async () => {
    const alpha = (await t.store.mustGetBot('alpha')).id;
    const { running, queued: queueLength } = DEFAULT_BOT_WORK_LIMITS;
    // Long commands take alpha's places; short ones queue behind them.
    const hold = new AbortController();
    const holding = Array.from({ length: running }, () => exec('alpha', ['sleep', '3600'], hold.signal).catch(() => null));
    await until('alpha runs its calls', () => t.berth.limiter.usage(alpha).running === running);
    const queued = Array.from({ length: queueLength }, (_, i) => exec('alpha', ['echo', `queued ${i}`]));
    await until('alpha queues its calls', () => t.berth.limiter.usage(alpha).queued === queueLength);

    const refused = await exec('alpha', ['echo', 'one too many']);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    // Files calls share the places.
    const file = await t.api('GET', '/bots/alpha/files?path=/data');
    expect(file.status).toBe(429);

    // Another bot runs at once.
    const beta = await exec('beta', ['echo', 'beta']);
    expect(beta.status).toBe(200);
    expect(((await beta.json()) as ExecResult).stdout).toBe('beta\n');

    // The long ones end (their client goes away): every queued call then runs and answers.
    hold.abort();
    await Promise.all(holding);
    const answers = await Promise.all(queued);
    expect(answers.map((r) => r.status)).toEqual(Array(queueLength).fill(200));
    const outputs = await Promise.all(answers.map(async (r) => ((await r.json()) as ExecResult).stdout));
    expect(outputs).toEqual(Array.from({ length: queueLength }, (_, i) => `queued ${i}\n`));
    await until('alpha’s places are free', () => t.berth.limiter.usage(alpha).running === 0);
    expect(t.berth.limiter.usage(alpha)).toEqual({ running: 0, queued: 0 });
  });

  it('frees a place when an exec fails', async () => {
    const alpha = (await t.store.mustGetBot('alpha')).id;
    for (let i = 0; i < 30; i++) {
      const res = await t.api('POST', '/bots/alpha/exec', { body: { command: ['ls'], cwd: '/nowhere' } });
      expect(res.status).toBeLessThan(500);
    }
    expect(t.berth.limiter.usage(alpha)).toEqual({ running: 0, queued: 0 });
  });

  it('answers the container info without waiting behind the bot’s own calls', async () => {
    const alpha = await t.store.mustGetBot('alpha');
    const c = await t.berth.containers.engineContainer(alpha);
    // A task recorded as running: counting it would ask the container, in one of the bot's places.
    await t.store.db
      .insertInto('tasks')
      .values({ id: 'task1', bot_id: alpha.id, container_id: c?.id ?? '', command: '["sleep","1"]', cwd: '/', status: 'running', exit_code: null, timed_out: 0, kill_requested: 0, started_at: new Date().toISOString(), finished_at: null })
      .execute();
    const { running } = DEFAULT_BOT_WORK_LIMITS;
    const hold = new AbortController();
    const holding = Array.from({ length: running + 1 }, () => exec('alpha', ['sleep', '3600'], hold.signal).catch(() => null));
    await until('alpha’s places are taken and a call waits', () => t.berth.limiter.usage(alpha.id).queued === 1);
    try {
      const info = await t.api('GET', '/bots/alpha/container');
      expect(info.status).toBe(200);
      expect(((await info.json()) as { tasks: number }).tasks).toBe(1);
      expect(t.berth.limiter.usage(alpha.id)).toEqual({ running, queued: 1 });
    } finally {
      hold.abort();
      await Promise.all(holding);
    }
  });

  it('opens no shell for a terminal request that is not a WebSocket handshake', async () => {
    const before = driver.calls.filter((call) => call.method === 'execStream').length;
    const attempts: Record<string, string>[] = [{}, { upgrade: 'websocket' }, { upgrade: 'websocket', connection: 'Upgrade' }];
    for (const headers of attempts) {
      const res = await t.api('GET', '/bots/alpha/terminal', { headers });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    }
    expect(driver.calls.filter((call) => call.method === 'execStream').length).toBe(before);
  });

  const files = (method: string, bot: string, signal?: AbortSignal) =>
    Promise.resolve(
      t.berth.app.request(`/api/v1/bots/${bot}/files?path=/data/note.txt`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        ...(signal && { signal }),
      }),
    );

  /** A bot without a container: its files are read from its data dir on the host. */
  async function idleBot(content: string | Buffer = 'hello'): Promise<string> {
    expect((await t.api('POST', '/bots', { body: { name: 'gamma' } })).status).toBe(201);
    const id = (await t.store.mustGetBot('gamma')).id;
    fs.mkdirSync(t.berth.paths.dataDir(id), { recursive: true });
    fs.writeFileSync(path.join(t.berth.paths.dataDir(id), 'note.txt'), content);
    return id;
  }

  it('HEAD on a file answers its headers and holds no place afterwards', async () => {
    const gamma = await idleBot();
    for (let i = 0; i < DEFAULT_BOT_WORK_LIMITS.running + 2; i++) {
      const res = await files('HEAD', 'gamma');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('5');
      expect(res.headers.get('x-berth-file-type')).toBe('file');
    }
    expect(t.berth.limiter.usage(gamma)).toEqual({ running: 0, queued: 0 });
    const get = await files('GET', 'gamma');
    expect(await get.text()).toBe('hello');
    expect(t.berth.limiter.usage(gamma)).toEqual({ running: 0, queued: 0 });
  });

  it('a read whose client left while it waited for a place gives the place back', async () => {
    // Larger than what a response stream buffers ahead of its reader.
    const gamma = await idleBot(Buffer.alloc(4 * 1024 * 1024));
    const held = await Promise.all(Array.from({ length: DEFAULT_BOT_WORK_LIMITS.running }, () => t.berth.limiter.acquire(gamma)));
    const client = new AbortController();
    const waiting = files('GET', 'gamma', client.signal).catch(() => null);
    await until('the read waits for a place', () => t.berth.limiter.usage(gamma).queued === 1);
    client.abort();
    for (const release of held) release();
    await waiting;
    await until('gamma’s places are free', () => t.berth.limiter.usage(gamma).running === 0);
    expect(t.berth.limiter.usage(gamma)).toEqual({ running: 0, queued: 0 });
  });
});
