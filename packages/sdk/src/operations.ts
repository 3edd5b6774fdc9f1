import type { Operation, OperationEvent, OperationEventName } from '@berth/contract';
import { routes } from '@berth/contract';
import { BerthApiError, operationError } from './errors.js';
import type { Transport } from './http.js';
import { parseSse } from './sse.js';

export interface OperationEventsOptions {
  /** Resume after this event (`seq` of the last one seen); the events before it are not sent again. */
  lastEventId?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * How long to keep trying to reach the server again when a stream is cut and the server does not
   * answer (connection refused, 502/503/504 from a proxy) before throwing the last failure (default 120 s).
   */
  reconnectTimeoutMs?: number | undefined;
}

export interface WaitOptions {
  signal?: AbortSignal | undefined;
  /** As `OperationEventsOptions.reconnectTimeoutMs`: how long a server that cannot be reached is tried again. */
  reconnectTimeoutMs?: number | undefined;
  /** Called with each event (phase, pull progress, log, done) as it comes. */
  onEvent?: ((event: OperationEvent) => void) | undefined;
}

/**
 * An operation stream's events as they are sent, up to and including `done` or `error` (an `error`
 * event is yielded, not thrown: this is the low-level form). Ends at once on a 204 (the operation is
 * over and nothing is left to send).
 */
export async function* operationFrames(res: Response): AsyncGenerator<OperationEvent> {
  if (res.status === 204 || !res.body) {
    await res.body?.cancel();
    return;
  }
  for await (const frame of parseSse(res.body)) {
    const ev: OperationEvent = { seq: Number(frame.id ?? 0), event: frame.event as OperationEventName, data: JSON.parse(frame.data) as never };
    yield ev;
    if (ev.event === 'done' || ev.event === 'error') return;
  }
}

/** `berth.operations`: an operation's record, its events, and waiting for its end. */
export class Operations {
  constructor(private readonly http: Transport) {}

  get(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<Operation> {
    return this.http.json(routes.system.getOperation, { params: { op: id } }, { signal: options.signal });
  }

  /**
   * The operation's events until `done`; a failed operation throws its error (`OperationFailedError`)
   * instead of ending quietly. A stream cut before the end (a restarted server, a proxy's timeout) is
   * reattached from the last event seen; while the server cannot be reached it is tried again (after
   * 0.2 s, doubling to 5 s) for up to `reconnectTimeoutMs`.
   */
  async *events(id: string, options: OperationEventsOptions = {}): AsyncGenerator<OperationEvent> {
    const signal = options.signal;
    const retry = new Reconnect(options.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS, signal);
    let last = options.lastEventId ?? 0;
    for (;;) {
      const res = await retry.attempt(() => this.openEvents(id, last, signal));
      if (res.status === 204) {
        // Over, with nothing after the last event seen: the record has its end.
        await res.body?.cancel();
        const op = await retry.attempt(() => this.get(id, { signal }));
        if (op.status === 'failed') throw operationError(id, op.error);
        return;
      }
      let progressed = false;
      try {
        for await (const ev of operationFrames(res)) {
          progressed = true;
          retry.progressed();
          if (ev.seq > last) last = ev.seq;
          if (ev.event === 'error') throw operationError(id, ev.data);
          yield ev;
          if (ev.event === 'done') return;
        }
      } catch (err) {
        // fetch reports a dropped connection as a TypeError; anything else is the caller's to see.
        if (!(err instanceof TypeError) || signal?.aborted) throw err;
      }
      // Cut before the end: reattach (the server answers 204 once the operation is over).
      if (!progressed) await retry.pause();
    }
  }

  private async openEvents(id: string, lastEventId: number, signal: AbortSignal | undefined): Promise<Response> {
    const headers: Record<string, string> = {};
    if (lastEventId) headers['last-event-id'] = String(lastEventId);
    return this.http.call(routes.system.operationEvents, { params: { op: id } }, { accept: 'text/event-stream', signal, headers });
  }

  /** The operation's events as sent (an `error` event is yielded, not thrown), from one connection. */
  async *rawEvents(id: string, options: OperationEventsOptions = {}): AsyncGenerator<OperationEvent> {
    yield* operationFrames(await this.openEvents(id, options.lastEventId ?? 0, options.signal));
  }

  /**
   * Resolves with the operation once it has finished successfully; throws its error
   * (`OperationFailedError`, a `BerthApiError`) when it failed.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Operation> {
    let op = await this.get(id, { signal: options.signal });
    if (op.status === 'running') {
      for await (const ev of this.events(id, { signal: options.signal, reconnectTimeoutMs: options.reconnectTimeoutMs })) options.onEvent?.(ev);
      const retry = new Reconnect(options.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS, options.signal);
      op = await retry.attempt(() => this.get(id, { signal: options.signal }));
      // The last event is sent just before the record is closed: a moment may separate them.
      for (let pause = 50; op.status === 'running'; pause = Math.min(pause * 2, 1000)) {
        await delay(pause, options.signal);
        op = await retry.attempt(() => this.get(id, { signal: options.signal }));
      }
    }
    if (op.status === 'failed') throw operationError(op.id, op.error);
    return op;
  }

  /**
   * Follows an operation from a stream already open (a create or restore answered with SSE): its
   * events until `done`, reattaching by the operation's id if the stream is cut, throwing its error.
   */
  async *follow(first: AsyncIterable<OperationEvent>, options: { signal?: AbortSignal | undefined; reconnectTimeoutMs?: number | undefined } = {}): AsyncGenerator<OperationEvent> {
    let id: string | undefined;
    let last = 0;
    try {
      for await (const ev of first) {
        if (ev.event === 'operation') id = (ev.data as { id: string }).id;
        if (ev.seq > last) last = ev.seq;
        if (ev.event === 'error') throw operationError(id, ev.data);
        yield ev;
        if (ev.event === 'done') return;
      }
    } catch (err) {
      if (!(err instanceof TypeError) || options.signal?.aborted || id === undefined) throw err;
    }
    if (id === undefined) throw new TypeError('the operation stream ended before naming its operation');
    yield* this.events(id, { lastEventId: last, signal: options.signal, reconnectTimeoutMs: options.reconnectTimeoutMs });
  }
}

const DEFAULT_RECONNECT_TIMEOUT_MS = 120_000;
const FIRST_PAUSE_MS = 200;
const MAX_PAUSE_MS = 5_000;

/**
 * A failure that a server coming back cures: fetch's TypeError (connection refused or reset), or a
 * 502/503/504 (a proxy in front of a server that is restarting, or the server itself starting up).
 */
function isReconnectable(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof BerthApiError && (err.status === 502 || err.status === 503 || err.status === 504));
}

/** Tries again, with a pause doubling from 0.2 s to 5 s, until `limitMs` has passed without an answer. */
class Reconnect {
  private wait = FIRST_PAUSE_MS;
  private failingSince: number | null = null;

  constructor(
    private readonly limitMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async attempt<T>(call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const answer = await call();
        this.failingSince = null;
        return answer;
      } catch (err) {
        if (!isReconnectable(err) || this.signal?.aborted) throw err;
        this.failingSince ??= Date.now();
        if (Date.now() - this.failingSince >= this.limitMs) throw err;
        await this.pause();
      }
    }
  }

  /** An event came: the next failure starts the backoff from its first pause again. */
  progressed(): void {
    this.wait = FIRST_PAUSE_MS;
  }

  /** The next pause of the backoff (also between streams that end at once without an event). */
  async pause(): Promise<void> {
    await delay(this.wait, this.signal);
    this.wait = Math.min(this.wait * 2, MAX_PAUSE_MS);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
