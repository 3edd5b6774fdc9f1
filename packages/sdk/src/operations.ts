import type { Operation, OperationEvent, OperationEventName } from '@berth/contract';
import { routes } from '@berth/contract';
import { operationError } from './errors.js';
import type { Transport } from './http.js';
import { parseSse } from './sse.js';

export interface OperationEventsOptions {
  /** Resume after this event (`seq` of the last one seen); the events before it are not sent again. */
  lastEventId?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface WaitOptions {
  signal?: AbortSignal | undefined;
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
   * reattached from the last event seen.
   */
  async *events(id: string, options: OperationEventsOptions = {}): AsyncGenerator<OperationEvent> {
    let last = options.lastEventId ?? 0;
    for (;;) {
      let progressed = false;
      try {
        for await (const ev of this.rawEvents(id, { lastEventId: last, signal: options.signal })) {
          progressed = true;
          if (ev.seq > last) last = ev.seq;
          if (ev.event === 'error') throw operationError(id, ev.data);
          yield ev;
          if (ev.event === 'done') return;
        }
      } catch (err) {
        // fetch reports a dropped connection as a TypeError; anything else is the caller's to see.
        if (!(err instanceof TypeError) || options.signal?.aborted) throw err;
      }
      // The stream ended without the operation's end: the record says whether it is over.
      const op = await this.get(id, { signal: options.signal });
      if (op.status === 'failed') throw operationError(id, op.error);
      if (op.status === 'succeeded') return;
      if (!progressed) await delay(1000, options.signal);
    }
  }

  /** The operation's events as sent (an `error` event is yielded, not thrown), from one connection. */
  async *rawEvents(id: string, options: OperationEventsOptions = {}): AsyncGenerator<OperationEvent> {
    const headers: Record<string, string> = {};
    if (options.lastEventId) headers['last-event-id'] = String(options.lastEventId);
    const res = await this.http.call(routes.system.operationEvents, { params: { op: id } }, { accept: 'text/event-stream', signal: options.signal, headers });
    yield* operationFrames(res);
  }

  /**
   * Resolves with the operation once it has finished successfully; throws its error
   * (`OperationFailedError`, a `BerthApiError`) when it failed.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Operation> {
    let op = await this.get(id, { signal: options.signal });
    if (op.status === 'running') {
      for await (const ev of this.events(id, { signal: options.signal })) options.onEvent?.(ev);
      op = await this.get(id, { signal: options.signal });
      // The last event is sent just before the record is closed: a moment may separate them.
      for (let pause = 50; op.status === 'running'; pause = Math.min(pause * 2, 1000)) {
        await delay(pause, options.signal);
        op = await this.get(id, { signal: options.signal });
      }
    }
    if (op.status === 'failed') throw operationError(op.id, op.error);
    return op;
  }

  /**
   * Follows an operation from a stream already open (a create or restore answered with SSE): its
   * events until `done`, reattaching by the operation's id if the stream is cut, throwing its error.
   */
  async *follow(first: AsyncIterable<OperationEvent>, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<OperationEvent> {
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
    yield* this.events(id, { lastEventId: last, signal: options.signal });
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
