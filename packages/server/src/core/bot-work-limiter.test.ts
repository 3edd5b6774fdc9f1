import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { BotWorkLimiter } from './bot-work-limiter.js';

describe('BotWorkLimiter', () => {
  it('runs a few at once, queues a few more in order, and refuses the rest with a retry hint', async () => {
    const limiter = new BotWorkLimiter({ running: 2, queued: 2, retryAfterSeconds: 3 });
    const r1 = await limiter.acquire('a');
    const r2 = await limiter.acquire('a');
    const order: number[] = [];
    const q1 = limiter.acquire('a').then((r) => (order.push(1), r));
    const q2 = limiter.acquire('a').then((r) => (order.push(2), r));
    expect(limiter.usage('a')).toEqual({ running: 2, queued: 2 });
    const refused = await limiter.acquire('a').catch((err: unknown) => err);
    expect(isAppError(refused, 'too_many_requests')).toBe(true);
    expect((refused as { details: unknown }).details).toMatchObject({ running: 2, queued: 2, retryAfterSeconds: 3 });
    // Another bot is not affected.
    const other = await limiter.acquire('b');
    other();
    r1();
    r1(); // a second release changes nothing
    const g1 = await q1;
    expect(limiter.usage('a')).toEqual({ running: 2, queued: 1 });
    r2();
    const g2 = await q2;
    expect(order).toEqual([1, 2]);
    g1();
    g2();
    expect(limiter.usage('a')).toEqual({ running: 0, queued: 0 });
  });

  it('tries for a place without waiting: one when free, none while all are taken', async () => {
    const limiter = new BotWorkLimiter({ running: 1, queued: 1, retryAfterSeconds: 1 });
    const got = limiter.tryAcquire('a');
    expect(got).not.toBeNull();
    expect(limiter.tryAcquire('a')).toBeNull();
    expect(limiter.usage('a')).toEqual({ running: 1, queued: 0 });
    got?.();
    expect(limiter.usage('a')).toEqual({ running: 0, queued: 0 });
  });

  it('gives up a queued place when its caller aborts', async () => {
    const limiter = new BotWorkLimiter({ running: 1, queued: 1, retryAfterSeconds: 1 });
    const held = await limiter.acquire('a');
    const abort = new AbortController();
    const waiting = limiter.acquire('a', abort.signal);
    abort.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    expect(limiter.usage('a')).toEqual({ running: 1, queued: 0 });
    held();
    expect(limiter.usage('a')).toEqual({ running: 0, queued: 0 });
  });

  it('releases a place when the work fails', async () => {
    const limiter = new BotWorkLimiter({ running: 1, queued: 0, retryAfterSeconds: 1 });
    await expect(limiter.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run('a', () => Promise.resolve(42))).toBe(42);
  });
});
