import { AppError } from '../errors.js';

export interface BotWorkLimits {
  /** Calls of one bot that do engine work at the same time. */
  running: number;
  /** Calls of one bot that wait for one of those places; past them, `too_many_requests`. */
  queued: number;
  /** What `Retry-After` tells a refused caller, in seconds. */
  retryAfterSeconds: number;
}

/**
 * Exec, files and task calls: each starts processes in the container and conmon on the host. Four
 * at once per bot: on a 2-core host, eight concurrent execs of one bot more than doubled another
 * bot's exec latency (bench `flood`), three or four did not.
 */
export const DEFAULT_BOT_WORK_LIMITS: Readonly<BotWorkLimits> = Object.freeze({ running: 4, queued: 16, retryAfterSeconds: 1 });
/** Terminals are long-lived: a cap of their own, no queue, so they never hold the places of short calls. */
export const DEFAULT_TERMINAL_LIMITS: Readonly<BotWorkLimits> = Object.freeze({ running: 8, queued: 0, retryAfterSeconds: 5 });

interface Waiter {
  grant: () => void;
}

interface BotQueue {
  running: number;
  waiting: Waiter[];
}

/**
 * Per-bot admission for work a bot's calls cause in the engine and on the host: a few run at once,
 * a few more wait in order, the rest are refused with 429 `too_many_requests` (with Retry-After).
 * One bot's flood therefore queues behind itself and never takes another bot's places.
 */
export class BotWorkLimiter {
  private readonly bots = new Map<string, BotQueue>();

  constructor(
    private readonly limits: Readonly<BotWorkLimits> = DEFAULT_BOT_WORK_LIMITS,
    private readonly what = 'exec and files calls',
  ) {}

  /**
   * Waits for a place for one call of `botId` and answers its release, which must be called once
   * the call's engine work has ended (success, error or abort; more calls are harmless). An abort
   * while waiting gives the place up and rejects with the signal's reason.
   */
  async acquire(botId: string, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const q = this.bots.get(botId) ?? { running: 0, waiting: [] };
    this.bots.set(botId, q);
    if (q.running < this.limits.running) {
      q.running++;
      return this.releaser(botId, q);
    }
    if (q.waiting.length >= this.limits.queued) {
      throw new AppError('too_many_requests', { reason: `the bot already has ${q.running} ${this.what} running and ${q.waiting.length} waiting; retry later` }, {
        details: { running: q.running, queued: q.waiting.length, retryAfterSeconds: this.limits.retryAfterSeconds },
      });
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = q.waiting.indexOf(waiter);
        if (i >= 0) q.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      q.waiting.push(waiter);
    });
    // The place was handed over by a release: `running` already counts it.
    return this.releaser(botId, q);
  }

  /** A place for one call of `botId` if one is free now (its release), else null: for work that had rather not wait. */
  tryAcquire(botId: string): (() => void) | null {
    const q = this.bots.get(botId) ?? { running: 0, waiting: [] };
    if (q.running >= this.limits.running) return null;
    this.bots.set(botId, q);
    q.running++;
    return this.releaser(botId, q);
  }

  /** Runs `work` in a place of `botId`'s, released when it settles. */
  async run<T>(botId: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(botId, signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Places in use and calls waiting, for a bot (for tests and metrics). */
  usage(botId: string): { running: number; queued: number } {
    const q = this.bots.get(botId);
    return { running: q?.running ?? 0, queued: q?.waiting.length ?? 0 };
  }

  private releaser(botId: string, q: BotQueue): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = q.waiting.shift();
      if (next) return next.grant();
      q.running--;
      if (q.running === 0 && this.bots.get(botId) === q) this.bots.delete(botId);
    };
  }
}
