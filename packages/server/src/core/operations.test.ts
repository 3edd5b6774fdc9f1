import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

describe('operations whose ending the database refuses', () => {
  const open: TestBerth[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close().catch(() => undefined);
  });

  /** A Berth whose database refuses operation updates and events while `full` is set, as on a full disk. */
  async function berthWithFullableDatabase() {
    const t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    open.push(t);
    const state = { full: false };
    const refuse = () => new AppError('insufficient_storage', { what: 'the database', storage: 'its disk' }, { details: { storage: 'database' } });
    const { updateOperation, appendEvent } = t.store;
    t.store.updateOperation = (...args) => (state.full ? Promise.reject(refuse()) : updateOperation.apply(t.store, args));
    t.store.appendEvent = (...args) => (state.full ? Promise.reject(refuse()) : appendEvent.apply(t.store, args));
    return { t, state };
  }

  it('never leaves the operation running: it reads as failed, a new one answers 507, and once writes work the new one runs and the ending is recorded', async () => {
    const { t, state } = await berthWithFullableDatabase();
    const bot = await t.berth.bots.create({ name: 'alpha' });
    const { operation, result } = await t.berth.operations.start(bot.id, 'reset', () => {
      state.full = true;
      return Promise.reject(new AppError('container_not_found', { target: 'the bot', reason: 'gone' }));
    });
    await expect(result).rejects.toMatchObject({ code: 'container_not_found' });
    expect(await t.berth.operations.get(operation.id)).toMatchObject({ status: 'failed', error: { code: 'container_not_found' } });
    expect((await t.store.findOperation(operation.id))?.status).toBe('running');
    // A client attaching now gets the last event from memory and the stream ends.
    const events = [];
    for await (const ev of t.berth.operations.events(operation.id)) events.push(ev.event);
    expect(events).toEqual(['operation', 'error']);

    const refused = await t.berth.operations.start(bot.id, 'reset', () => Promise.resolve({ container: null })).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'insufficient_storage', status: 507, details: { storage: 'database', operationId: operation.id } });

    state.full = false;
    const next = await t.berth.operations.start(bot.id, 'reset', () => Promise.resolve({ container: null }));
    await next.result;
    expect(await t.berth.operations.get(next.operation.id)).toMatchObject({ status: 'succeeded' });
    expect(await t.store.findOperation(operation.id)).toMatchObject({ status: 'failed' });
    expect((await t.store.listEvents(operation.id, 0)).map((e) => e.event)).toEqual(['operation', 'error']);
  });

  it('a work that succeeded stays a success when only its ending cannot be recorded', async () => {
    const { t, state } = await berthWithFullableDatabase();
    const bot = await t.berth.bots.create({ name: 'beta' });
    const { operation, result } = await t.berth.operations.start(bot.id, 'reset', () => {
      state.full = true;
      return Promise.resolve({ container: null });
    });
    await expect(result).resolves.toEqual({ container: null });
    expect(await t.berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    state.full = false;
    await t.berth.operations.assertIdle(bot.id);
    expect(await t.store.findOperation(operation.id)).toMatchObject({ status: 'succeeded' });
  });
});

describe('operations of a bot being deleted', () => {
  it('are refused as bot_not_found, except its delete', async () => {
    const t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    try {
      const bot = await t.berth.bots.create({ name: 'gamma' });
      await t.store.markBotDeleting(bot.id);
      await expect(t.berth.operations.start(bot.id, 'reset', () => Promise.resolve({ container: null }))).rejects.toMatchObject({ code: 'bot_not_found' });
      const del = await t.berth.operations.start(bot.id, 'delete-bot', () => Promise.resolve({ container: null }));
      await del.result;
      expect(await t.store.findBot(bot.id)).toBeUndefined();
      expect(await t.store.findBotEvenIfDeleting(bot.id)).toMatchObject({ deleting: 1 });
    } finally {
      await t.close();
    }
  });
});
