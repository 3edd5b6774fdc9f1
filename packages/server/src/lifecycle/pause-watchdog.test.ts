import { afterEach, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { createLogger } from '../logger.js';
import type { ContainerSpec } from '../runtime/driver.js';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import type { BotRow, OperationRow } from '../store/store.js';
import { PauseWatchdog } from './pause-watchdog.js';

const IMAGE = 'localhost/berth/test:busybox';
const logger = createLogger({ level: 'silent' });

function spec(name: string, labels: Record<string, string>): ContainerSpec {
  return {
    name,
    image: IMAGE,
    labels,
    env: {},
    dataMount: { hostPath: '/nowhere', containerPath: '/data' },
    cdiDevices: [],
    resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
    network: 'bridge',
  };
}

describe('PauseWatchdog', () => {
  let watchdog: PauseWatchdog | undefined;
  afterEach(async () => {
    await watchdog?.stop();
  });

  async function setup() {
    const driver = new FakeDriver({ images: [IMAGE] });
    const busy = new Set<string>();
    const bots = new Set(['bot_idle', 'bot_busy', 'bot_a', 'bot_b', 'bot_c']);
    const store = {
      findBot: (botId: string) => Promise.resolve(bots.has(botId) ? ({ id: botId } as BotRow) : undefined),
      runningOperationFor: (botId: string) => Promise.resolve(busy.has(botId) ? ({ id: 'op_1', bot_id: botId } as OperationRow) : undefined),
    };
    const pausedOne = async (name: string, labels: Record<string, string>) => {
      const { id } = await driver.createContainer(spec(name, labels));
      await driver.startContainer(id);
      await driver.pauseContainer(id);
      return id;
    };
    const stateOf = async (id: string) => (await driver.inspectContainer(id))?.state;
    return { driver, busy, store, pausedOne, stateOf };
  }

  it('unpauses a paused container of one of its bots that runs no operation, and nothing else', async () => {
    const { driver, busy, store, pausedOne, stateOf } = await setup();
    const idle = await pausedOne('berth-idle', { 'berth.managed': 'true', 'berth.bot': 'bot_idle' });
    const held = await pausedOne('berth-held', { 'berth.managed': 'true', 'berth.bot': 'bot_busy' });
    const foreign = await pausedOne('not-berths', { other: 'x' });
    const otherBerths = await pausedOne('berth-elsewhere', { 'berth.managed': 'true', 'berth.bot': 'bot_of_another_berth' });
    busy.add('bot_busy');
    watchdog = new PauseWatchdog({ driver, store, logger });

    expect(await watchdog.sweep()).toEqual([idle]);
    expect(await stateOf(idle)).toBe('running');
    expect(await stateOf(held)).toBe('paused');
    expect(await stateOf(foreign)).toBe('paused');

    // Once the operation is over, its pause is nobody's.
    busy.delete('bot_busy');
    expect(await watchdog.sweep()).toEqual([held]);
    expect(await stateOf(foreign)).toBe('paused');
    expect(await stateOf(otherBerths)).toBe('paused');
  });

  it('does nothing and throws nothing while the engine does not answer', async () => {
    const { driver, store, pausedOne, stateOf } = await setup();
    const id = await pausedOne('berth-a', { 'berth.managed': 'true', 'berth.bot': 'bot_a' });
    watchdog = new PauseWatchdog({ driver, store, logger });
    driver.engineFault = 'runtime_timeout';
    expect(await watchdog.sweep()).toEqual([]);
    driver.engineFault = null;
    expect(await stateOf(id)).toBe('paused');
  });

  it('retries a failed unpause until the engine answers again, without waiting for the periodic pass', async () => {
    const { driver, store, pausedOne, stateOf } = await setup();
    const id = await pausedOne('berth-b', { 'berth.managed': 'true', 'berth.bot': 'bot_b' });
    // The periodic pass is far away: only the owed retry can unpause it within this test.
    watchdog = new PauseWatchdog({ driver, store, logger, intervalMs: 3_600_000 });
    watchdog.start();

    driver.engineFault = 'runtime_unavailable';
    await expect(watchdog.unpause(id, { botId: 'bot_b' })).rejects.toSatisfy((e) => isAppError(e, 'runtime_unavailable'));
    await new Promise((r) => setTimeout(r, 600));
    driver.engineFault = null;
    for (let i = 0; i < 100 && (await stateOf(id)) === 'paused'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await stateOf(id)).toBe('running');
  });

  it('passes other unpause failures through without owing a retry', async () => {
    const { driver, store } = await setup();
    watchdog = new PauseWatchdog({ driver, store, logger });
    await expect(watchdog.unpause('no-such-container', { botId: 'bot_c' })).rejects.toBeInstanceOf(Error);
    expect(driver.calls.filter((c) => c.method === 'listContainers')).toHaveLength(0);
  });
});
