import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import { LABEL } from '../core/labels.js';
import { isEngineDown } from '../core/engine-retry.js';

export interface PauseWatchdogDeps {
  driver: Pick<RuntimeDriver, 'listContainers' | 'unpauseContainer'>;
  store: Pick<Store, 'findBot' | 'runningOperationFor'>;
  logger: Logger;
  /** How often Berth's containers are checked for a pause nobody will end; default 10 s. */
  intervalMs?: number;
}

/** While an unpause is owed, the engine is asked again this often (growing to the last value). */
const RETRY_MS = [250, 500, 1_000, 2_000, 5_000];

/**
 * Berth pauses a running container only while an operation needs it still (a snapshot's commit, an
 * import's apply) and unpauses it at the end. When the engine dies or freezes in between, that
 * unpause fails and the bot would stay frozen until someone noticed. This watchdog ends such pauses
 * as soon as the engine answers again: a paused container with Berth's labels, of a bot in this
 * Berth's store that runs no operation, is unpaused. After a failed unpause it looks often; otherwise every `intervalMs`.
 */
export class PauseWatchdog {
  /** Containers whose unpause failed because the engine did not answer. */
  private readonly owed = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private sweeping: Promise<unknown> = Promise.resolve();
  private retries = 0;

  constructor(private readonly deps: PauseWatchdogDeps) {}

  /**
   * Unpauses a container Berth paused. When the engine is down or frozen the unpause is owed and
   * retried until it succeeds; the error is still thrown, so the operation fails and says why.
   */
  async unpause(id: string, context: { botId: string; operationId?: string }): Promise<void> {
    try {
      await this.deps.driver.unpauseContainer(id);
      this.owed.delete(id);
    } catch (err) {
      if (isEngineDown(err)) {
        this.deps.logger.warn({ ...context, containerId: id, err }, 'could not unpause the container: the engine does not answer; retrying until it does');
        this.owed.add(id);
        this.retries = 0;
        this.schedule(0);
      }
      throw err;
    }
  }

  /**
   * One pass: every paused container with Berth's labels whose bot has no running operation is
   * unpaused. Answers the ids it unpaused; an engine that does not answer leaves them for the next.
   */
  async sweep(): Promise<string[]> {
    const done: string[] = [];
    let paused;
    try {
      paused = (await this.deps.driver.listContainers({ labels: [`${LABEL.managed}=true`] })).filter((c) => c.state === 'paused');
    } catch (err) {
      this.deps.logger.debug({ err }, 'pause watchdog: the engine does not answer');
      return done;
    }
    const stillPaused = new Set(paused.map((c) => c.id));
    for (const id of this.owed) if (!stillPaused.has(id)) this.owed.delete(id);
    for (const c of paused) {
      const botId = c.labels[LABEL.bot];
      // Another Berth on the same engine may label containers too: only this one's bots are ours.
      if (!botId || !(await this.deps.store.findBot(botId))) continue;
      // An operation that runs may hold the pause on purpose; it unpauses (or owes it) at its end.
      if (await this.deps.store.runningOperationFor(botId)) continue;
      try {
        await this.deps.driver.unpauseContainer(c.id);
        this.owed.delete(c.id);
        done.push(c.id);
        this.deps.logger.warn({ botId, containerId: c.id, name: c.name }, 'unpaused a container that was left paused (the engine failed during the operation that paused it)');
      } catch (err) {
        this.deps.logger.warn({ botId, containerId: c.id, err }, 'pause watchdog: could not unpause the container');
      }
    }
    return done;
  }

  /** Starts looking periodically (the composition root calls it; tests call `sweep` directly). */
  start(): void {
    this.running = true;
    this.schedule(this.deps.intervalMs ?? 10_000);
  }

  /** Stops looking and waits for a pass under way. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sweeping;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'pause watchdog pass failed'))
        .finally(() => {
          const owed = this.owed.size > 0;
          this.retries = owed ? this.retries + 1 : 0;
          this.schedule(owed ? (RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)] ?? 5_000) : (this.deps.intervalMs ?? 10_000));
        });
    }, delayMs);
    // Never the reason the process stays up.
    this.timer.unref();
  }
}
