import { setTimeout as sleep } from 'node:timers/promises';

/** Errors that say the engine is not answering (dead or frozen), not that it refused. */
export function isEngineDown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'runtime_unavailable' || code === 'runtime_timeout';
}

/**
 * Runs `step` until it succeeds, retrying while the engine is not answering (backing off up to 10 s
 * between tries) for at most `maxMs`. For the steps that put a bot back in order (undoing or finishing
 * a container build): they are done as soon as the engine is back, not at the next start of Berth.
 * Any other failure, a stop of the server (`signal`) or the time running out ends it with the last error.
 */
export async function retryWhileEngineDown<T>(step: () => Promise<T>, options: { signal?: AbortSignal; maxMs?: number; onRetry?: (err: unknown) => void } = {}): Promise<T> {
  const deadline = Date.now() + (options.maxMs ?? 10 * 60_000);
  for (let wait = 500; ; wait = Math.min(wait * 2, 10_000)) {
    try {
      return await step();
    } catch (err) {
      if (!isEngineDown(err) || options.signal?.aborted || Date.now() + wait > deadline) throw err;
      options.onRetry?.(err);
      await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
      if (options.signal?.aborted) throw err;
    }
  }
}
