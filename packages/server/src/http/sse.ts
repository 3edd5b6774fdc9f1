import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { OperationEvent } from '@berth/contract';
import type { AppEnv } from './context.js';
import { endWhenRevoked } from './live.js';

const HEARTBEAT_MS = 15_000;

export function wantsEventStream(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/event-stream');
}

/** The `Last-Event-ID` a reconnecting client sends (header, or `lastEventId` query for EventSource polyfills). */
export function lastEventId(c: Context): number {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId');
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * The `Last-Event-ID` of an `/events` reconnect: null when none is sent (a first connection). An id
 * that is not a whole number was never given out: it reads as past every id, so it is reported as unknown.
 */
export function changeResumeId(c: Context): number | null {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId');
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : Number.POSITIVE_INFINITY;
}

/**
 * Streams SSE frames with a comment heartbeat every 15 s. `produce` gets an AbortSignal that fires
 * when the client goes away; the work behind the stream is never cancelled by that. Revoking the
 * credential that opened the stream (http/live.ts) fires it too, and closes the stream at once.
 */
export function sseResponse(c: Context<AppEnv>, produce: (send: (event: string, data: unknown, id?: number) => Promise<void>, signal: AbortSignal) => Promise<void>): Response {
  return streamSSE(c, async (stream: SSEStreamingApi) => {
    const abort = new AbortController();
    stream.onAbort(() => abort.abort());
    const unregister = endWhenRevoked(c, () => {
      abort.abort();
      void stream.close();
    });
    const heartbeat = setInterval(() => {
      void stream.write(': heartbeat\n\n').catch(() => abort.abort());
    }, HEARTBEAT_MS);
    try {
      await produce(async (event, data, id) => {
        await stream.writeSSE({ event, data: JSON.stringify(data), ...(id !== undefined && { id: String(id) }) });
      }, abort.signal);
    } finally {
      clearInterval(heartbeat);
      unregister();
    }
  });
}

export async function pipeOperationEvents(events: AsyncIterable<OperationEvent>, send: (event: string, data: unknown, id?: number) => Promise<void>): Promise<void> {
  for await (const ev of events) await send(ev.event, ev.data, ev.seq);
}
