import { EventEmitter } from 'node:events';
import type { ChangeEvent, ChangeStreamReset } from '@berth/contract';
import type { Logger } from '../logger.js';
import type { ChangeLogBounds, ChangeLogStore } from '../store/change-log-store.js';
import { now } from './ids.js';

/** A change as `/events` sends it: with its id from the change log, or none when the log could not take it. */
export interface RecordedChange {
  seq: number | null;
  change: ChangeEvent;
}

/** One SSE frame of `/events`: `ready`, `reset`, or a change (named by its type). */
export interface ChangeFrame {
  event: string;
  data: unknown;
  id?: number;
}

/** How much of the change log is kept for clients resuming with Last-Event-ID. */
export interface ChangeRetention {
  maxChanges: number;
  maxAgeMs: number;
}

const DEFAULT_CHANGE_RETENTION: ChangeRetention = { maxChanges: 10_000, maxAgeMs: 24 * 60 * 60 * 1000 };

/** Rows per insert: a burst is written in a few statements, with the event loop free between them. */
const WRITE_BATCH = 500;
const REPLAY_PAGE = 500;
/** Pruning by age scans the table; by count it is a key range, done on every write. */
const AGE_PRUNE_INTERVAL_MS = 60_000;
/** A reader this far behind is dropped; it resumes from the log with its Last-Event-ID. */
const MAX_QUEUED_PER_READER = 10_000;

/**
 * Bot and container changes. In-process listeners (`subscribe`) hear each change at once; `/events`
 * readers (`follow`) get it once the change log has given it an id, so a client can resume after a
 * disconnect or a restart. Recording never fails the work that made the change: a log that cannot be
 * written (a full disk) is logged, and the change is sent live without an id.
 */
export class ChangeFeed {
  private readonly emitter = new EventEmitter();
  private readonly retention: ChangeRetention;
  private pending: ChangeEvent[] = [];
  private writing: Promise<void> | null = null;
  private failing = false;
  private lastAgePrune = 0;

  constructor(private readonly deps: { log?: ChangeLogStore; logger?: Logger; retention?: Partial<ChangeRetention> } = {}) {
    // Every open `/events` stream is one listener; there is no fixed bound.
    this.emitter.setMaxListeners(0);
    this.retention = { ...DEFAULT_CHANGE_RETENTION, ...deps.retention };
  }

  publish(change: Omit<ChangeEvent, 'at'>): void {
    const full = { ...change, at: now() } satisfies ChangeEvent;
    this.emitter.emit('change', full);
    this.pending.push(full);
    this.writing ??= this.writePending();
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  /** Hears each change once it is recorded, in order. */
  subscribeRecorded(listener: (recorded: RecordedChange) => void): () => void {
    this.emitter.on('recorded', listener);
    return () => this.emitter.off('recorded', listener);
  }

  /** Resolves once every change published so far is recorded (or given up on): before the store closes. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * The frames of one `/events` connection: `ready`; then, resuming after the id `after`, the
   * changes recorded since (or `reset` when they cannot be replayed); then live changes, until the
   * signal fires. Live changes are heard before the log is read and dropped when already sent, so
   * nothing falls between the replay and the live part, and nothing comes twice.
   */
  async *follow(options: { after: number | null; signal: AbortSignal }): AsyncGenerator<ChangeFrame> {
    const { signal } = options;
    const queue: RecordedChange[] = [];
    let overflow = false;
    let wake: (() => void) | null = null;
    const unsubscribe = this.subscribeRecorded((recorded) => {
      if (queue.length >= MAX_QUEUED_PER_READER) overflow = true;
      else queue.push(recorded);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      const log = this.deps.log;
      const bounds: ChangeLogBounds = log ? await log.bounds() : { oldest: null, latest: 0 };
      let last = bounds.latest;
      const reset = options.after === null ? null : resetReason(options.after, bounds);
      if (options.after === null) {
        yield { event: 'ready', data: { at: now() }, id: bounds.latest };
      } else if (reset) {
        // No id on `ready` here: a client cut off before `reset` must ask again, and be told again.
        yield { event: 'ready', data: { at: now() } };
        yield { event: 'reset', data: { reason: reset, oldestSeq: bounds.oldest, latestSeq: bounds.latest } satisfies ChangeStreamReset, id: bounds.latest };
      } else {
        last = options.after;
        yield { event: 'ready', data: { at: now() }, id: last };
        let more = log !== undefined;
        while (log && more && !signal.aborted) {
          const rows = await log.after(last, REPLAY_PAGE);
          more = rows.length === REPLAY_PAGE;
          for (const row of rows) {
            last = row.seq;
            yield { event: row.event, data: JSON.parse(row.data) as unknown, id: row.seq };
          }
        }
      }
      while (!signal.aborted && !overflow) {
        const next = queue.shift();
        if (next) {
          if (next.seq !== null) {
            if (next.seq <= last) continue;
            last = next.seq;
          }
          yield { event: next.change.type, data: next.change, ...(next.seq !== null && { id: next.seq }) };
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (queue.length > 0 || overflow || signal.aborted) resolve();
        });
        wake = null;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Writes what is pending in batches, yielding to the event loop between them; `writing` is null once nothing is. */
  private async writePending(): Promise<void> {
    // A burst published in one turn of the event loop becomes one insert.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, WRITE_BATCH);
        const seqs = await this.record(batch);
        try {
          batch.forEach((change, i) => this.emitter.emit('recorded', { seq: seqs[i] ?? null, change } satisfies RecordedChange));
        } catch (err) {
          this.deps.logger?.error({ err }, 'a listener of recorded changes failed');
        }
        if (this.pending.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      // In the same turn as the loop's last check: a publish from here on starts a new writer.
      this.writing = null;
    }
  }

  private async record(batch: ChangeEvent[]): Promise<(number | null)[]> {
    const { log, logger } = this.deps;
    if (!log) return [];
    let seqs: number[];
    try {
      seqs = (await log.append(batch.map((c) => ({ at: c.at, event: c.type, data: JSON.stringify(c) })))).map((r) => r.seq);
    } catch (err) {
      if (!this.failing) logger?.warn({ err }, 'could not record changes for /events: they are sent live without an id, and a client resuming with Last-Event-ID misses them');
      this.failing = true;
      return [];
    }
    if (this.failing) logger?.info('recording changes for /events again');
    this.failing = false;
    await this.prune(seqs.at(-1) ?? 0).catch((err: unknown) => logger?.warn({ err }, 'could not prune the change log'));
    return seqs;
  }

  private async prune(latest: number): Promise<void> {
    const log = this.deps.log;
    if (!log) return;
    if (latest > this.retention.maxChanges) await log.pruneThrough(latest - this.retention.maxChanges);
    if (Date.now() - this.lastAgePrune >= AGE_PRUNE_INTERVAL_MS) {
      this.lastAgePrune = Date.now();
      await log.pruneOlderThan(new Date(Date.now() - this.retention.maxAgeMs).toISOString(), latest);
    }
  }
}

/** Why `/events` cannot resume after `after`, or null when it can. */
function resetReason(after: number, bounds: ChangeLogBounds): ChangeStreamReset['reason'] | null {
  if (after > bounds.latest) return 'unknown_id';
  // Resuming after `after` needs every change from after + 1; the newest is always kept.
  if (after < (bounds.oldest ?? bounds.latest + 1) - 1) return 'gap_too_old';
  return null;
}
