import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Operation } from '@berth/contract';
import { DEFAULT_TERMINAL_LIMITS } from '../core/bot-work-limiter.js';
import { isAppError } from '../errors.js';
import type { ExecSession } from '../runtime/driver.js';
import { closeTestBerth, expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { until } from '../testing/wait.js';

/** Open terminals have a per-bot cap of their own: past it, 429 before any WebSocket is made. */
describe('terminal cap on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const bots: Bot[] = [];
  const sessions: ExecSession[] = [];
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    for (const name of [`term-a-${run}`, `term-b-${run}`]) {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name, image: TEST_IMAGE } }), 201);
      const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
      await t.berth.operations.settled(operation.id);
      bots.push(bot);
    }
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.kill()));
    await closeTestBerth(t);
    await podman?.close();
  });

  it('refuses the terminal past the cap with 429 and Retry-After; a closed one frees its place; other bots are not affected', async () => {
    const [a, b] = bots as [Bot, Bot];
    for (let i = 0; i < DEFAULT_TERMINAL_LIMITS.running; i++) sessions.push(await t.berth.terminal.open(a.id, { cols: 80, rows: 24 }));
    const refused = await t.berth.terminal.open(a.id, { cols: 80, rows: 24 }).catch((err: unknown) => err);
    expect(isAppError(refused, 'too_many_requests')).toBe(true);
    // Over HTTP: answered before the upgrade.
    const res = await t.api('GET', `/bots/${a.id}/terminal`, { headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe(String(DEFAULT_TERMINAL_LIMITS.retryAfterSeconds));
    // Exec is not held up by open terminals.
    expect((await t.api('POST', `/bots/${a.id}/exec`, { body: { command: ['true'] } })).status).toBe(200);
    // Another bot opens one.
    const other = await t.berth.terminal.open(b.id, { cols: 80, rows: 24 });
    sessions.push(other);
    // Closing one gives its place back.
    await sessions[0]?.kill();
    let reopened: ExecSession | null = null;
    await until('a terminal can be opened again', async () => {
      reopened = await t.berth.terminal.open(a.id, { cols: 80, rows: 24 }).catch(() => null);
      return reopened !== null;
    });
    if (reopened) sessions.push(reopened);
  });
});
