import type { OperationEvent } from '@berth/contract';
import type { Logger } from '../logger.js';
import { isUniqueViolation, type Store } from '../store/store.js';

/** How an operation ended, as it is to be recorded: the row's final fields and, if not yet recorded, its terminal event. */
export interface OperationEnding {
  id: string;
  botId: string;
  status: 'succeeded' | 'failed';
  /** JSON error payload of a failed one. */
  error: string | null;
  finishedAt: string;
  /** The `done` or `error` event when appending it failed too. */
  event: OperationEvent | null;
}

/** How often endings the database refused are written again. */
const RETRY_MS = 1000;

/**
 * Writes the ending of each operation, and keeps in memory those the database could not take (its
 * disk is full), writing them again every second and before the bot's next operation. Until one is
 * written, Berth reads the operation as ended from here: a row left "running" would otherwise
 * refuse every later operation of the bot until a restart (whose start-up marks it failed).
 */
export class OperationEndings {
  private readonly pending = new Map<string, OperationEnding>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(private readonly deps: { store: Store; logger: Logger; retryMs?: number }) {}

  /** Records an ending; when the database refuses it, keeps it and retries. Never throws. */
  async record(ending: OperationEnding): Promise<void> {
    try {
      await this.write(ending);
    } catch (err) {
      this.pending.set(ending.id, ending);
      this.deps.logger.error({ err, operationId: ending.id, botId: ending.botId, status: ending.status }, 'could not record how the operation ended; kept in memory and written again once the database takes writes');
      this.schedule();
    }
  }

  /** The ending of an operation that is not in the database yet. */
  unrecorded(id: string): OperationEnding | undefined {
    return this.pending.get(id);
  }

  /** Writes the pending endings (of one bot, or all) if the database takes them now; never throws. */
  async flush(botId?: string): Promise<void> {
    // One flush at a time, so that an ending is never written twice at once.
    while (this.flushing) await this.flushing;
    const run = (async () => {
      for (const ending of [...this.pending.values()]) {
        if (botId !== undefined && ending.botId !== botId) continue;
        try {
          await this.write(ending);
          this.pending.delete(ending.id);
          this.deps.logger.info({ operationId: ending.id, botId: ending.botId, status: ending.status }, 'recorded how the operation ended, now that the database takes writes again');
        } catch {
          // Still refused: the timer tries again.
        }
      }
      if (this.pending.size === 0) this.stop();
    })();
    this.flushing = run;
    try {
      await run;
    } finally {
      this.flushing = null;
    }
  }

  /** Stops retrying (shutdown); what is still pending is marked failed as interrupted at the next start. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.deps.retryMs ?? RETRY_MS);
    this.timer.unref();
  }

  private async write(ending: OperationEnding): Promise<void> {
    const { store } = this.deps;
    // Gone with its bot (a bot delete): nothing left to record.
    if (!(await store.findOperation(ending.id))) return;
    if (ending.event) {
      const ev = ending.event;
      try {
        await store.appendEvent({ operation_id: ending.id, seq: ev.seq, event: ev.event, data: JSON.stringify(ev.data), at: ending.finishedAt });
      } catch (err) {
        // Written by an earlier try whose answer was lost.
        if (!isUniqueViolation(err)) throw err;
      }
      ending.event = null;
    }
    await store.updateOperation(ending.id, { status: ending.status, error: ending.error, finished_at: ending.finishedAt });
  }
}
