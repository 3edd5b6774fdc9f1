import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerState, RuntimeDriver } from '../runtime/driver.js';

/** How long a call that needs the container waits for a snapshot's pause to end. */
export const PAUSE_WAIT_MS = 30_000;

/**
 * Waits while the container is paused and answers its state once it is not (null when it is gone),
 * or its still-paused state when `timeoutMs` runs out. Berth pauses a running container only for a
 * snapshot's commit (typically well under a second), and the engine refuses to start an exec in a
 * paused container; a call that needs the container waits the pause out instead of failing or
 * working beside it. The engine has no event for the unpause that every driver offers, so this polls,
 * briefly at first.
 */
export async function waitWhilePaused(driver: RuntimeDriver, idOrName: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ContainerState | null> {
  const deadline = Date.now() + (options.timeoutMs ?? PAUSE_WAIT_MS);
  let delay = 10;
  for (;;) {
    const state = await driver.inspectContainer(idOrName);
    if (state?.state !== 'paused' || Date.now() >= deadline) return state;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
    delay = Math.min(delay * 2, 200);
  }
}
