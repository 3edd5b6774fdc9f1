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
