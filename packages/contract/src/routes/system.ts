import { z } from 'zod';
import { CdiDeviceList, Info, Operation } from '../schemas.js';
import { AUTH_ERRORS, defineRoute, ENGINE_ERRORS, errors, json, sse, VALIDATION_ERROR } from './define.js';

/** The server itself, operations of any bot, and the change feed. */

const OpParam = z.object({ op: z.string().min(1).max(64).describe('the operation’s id') });

/** `Last-Event-ID`: where a reconnecting EventSource left off. */
const LastEventId = z.object({
  'Last-Event-ID': z.string().optional().describe('the id of the last event received; the stream resumes after it'),
});

export const info = defineRoute({
  method: 'get',
  path: '/info',
  operationId: 'getInfo',
  summary: 'Berth’s version, the container engine and its capabilities',
  tags: ['system'],
  responses: { 200: json(Info, 'version, runtime and its capabilities'), ...errors({ ...AUTH_ERRORS, ...ENGINE_ERRORS }) },
});

export const cdiDevices = defineRoute({
  method: 'get',
  path: '/cdi/devices',
  operationId: 'listCdiDevices',
  summary: 'Every device the host’s CDI specs declare',
  tags: ['system'],
  responses: { 200: json(CdiDeviceList, 'every device the host’s CDI specs declare'), ...errors(AUTH_ERRORS) },
});

export const getOperation = defineRoute({
  method: 'get',
  path: '/operations/{op}',
  operationId: 'getOperation',
  summary: 'An operation: its kind, status, phase and error',
  tags: ['operations'],
  request: { params: OpParam },
  responses: {
    200: json(Operation, 'the operation'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'operation_not_found: no such operation' }),
  },
});

export const operationEvents = defineRoute({
  method: 'get',
  path: '/operations/{op}/events',
  operationId: 'streamOperationEvents',
  summary: 'The operation’s events as SSE; resumable with Last-Event-ID',
  description:
    'Every event so far (or those after `Last-Event-ID`), then live ones until `done` or `error` (SPEC §4). ' +
    'A reconnect after the operation has finished and its last event was received answers 204, which stops an EventSource.',
  tags: ['operations'],
  request: { params: OpParam, headers: LastEventId },
  responses: {
    200: sse('events after Last-Event-ID, then live ones until done or error'),
    204: { description: 'the operation has finished and nothing is left to send' },
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'operation_not_found: no such operation' }),
  },
});

export const events = defineRoute({
  method: 'get',
  path: '/events',
  operationId: 'streamEvents',
  summary: 'Every bot and container change, as SSE',
  description: 'A `ready` event first, then one event per change (`bot.created`, `container.changed`, …); resumable with `Last-Event-ID`.',
  tags: ['system'],
  request: { headers: LastEventId },
  responses: { 200: sse('change events'), ...errors(AUTH_ERRORS) },
});

export const system = { info, cdiDevices, getOperation, operationEvents, events } as const;
