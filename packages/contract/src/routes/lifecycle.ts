import { z } from 'zod';
import { Bot, BotList, Container, CreateBotBody, CreateContainerBody, OperationAccepted, PatchBotBody, StopContainerBody } from '../schemas.js';
import { OperationList } from '../session.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, defineRoute, empty, ENGINE_ERRORS, errors, json, JSON_BODY_ERRORS, sse, VALIDATION_ERROR } from './define.js';

/** Bots and their containers: create, read, change, start, stop, delete (SPEC §3). */

export const createBot = defineRoute({
  method: 'post',
  path: '/bots',
  operationId: 'createBot',
  summary: 'Create a bot (its record and data dir; no container yet)',
  tags: ['bots'],
  request: { body: { content: { 'application/json': { schema: CreateBotBody } }, required: true } },
  responses: {
    201: json(Bot, 'the new bot'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body; image_invalid: an image reference that is invalid or names a registry that is not allowed',
      409: 'bot_name_taken: another bot has that name',
      507: 'insufficient_storage: the disk holding BERTH_HOME or the database is full',
    }),
  },
});

export const listBots = defineRoute({
  method: 'get',
  path: '/bots',
  operationId: 'listBots',
  summary: 'Every bot, with its container’s observed status',
  tags: ['bots'],
  responses: { 200: json(BotList, 'every bot'), ...errors({ ...AUTH_ERRORS, ...ENGINE_ERRORS }) },
});

export const getBot = defineRoute({
  method: 'get',
  path: '/bots/{bot}',
  operationId: 'getBot',
  summary: 'A bot, by id or name',
  tags: ['bots'],
  request: { params: BotParam },
  responses: { 200: json(Bot, 'the bot'), ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND, ...ENGINE_ERRORS }) },
});

export const updateBot = defineRoute({
  method: 'patch',
  path: '/bots/{bot}',
  operationId: 'updateBot',
  summary: 'Change a bot’s settings; its container picks them up at its next recreate',
  tags: ['bots'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: PatchBotBody } }, required: true } },
  responses: {
    200: json(Bot, 'the bot, changed; a container picks the change up at its next recreate'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body; image_invalid: an image reference that is invalid or names a registry that is not allowed',
      ...BOT_NOT_FOUND,
      409: 'bot_name_taken: another bot has that name',
      ...ENGINE_ERRORS,
    }),
  },
});

export const deleteBot = defineRoute({
  method: 'delete',
  path: '/bots/{bot}',
  operationId: 'deleteBot',
  summary: 'Delete the bot (a delete-bot operation); answers once everything is gone',
  tags: ['bots'],
  request: { params: BotParam },
  responses: {
    204: empty('deleted with its container, data, snapshots, tokens and history'),
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      ...BOT_NOT_FOUND,
      409: 'operation_in_progress: another operation of the bot runs; nothing was removed',
      ...ENGINE_ERRORS,
    }),
  },
});

export const listBotOperations = defineRoute({
  method: 'get',
  path: '/bots/{bot}/operations',
  operationId: 'listBotOperations',
  summary: 'The bot’s latest operations, newest first (a running one among them)',
  tags: ['operations'],
  request: { params: BotParam, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }) },
  responses: { 200: json(OperationList, 'operations, newest first'), ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND }) },
});

export const createContainer = defineRoute({
  method: 'post',
  path: '/bots/{bot}/container',
  operationId: 'createContainer',
  summary: 'Create (or recreate) the bot’s container; with Accept: text/event-stream, stream the operation',
  description:
    'Answers 202 with the running create operation at once; follow it at `/operations/{op}/events`. With `Accept: text/event-stream` ' +
    'the answer is the operation’s event stream itself (SPEC §4), ending with `done` or `error`.',
  tags: ['container'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: CreateContainerBody } }, required: false } },
  responses: {
    200: sse('the create operation’s events (SPEC §4), with Accept: text/event-stream'),
    202: json(OperationAccepted, 'the create operation, running'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      ...BOT_NOT_FOUND,
      409: 'container_exists: the bot has a container (pass recreate: true); operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
      507: 'insufficient_storage: the disk holding BERTH_HOME, the database or the engine’s storage is full',
    }),
  },
});

export const getContainer = defineRoute({
  method: 'get',
  path: '/bots/{bot}/container',
  operationId: 'getContainer',
  summary: 'The bot’s container, as the engine reports it',
  tags: ['container'],
  request: { params: BotParam },
  responses: {
    200: json(Container, 'the container, as the engine reports it'),
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      404: 'bot_not_found, or container_not_found: the bot has no container',
      ...ENGINE_ERRORS,
    }),
  },
});

export const startContainer = defineRoute({
  method: 'post',
  path: '/bots/{bot}/container/start',
  operationId: 'startContainer',
  summary: 'Start the bot’s container',
  tags: ['container'],
  request: { params: BotParam },
  responses: {
    200: json(Container, 'the container, started'),
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      404: 'bot_not_found, or container_not_found',
      409: 'operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
      507: 'disk_limit_exceeded: the bot was stopped past its disk limit by the margin and is still past it',
    }),
  },
});

export const stopContainer = defineRoute({
  method: 'post',
  path: '/bots/{bot}/container/stop',
  operationId: 'stopContainer',
  summary: 'Stop the bot’s container (SIGTERM, then SIGKILL after the timeout)',
  tags: ['container'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: StopContainerBody } }, required: false } },
  responses: {
    200: json(Container, 'the container, stopped'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      404: 'bot_not_found, or container_not_found',
      409: 'operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
    }),
  },
});

export const deleteContainer = defineRoute({
  method: 'delete',
  path: '/bots/{bot}/container',
  operationId: 'deleteContainer',
  summary: 'Remove the bot’s container; its data dir stays unless purgeData=true',
  tags: ['container'],
  request: { params: BotParam, query: z.object({ purgeData: z.enum(['true', 'false']).optional().describe('also empty the data dir') }) },
  responses: {
    204: empty('removed; the data dir is kept unless purgeData=true'),
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      404: 'bot_not_found, or container_not_found',
      409: 'operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
    }),
  },
});

export const lifecycle = {
  createBot,
  listBots,
  getBot,
  updateBot,
  deleteBot,
  listOperations: listBotOperations,
  createContainer,
  getContainer,
  startContainer,
  stopContainer,
  deleteContainer,
} as const;
