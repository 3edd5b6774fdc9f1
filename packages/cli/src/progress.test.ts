import { describe, expect, it } from 'vitest';
import type { OperationEvent } from '@berth/contract';
import { reattaching } from './progress.js';

const ev = (seq: number, event: OperationEvent['event'], data: unknown = {}): OperationEvent => ({ seq, event, data: data as never });

async function* stream(events: OperationEvent[], cut?: Error): AsyncGenerator<OperationEvent> {
  yield* events;
  if (cut) throw cut;
}

async function collect(events: AsyncIterable<OperationEvent>): Promise<OperationEvent[]> {
  const out: OperationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('reattaching', () => {
  const opened = [ev(1, 'operation', { id: 'op_1' }), ev(2, 'phase', { phase: 'create' })];

  it('continues a stream cut by a connection error after the last event seen, once', async () => {
    const resumed: Array<[string, number]> = [];
    const lost: string[] = [];
    const events = reattaching(
      stream(opened, new TypeError('terminated')),
      (id, last) => {
        resumed.push([id, last]);
        // The server may send again what was seen: it is not passed on twice.
        return stream([ev(2, 'phase', { phase: 'create' }), ev(3, 'phase', { phase: 'ready' }), ev(4, 'done')]);
      },
      (id) => lost.push(id),
    );
    expect((await collect(events)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(resumed).toEqual([['op_1', 2]]);
    expect(lost).toEqual(['op_1']);
  });

  it('continues a stream that ended quietly before done', async () => {
    const events = reattaching(stream(opened), () => stream([ev(3, 'done')]), () => undefined);
    expect((await collect(events)).map((e) => e.event)).toEqual(['operation', 'phase', 'done']);
  });

  it('leaves a stream that ended with done or error alone', async () => {
    const never = () => {
      throw new Error('not to be resumed');
    };
    expect((await collect(reattaching(stream([...opened, ev(3, 'done')]), never, never))).length).toBe(3);
    expect((await collect(reattaching(stream([...opened, ev(3, 'error', { code: 'internal', message: 'x' })]), never, never))).at(-1)!.event).toBe('error');
  });

  it('throws a cut that came before the operation was named, and anything but a connection error', async () => {
    const never = () => stream([]);
    await expect(collect(reattaching(stream([], new TypeError('fetch failed')), never, () => undefined))).rejects.toThrow('fetch failed');
    await expect(collect(reattaching(stream(opened, new Error('bad frame')), never, () => undefined))).rejects.toThrow('bad frame');
  });

  it('reattaches by a known id, but not to a stream that had nothing to send', async () => {
    const resumed: number[] = [];
    const resume = (_id: string, last: number) => {
      resumed.push(last);
      return stream([ev(5, 'done')]);
    };
    expect(await collect(reattaching(stream([]), resume, () => undefined, 'op_9'))).toEqual([]);
    expect((await collect(reattaching(stream([ev(4, 'log', { message: 'x' })], new TypeError('terminated')), resume, () => undefined, 'op_9'))).map((e) => e.seq)).toEqual([4, 5]);
    expect(resumed).toEqual([4]);
  });
});
