import { EventEmitter } from 'node:events';
import type { Operation, OperationEvent, OperationEventData, OperationEventName, OperationKind } from '@berth/contract';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PullProgress } from '../runtime/driver.js';
import type { OperationRow, Store } from '../store/store.js';
import type { ChangeFeed } from './change-feed.js';
import { newId, now } from './ids.js';

/** What an operation's work function can report while it runs. */
export interface OperationContext {
  readonly operationId: string;
  readonly signal: AbortSignal;
  phase(phase: string, message: string): Promise<void>;
  pull(progress: PullProgress): Promise<void>;
  log(message: string): Promise<void>;
  /**
   * Records what the operation has done that a crash must finish or undo (durable before it
   * resolves); the start-up recovery reads it back (`recoverInterrupted`).
   */
  journal(value: OperationJournal | null): Promise<void>;
}

/**
 * An operation's journal: enough to decide, after a crash, whether its effect was committed (then it
 * is finished and reported as succeeded) or not (then it is undone and reported as failed).
 */
export type OperationJournal =
  /** A create, recreate or restore building a container (see ContainerService). */
  | {
      type: 'replace';
      /** The container being replaced and whether it ran; null when there was none. */
      old: { id: string; running: boolean } | null;
      /** The name the new container is made under: temporary while `old` exists. */
      name: string;
      /** Its engine id, once made. */
      id: string | null;
      version: number;
      /** Set in the transaction that records the new version: from then on the operation rolls forward. */
      committed: boolean;
      /** A restore's data swap: the trash dir of its journaled apply. */
      dataTrash: string | null;
    }
  /** A snapshot being taken: its record is the commit. */
  | { type: 'snapshot'; snapshotId: string; imageRef: string }
  /** An import or reset: the trash dir of its journaled apply; `committed` once the apply is complete. */
  | { type: 'data'; trash: string; committed: boolean };

/** What the start-up recovery of an interrupted operation found. */
export type RecoveredOperation = { status: 'succeeded'; container: unknown } | { status: 'failed'; message?: string };

type Terminal = { status: 'succeeded' | 'failed' };

/** Pull progress can arrive hundreds of times a second; clients need a few updates a second. */
const PULL_EVENT_INTERVAL_MS = 200;

/**
 * Runs Berth's durable operations: one at a time per bot (enforced by the store), recorded with every
 * event so that a client can reattach with `Last-Event-ID`, and never cancelled by a client going away.
 */
export class Operations {
  private readonly live = new EventEmitter();
  private readonly finished = new Map<string, Promise<Terminal>>();
  private readonly controllers = new Map<string, AbortController>();

  constructor(private readonly deps: { store: Store; logger: Logger; changes: ChangeFeed }) {
    this.live.setMaxListeners(0);
  }

  /**
   * Records a new operation and runs `work` in the background. Resolves once the operation is recorded
   * (so the caller can answer 202 or attach to its events); `settled(id)` waits for the end.
   */
  async start<T extends { container: unknown }>(
    botId: string,
    kind: OperationKind,
    work: (ctx: OperationContext) => Promise<T>,
  ): Promise<{ operation: Operation; result: Promise<T> }> {
    const id = newId('op');
    const row = await this.deps.store.insertOperation({ id, bot_id: botId, kind, status: 'running', phase: null, error: null, started_at: now(), finished_at: null });
    const log = this.deps.logger.child({ operationId: id, botId, kind });
    const controller = new AbortController();
    this.controllers.set(id, controller);
    let seq = 0;
    // Events are written in order: each append waits for the previous one.
    let chain: Promise<void> = Promise.resolve();
    const emit = <N extends OperationEventName>(event: N, data: OperationEventData<N>): Promise<void> => {
      const ev: OperationEvent = { seq: ++seq, event, data };
      chain = chain.then(async () => {
        await this.deps.store.appendEvent({ operation_id: id, seq: ev.seq, event, data: JSON.stringify(data), at: now() });
        this.live.emit(id, ev);
      });
      return chain;
    };

    let lastPullAt = 0;
    let pendingPull: PullProgress | null = null;
    const flushPull = async () => {
      if (pendingPull) {
        const p = pendingPull;
        pendingPull = null;
        lastPullAt = Date.now();
        await emit('pull', { image: p.image, layers: p.layers.map((l) => ({ ...l })), current: p.current, total: p.total });
      }
    };
    const ctx: OperationContext = {
      operationId: id,
      signal: controller.signal,
      phase: async (phase, message) => {
        await flushPull();
        log.info({ phase }, message);
        await this.deps.store.updateOperation(id, { phase });
        await emit('phase', { phase, message });
      },
      pull: async (progress) => {
        pendingPull = progress;
        if (Date.now() - lastPullAt >= PULL_EVENT_INTERVAL_MS) await flushPull();
      },
      log: async (message) => {
        await flushPull();
        await emit('log', { message });
      },
      journal: async (value) => {
        await this.deps.store.updateOperation(id, { journal: value === null ? null : JSON.stringify(value) });
      },
    };

    try {
      await emit('operation', { id, kind, botId });
    } catch (err) {
      // Never leave a row "running" that nothing runs: it would block the bot until a restart.
      this.controllers.delete(id);
      await this.deps.store.updateOperation(id, { status: 'failed', error: JSON.stringify(errorPayload(err)), finished_at: now() });
      throw err;
    }
    this.deps.changes.publish({ type: 'operation.started', botId, operationId: id });

    const result = (async () => {
      try {
        const value = await work(ctx);
        await flushPull();
        await emit('done', { container: (value.container ?? null) as never });
        await this.deps.store.updateOperation(id, { status: 'succeeded', finished_at: now() });
        log.info('operation succeeded');
        return value;
      } catch (err) {
        const payload = errorPayload(err);
        if (payload.code === 'internal') log.error({ err }, 'operation failed');
        else log.warn({ code: payload.code, msg: payload.message }, 'operation failed');
        await flushPull().catch(() => undefined);
        await emit('error', payload).catch(() => undefined);
        await this.deps.store.updateOperation(id, { status: 'failed', error: JSON.stringify(payload), finished_at: now() });
        throw err;
      } finally {
        this.controllers.delete(id);
        this.deps.changes.publish({ type: 'operation.finished', botId, operationId: id });
        this.deps.changes.publish({ type: 'container.changed', botId });
      }
    })();
    const settled = result.then(
      () => ({ status: 'succeeded' }) as const,
      () => ({ status: 'failed' }) as const,
    );
    this.finished.set(id, settled);
    void settled.then(() => this.finished.delete(id));
    // The caller may never look at `result`; its failure is already recorded.
    result.catch(() => undefined);
    return { operation: toOperation(row), result };
  }

  async get(id: string): Promise<Operation> {
    return toOperation(await this.deps.store.mustGetOperation(id));
  }

  /** A bot's latest operations, newest first; a running one is among them. */
  async recentFor(botId: string, limit: number): Promise<Operation[]> {
    return (await this.deps.store.recentOperationsFor(botId, limit)).map(toOperation);
  }

  /** Resolves when the operation is no longer running (immediately for finished ones). */
  async settled(id: string): Promise<void> {
    await this.finished.get(id);
  }

  /**
   * The operation's events after `afterSeq`: the recorded ones, then live ones until the terminal
   * `done` or `error` event. Ends at once for an operation that has finished.
   */
  async *events(id: string, options: { afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    await this.deps.store.mustGetOperation(id);
    const queue: OperationEvent[] = [];
    let wake: (() => void) | null = null;
    const onEvent = (ev: OperationEvent) => {
      queue.push(ev);
      wake?.();
    };
    this.live.on(id, onEvent);
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort);
    try {
      let last = options.afterSeq ?? 0;
      for (const row of await this.deps.store.listEvents(id, last)) {
        const ev = { seq: row.seq, event: row.event as OperationEventName, data: JSON.parse(row.data) as never };
        last = ev.seq;
        yield ev;
        if (ev.event === 'done' || ev.event === 'error') return;
      }
      while (!options.signal?.aborted) {
        const next = queue.shift();
        if (next) {
          if (next.seq <= last) continue;
          last = next.seq;
          yield next;
          if (next.event === 'done' || next.event === 'error') return;
          continue;
        }
        const op = await this.deps.store.findOperation(id);
        if (!op || (op.status !== 'running' && queue.length === 0)) {
          // Finished between our read and our subscription: whatever is left is in the store.
          for (const row of await this.deps.store.listEvents(id, last)) {
            yield { seq: row.seq, event: row.event as OperationEventName, data: JSON.parse(row.data) as never };
          }
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (queue.length > 0 || options.signal?.aborted) resolve();
        });
        wake = null;
      }
    } finally {
      this.live.off(id, onEvent);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Settles every operation still recorded as running: the process that ran it is gone. `recover`
   * finishes or undoes what each one left, from its journal, and says how it ended: an operation whose
   * effect was committed is reported as succeeded, any other as failed. Called once at start-up,
   * before anything new starts.
   */
  async recoverInterrupted(recover: (op: OperationRow, journal: OperationJournal | null) => Promise<RecoveredOperation>): Promise<OperationRow[]> {
    const interrupted = await this.deps.store.runningOperations();
    for (const op of interrupted) {
      const log = this.deps.logger.child({ operationId: op.id, botId: op.bot_id, kind: op.kind });
      let settled = true;
      const outcome = await recover(op, journalOf(op)).catch((err: unknown): RecoveredOperation => {
        // The journal is kept: the next start tries again.
        log.error({ err }, 'could not finish or undo what an interrupted operation began; the next start tries again');
        settled = false;
        return { status: 'failed', message: 'the operation was interrupted because the Berth server stopped, and what it had begun could not be settled yet (see the server log); the next start tries again' };
      });
      const journal = settled ? null : op.journal;
      const seq = (await this.deps.store.lastEventSeq(op.id)) + 1;
      if (outcome.status === 'succeeded') {
        await this.deps.store.appendEvent({ operation_id: op.id, seq, event: 'done', data: JSON.stringify({ container: outcome.container ?? null }), at: now() });
        await this.deps.store.updateOperation(op.id, { status: 'succeeded', finished_at: now(), journal: null });
        log.warn('an operation interrupted by a stop of the server had committed its effect: finished and marked succeeded');
        continue;
      }
      const payload = {
        code: 'internal',
        message: outcome.message ?? 'the operation was interrupted because the Berth server stopped; what it had begun was undone and the bot reconciled with the engine at the next start',
      };
      await this.deps.store.appendEvent({ operation_id: op.id, seq, event: 'error', data: JSON.stringify(payload), at: now() });
      await this.deps.store.updateOperation(op.id, { status: 'failed', error: JSON.stringify(payload), finished_at: now(), journal });
      log.warn('marked interrupted operation as failed');
    }
    // Finished operations that could not tidy up (the engine failed them at the end) are finished now;
    // their recorded outcome stands.
    for (const op of await this.deps.store.finishedOperationsWithJournal()) {
      const [latest] = await this.deps.store.recentOperationsFor(op.bot_id, 1);
      if (latest?.id !== op.id) {
        // A later operation of the bot has changed things since: what this one left is not to be replayed.
        this.deps.logger.warn({ operationId: op.id, botId: op.bot_id }, 'an operation left something unsettled, but the bot has had operations since; left as it is');
        await this.deps.store.updateOperation(op.id, { journal: null });
        continue;
      }
      await recover(op, journalOf(op))
        .then(() => this.deps.store.updateOperation(op.id, { journal: null }))
        .catch((err: unknown) => this.deps.logger.error({ err, operationId: op.id, botId: op.bot_id }, 'could not finish what an operation left'));
    }
    return interrupted;
  }

  /** Aborts running work (server shutdown); the records stay as they are. */
  abortAll(): void {
    for (const c of this.controllers.values()) c.abort();
  }
}

export function errorPayload(err: unknown): { code: string; message: string; details?: unknown } {
  if (err instanceof AppError) {
    return err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details };
  }
  return { code: 'internal', message: 'internal error' };
}

function journalOf(row: OperationRow): OperationJournal | null {
  return row.journal ? (JSON.parse(row.journal) as OperationJournal) : null;
}

function toOperation(row: OperationRow): Operation {
  return {
    id: row.id,
    botId: row.bot_id,
    kind: row.kind as Operation['kind'],
    status: row.status as Operation['status'],
    phase: row.phase,
    error: row.error ? (JSON.parse(row.error) as Operation['error']) : null,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
