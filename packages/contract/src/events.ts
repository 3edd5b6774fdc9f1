import { z } from 'zod';
import { ApiErrorPayload, Container } from './schemas.js';

/** Payloads of the events an operation's SSE stream carries (SPEC §4). */
export const PullLayer = z.object({
  id: z.string(),
  status: z.string(),
  current: z.number(),
  total: z.number(),
});

export const OperationEvents = {
  operation: z.object({ id: z.string(), kind: z.string(), botId: z.string() }),
  phase: z.object({ phase: z.string(), message: z.string() }),
  pull: z.object({ image: z.string(), layers: z.array(PullLayer), current: z.number(), total: z.number() }),
  log: z.object({ message: z.string() }),
  done: z.object({ container: Container.nullable() }),
  error: ApiErrorPayload,
} as const;

export type OperationEventName = keyof typeof OperationEvents;
export type OperationEventData<N extends OperationEventName> = z.infer<(typeof OperationEvents)[N]>;

export interface OperationEvent<N extends OperationEventName = OperationEventName> {
  seq: number;
  event: N;
  data: OperationEventData<N>;
}

export const CREATE_PHASES = ['image', 'pull', 'create', 'start', 'ready'] as const;

/** Events of the global `/events` stream: every bot and container change. */
export const ChangeEvent = z.object({
  type: z.enum(['bot.created', 'bot.updated', 'bot.deleted', 'container.changed', 'operation.started', 'operation.finished']),
  botId: z.string(),
  at: z.string(),
  operationId: z.string().optional(),
  status: z.string().nullable().optional(),
});
export type ChangeEvent = z.infer<typeof ChangeEvent>;

/** The change types of `/events`; each is the SSE event name of its frames. */
export type ChangeEventType = ChangeEvent['type'];

/**
 * The other frames of `/events`. `ready` comes first on every connection; its id, when it has one,
 * is where the stream continues from. `reset` follows it when the `Last-Event-ID` asked for cannot
 * be resumed from: changes were missed, so the client must list bots and containers again; live
 * changes follow it. `gap_too_old`: the changes after that id are no longer kept. `unknown_id`:
 * the id was never given out by this database (another server, or not an id at all).
 */
export const ChangeStreamEvents = {
  ready: z.object({ at: z.string() }),
  reset: z.object({
    reason: z.enum(['gap_too_old', 'unknown_id']),
    /** The oldest change still kept (null when none is). */
    oldestSeq: z.number().int().nullable(),
    /** The newest change; the stream continues after it (this frame's id). */
    latestSeq: z.number().int(),
  }),
} as const;
export type ChangeStreamReady = z.infer<typeof ChangeStreamEvents.ready>;
export type ChangeStreamReset = z.infer<typeof ChangeStreamEvents.reset>;
