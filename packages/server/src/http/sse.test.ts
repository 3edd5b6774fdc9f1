import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, ChangeEvent, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { ChangeLogStore } from '../store/change-log-store.js';
import { expectJson, parseSseBlock, readSse, startTestBerth, type SseTestFrame, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

type Frame = SseTestFrame;

/** Reads an open SSE response frame by frame (heartbeat comments skipped). */
class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';

  constructor(res: Response) {
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    this.reader = res.body!.getReader();
  }

  async next(): Promise<Frame> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = parseSseBlock(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
        if (frame) return frame;
        continue;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error('the stream ended');
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Frames up to and including the first that `until` accepts. */
  async until(until: (f: Frame) => boolean): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const f = await this.next();
      frames.push(f);
      if (until(f)) return frames;
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
  }
}

const createdBot = (botId: string) => (f: Frame) => f.event === 'bot.created' && (f.data as ChangeEvent).botId === botId;

describe('SSE streams over the fake driver', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver });
  });
  afterEach(async () => {
    await t.close();
  });

  const createBot = (name: string) => expectJson<Bot>(t.api('POST', '/bots', { body: { name } }), 201);

  describe('an operation’s events', () => {
    async function finishedCreate(image?: string): Promise<Operation> {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'alpha', ...(image && { image }) } }), 201);
      const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
      await t.berth.operations.settled(operation.id);
      return t.berth.operations.get(operation.id);
    }

    it('replays a finished operation once, then answers 204 at or past its last event', async () => {
      const op = await finishedCreate();
      expect(op.status).toBe('succeeded');
      const all = await readSse(await t.api('GET', `/operations/${op.id}/events`));
      expect(all.at(-1)?.event).toBe('done');
      const last = Number(all.at(-1)?.id);

      for (const id of [last, last + 5]) {
        const res = await t.api('GET', `/operations/${op.id}/events`, { headers: { 'last-event-id': String(id) } });
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
      }
      // EventSource polyfills that cannot send headers put it in the query.
      expect((await t.api('GET', `/operations/${op.id}/events?lastEventId=${last}`)).status).toBe(204);

      const tail = await t.api('GET', `/operations/${op.id}/events`, { headers: { 'last-event-id': String(last - 1) } });
      expect(tail.status).toBe(200);
      expect((await readSse(tail)).map((f) => [f.event, f.id])).toEqual([['done', String(last)]]);
    });

    it('answers 204 past the error event of a failed operation', async () => {
      const op = await finishedCreate('registry.test/missing:1');
      expect(op.status).toBe('failed');
      const all = await readSse(await t.api('GET', `/operations/${op.id}/events`));
      expect(all.at(-1)?.event).toBe('error');
      expect((await t.api('GET', `/operations/${op.id}/events`, { headers: { 'last-event-id': all.at(-1)!.id! } })).status).toBe(204);
    });

    it('keeps streaming a running operation to a client that reconnects at its last event', async () => {
      const bot = await createBot('alpha');
      let finish!: () => void;
      const gate = new Promise<void>((resolve) => (finish = resolve));
      const { operation } = await t.berth.operations.start(bot.id, 'create', async () => {
        await gate;
        return { container: null };
      });
      const res = await t.api('GET', `/operations/${operation.id}/events`, { headers: { 'last-event-id': '1' } });
      expect(res.status).toBe(200);
      const reader = new SseReader(res);
      finish();
      expect(await reader.next()).toMatchObject({ event: 'done', id: '2' });
      await t.berth.operations.settled(operation.id);
      expect((await t.api('GET', `/operations/${operation.id}/events`, { headers: { 'last-event-id': '2' } })).status).toBe(204);
    });

    it('answers 404 for an unknown operation, with or without Last-Event-ID', async () => {
      expect((await t.api('GET', '/operations/op_nope/events')).status).toBe(404);
      expect((await t.api('GET', '/operations/op_nope/events', { headers: { 'last-event-id': '3' } })).status).toBe(404);
    });
  });

  describe('/events', () => {
    it('starts with ready, whose id is where the stream starts, and numbers each change after it', async () => {
      await createBot('before');
      await t.berth.changes.flush();
      const latest = (await new ChangeLogStore(t.store.db).bounds()).latest;
      const reader = new SseReader(await t.api('GET', '/events'));
      expect(await reader.next()).toMatchObject({ event: 'ready', id: String(latest) });
      const bot = await createBot('alpha');
      const [created] = await reader.until(createdBot(bot.id));
      expect(created).toMatchObject({ event: 'bot.created', id: String(latest + 1), data: { type: 'bot.created', botId: bot.id } });
      await reader.close();
    });

    it('replays the changes made while disconnected after Last-Event-ID, then live ones, each once and in order', async () => {
      const first = new SseReader(await t.api('GET', '/events'));
      const a = await createBot('alpha');
      const seen = (await first.until(createdBot(a.id))).at(-1)!;
      await first.close();

      const b = await createBot('bravo');
      const c = await createBot('charlie');
      await t.berth.changes.flush();
      const again = new SseReader(await t.api('GET', '/events', { headers: { 'last-event-id': seen.id! } }));
      expect(await again.next()).toMatchObject({ event: 'ready', id: seen.id });
      const replayed = await again.until(createdBot(c.id));
      const d = await createBot('delta');
      const live = await again.until(createdBot(d.id));
      await again.close();

      const frames = [...replayed, ...live];
      expect(frames.map((f) => (f.data as ChangeEvent).botId)).toEqual([b.id, c.id, d.id]);
      const ids = frames.map((f) => Number(f.id));
      expect(ids).toEqual([Number(seen.id) + 1, Number(seen.id) + 2, Number(seen.id) + 3]);
    });

    it('takes the id from the lastEventId query too', async () => {
      const a = await createBot('alpha');
      await t.berth.changes.flush();
      const reader = new SseReader(await t.api('GET', '/events?lastEventId=0'));
      expect(await reader.next()).toMatchObject({ event: 'ready', id: '0' });
      expect((await reader.until(createdBot(a.id))).map((f) => f.id)).toEqual(['1']);
      await reader.close();
    });

    it('keeps the ids increasing after a restart over the same database', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sse-restart-'));
      try {
        const before = await startTestBerth({ driver, home });
        const reader = new SseReader(await before.api('GET', '/events'));
        const a = await expectJson<Bot>(before.api('POST', '/bots', { body: { name: 'alpha' } }), 201);
        const seen = (await reader.until(createdBot(a.id))).at(-1)!;
        await reader.close();
        await before.close();

        const after = await startTestBerth({ driver, home });
        try {
          const resumed = new SseReader(await after.api('GET', '/events', { headers: { 'last-event-id': seen.id! } }));
          expect(await resumed.next()).toMatchObject({ event: 'ready', id: seen.id });
          const b = await expectJson<Bot>(after.api('POST', '/bots', { body: { name: 'bravo' } }), 201);
          const frames = await resumed.until(createdBot(b.id));
          await resumed.close();
          expect(frames.map((f) => f.event)).toEqual(['bot.created']);
          expect(Number(frames[0]!.id)).toBe(Number(seen.id) + 1);
        } finally {
          await after.close();
        }
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
    });

    it('answers an id older than what is kept with reset gap_too_old, then live changes', async () => {
      for (const name of ['alpha', 'bravo', 'charlie']) await createBot(name);
      await t.berth.changes.flush();
      const log = new ChangeLogStore(t.store.db);
      const { latest } = await log.bounds();
      await log.pruneThrough(latest - 1);

      const reader = new SseReader(await t.api('GET', '/events', { headers: { 'last-event-id': String(latest - 2) } }));
      expect(await reader.next()).toEqual({ event: 'ready', id: undefined, data: { at: expect.any(String) } });
      expect(await reader.next()).toEqual({ event: 'reset', id: String(latest), data: { reason: 'gap_too_old', oldestSeq: latest, latestSeq: latest } });
      const d = await createBot('delta');
      expect((await reader.until(createdBot(d.id))).map((f) => f.id)).toEqual([String(latest + 1)]);
      await reader.close();
    });

    it('answers an id never given out by this database with reset unknown_id', async () => {
      await createBot('alpha');
      await t.berth.changes.flush();
      const { oldest, latest } = await new ChangeLogStore(t.store.db).bounds();
      for (const id of [String(latest + 1000), 'not-a-number', '-4']) {
        const reader = new SseReader(await t.api('GET', '/events', { headers: { 'last-event-id': id } }));
        expect((await reader.until((f) => f.event === 'reset')).at(-1)).toEqual({ event: 'reset', id: String(latest), data: { reason: 'unknown_id', oldestSeq: oldest, latestSeq: latest } });
        await reader.close();
      }
    });
  });
});
