import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeStreamEvents, type ChangeEvent } from '@berth/contract';
import { AppError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { ChangeLogStore } from '../store/change-log-store.js';
import { openStore, type Store } from '../store/store.js';
import { ChangeFeed, type ChangeFrame } from './change-feed.js';

/** Pulls frames from a `follow` until `until` matches one (included). */
async function take(frames: AsyncGenerator<ChangeFrame>, until: (f: ChangeFrame) => boolean): Promise<ChangeFrame[]> {
  const got: ChangeFrame[] = [];
  for (;;) {
    const { value, done } = await frames.next();
    if (done) return got;
    got.push(value);
    if (until(value)) return got;
  }
}

const created = (botId: string) => ({ type: 'bot.created' as const, botId, status: null });
const isBot = (botId: string) => (f: ChangeFrame) => (f.data as Partial<ChangeEvent>).botId === botId;
const botsOf = (frames: ChangeFrame[]) => frames.filter((f) => f.event !== 'ready' && f.event !== 'reset').map((f) => (f.data as ChangeEvent).botId);

describe('ChangeFeed', () => {
  let home: string;
  let store: Store;
  let log: ChangeLogStore;
  const abort = new AbortController();

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-changes-'));
    store = await openStore({ home, databaseUrl: null });
    log = new ChangeLogStore(store.db);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('tells in-process listeners at once, and records each change with an increasing id', async () => {
    const feed = new ChangeFeed({ log });
    const heard: string[] = [];
    feed.subscribe((c) => heard.push(c.botId));
    feed.publish(created('bot_a'));
    expect(heard).toEqual(['bot_a']);
    feed.publish(created('bot_b'));
    await feed.flush();
    const rows = await log.after(0, 10);
    expect(rows.map((r) => [r.event, (JSON.parse(r.data) as ChangeEvent).botId])).toEqual([
      ['bot.created', 'bot_a'],
      ['bot.created', 'bot_b'],
    ]);
    expect(rows[1]!.seq).toBeGreaterThan(rows[0]!.seq);
  });

  it('writes a burst in batches, in order, with the event loop free between them', async () => {
    const feed = new ChangeFeed({ log });
    const seqs: number[] = [];
    feed.subscribeRecorded((r) => seqs.push(r.seq ?? -1));
    for (let i = 0; i < 1200; i++) feed.publish(created(`bot_${i}`));
    // Queued after the writer's first turn: it runs before the last batch is written.
    const seenByOtherWork = new Promise<number>((resolve) => setImmediate(() => resolve(seqs.length)));
    await feed.flush();
    expect(await seenByOtherWork).toBeLessThan(1200);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect((await log.after(0, 2000)).map((r) => (JSON.parse(r.data) as ChangeEvent).botId)).toEqual(seqs.map((_, i) => `bot_${i}`));
  });

  it('keeps the last maxChanges changes, and resumes only from within them', async () => {
    const feed = new ChangeFeed({ log, retention: { maxChanges: 5 } });
    for (let i = 1; i <= 12; i++) feed.publish(created(`bot_${i}`));
    await feed.flush();
    expect(await log.bounds()).toEqual({ oldest: 8, latest: 12 });

    const resumed = await take(feed.follow({ after: 7, signal: abort.signal }), isBot('bot_12'));
    expect(resumed.map((f) => f.id)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(botsOf(resumed)).toEqual(['bot_8', 'bot_9', 'bot_10', 'bot_11', 'bot_12']);

    const tooOld = await take(feed.follow({ after: 6, signal: abort.signal }), (f) => f.event === 'reset');
    expect(tooOld).toEqual([
      { event: 'ready', data: { at: expect.any(String) } },
      { event: 'reset', data: { reason: 'gap_too_old', oldestSeq: 8, latestSeq: 12 }, id: 12 },
    ]);
    expect(ChangeStreamEvents.reset.parse(tooOld[1]!.data)).toBeTruthy();
  });

  it('drops changes older than the age limit where it writes, but never the newest', async () => {
    await log.append([
      { at: '2000-01-01T00:00:00.000Z', event: 'bot.created', data: JSON.stringify({ type: 'bot.created', botId: 'bot_old1', at: '2000-01-01T00:00:00.000Z' }) },
      { at: '2000-01-01T00:00:01.000Z', event: 'bot.created', data: JSON.stringify({ type: 'bot.created', botId: 'bot_old2', at: '2000-01-01T00:00:01.000Z' }) },
    ]);
    // An old newest row stays: it is what says which ids were given out.
    await log.pruneOlderThan('2020-01-01T00:00:00.000Z', 2);
    expect(await log.bounds()).toEqual({ oldest: 2, latest: 2 });
    const feed = new ChangeFeed({ log });
    feed.publish(created('bot_new'));
    await feed.flush();
    expect(await log.bounds()).toEqual({ oldest: 3, latest: 3 });
  });

  it('answers an id it never gave out with reset unknown_id, then live changes', async () => {
    const feed = new ChangeFeed({ log });
    feed.publish(created('bot_a'));
    await feed.flush();
    const frames = feed.follow({ after: 99, signal: abort.signal });
    const head = await take(frames, (f) => f.event === 'reset');
    expect(head.at(-1)).toEqual({ event: 'reset', data: { reason: 'unknown_id', oldestSeq: 1, latestSeq: 1 }, id: 1 });
    feed.publish(created('bot_b'));
    expect(await take(frames, isBot('bot_b'))).toEqual([{ event: 'bot.created', data: expect.objectContaining({ botId: 'bot_b' }), id: 2 }]);
    await frames.return(undefined);
  });

  it('sends a change recorded while the replay is read once, between the replay and the live changes', async () => {
    // The change lands in the log and on the live feed while the replay reads: both would carry it.
    let raced = false;
    const racing = Object.create(log) as ChangeLogStore;
    racing.after = async (seq, limit) => {
      if (!raced) {
        raced = true;
        feed.publish(created('bot_c'));
        await feed.flush();
      }
      return log.after(seq, limit);
    };
    const feed: ChangeFeed = new ChangeFeed({ log: racing });
    feed.publish(created('bot_a'));
    feed.publish(created('bot_b'));
    await feed.flush();
    const frames = feed.follow({ after: 1, signal: abort.signal });
    const got = await take(frames, isBot('bot_c'));
    feed.publish(created('bot_d'));
    got.push(...(await take(frames, isBot('bot_d'))));
    await frames.return(undefined);
    expect(botsOf(got)).toEqual(['bot_b', 'bot_c', 'bot_d']);
    expect(got.map((f) => f.id)).toEqual([1, 2, 3, 4]);
  });

  it('never fails the change when the log cannot take it: logged once, sent live without an id', async () => {
    const warnings: string[] = [];
    const logger = createLogger({ level: 'silent' });
    const spyLogger = Object.assign(Object.create(logger) as Logger, { warn: (_: unknown, msg: string) => warnings.push(msg), info: () => undefined });
    let full = true;
    const fullDisk = Object.create(log) as ChangeLogStore;
    fullDisk.append = (rows) => (full ? Promise.reject(new AppError('insufficient_storage', { what: 'the change log', storage: 'the disk' })) : log.append(rows));
    const feed = new ChangeFeed({ log: fullDisk, logger: spyLogger });
    const frames = feed.follow({ after: null, signal: abort.signal });
    expect((await frames.next()).value).toEqual({ event: 'ready', data: { at: expect.any(String) }, id: 0 });

    expect(() => feed.publish(created('bot_a'))).not.toThrow();
    feed.publish(created('bot_b'));
    const live = await take(frames, isBot('bot_b'));
    expect(live.map((f) => [f.event, f.id])).toEqual([
      ['bot.created', undefined],
      ['bot.created', undefined],
    ]);
    await feed.flush();
    feed.publish(created('bot_c'));
    expect((await take(frames, isBot('bot_c'))).map((f) => f.id)).toEqual([undefined]);
    expect(warnings).toHaveLength(1);

    full = false;
    feed.publish(created('bot_d'));
    expect(await take(frames, isBot('bot_d'))).toMatchObject([{ event: 'bot.created', id: 1 }]);
    await frames.return(undefined);
  });
});
