import { z } from 'zod';
import { Container } from '../schemas.js';
import { CreateSnapshotBody, RestoreSnapshotBody, Snapshot, SnapshotList, VersionList } from '../snapshots.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, defineRoute, empty, ENGINE_ERRORS, errors, eventStream, json, JSON_BODY_ERRORS, VALIDATION_ERROR } from './define.js';

/** Snapshots of a bot (root filesystem changes and data dir) and its container versions (SPEC §3). */

const SnapshotParam = BotParam.extend({ snap: z.string().min(1).max(128).describe('the snapshot’s id or name') });

const OUT_OF_SPACE = { 507: 'insufficient_storage: the disk holding BERTH_HOME, the database or the engine’s storage is full' } as const;

export const create = defineRoute({
  method: 'post',
  path: '/bots/{bot}/snapshots',
  operationId: 'createSnapshot',
  summary: 'Snapshot the container (root filesystem changes and data dir); a running one keeps running',
  tags: ['snapshots'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: CreateSnapshotBody } }, required: true } },
  responses: {
    201: json(Snapshot, 'the snapshot, now the bot’s head'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      404: 'bot_not_found, or container_not_found: the bot has no container',
      409: 'snapshot_name_taken, or operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
      ...OUT_OF_SPACE,
    }),
  },
});

export const list = defineRoute({
  method: 'get',
  path: '/bots/{bot}/snapshots',
  operationId: 'listSnapshots',
  summary: 'The bot’s snapshots, oldest first, and its head',
  tags: ['snapshots'],
  request: { params: BotParam },
  responses: {
    200: json(SnapshotList, 'the bot’s snapshots, oldest first, and its head'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND }),
  },
});

export const get = defineRoute({
  method: 'get',
  path: '/bots/{bot}/snapshots/{snap}',
  operationId: 'getSnapshot',
  summary: 'A snapshot, by id or name',
  tags: ['snapshots'],
  request: { params: SnapshotParam },
  responses: {
    200: json(Snapshot, 'the snapshot (by id or name)'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'bot_not_found, or snapshot_not_found' }),
  },
});

export const restore = defineRoute({
  method: 'post',
  path: '/bots/{bot}/snapshots/{snap}/restore',
  operationId: 'restoreSnapshot',
  summary: 'Restore a snapshot in place; with Accept: text/event-stream, stream the operation',
  description:
    'The root filesystem and the data dir return to the snapshot; the container runs again if it was running. ' +
    'Unless keepCurrent is false, the state being left is first saved as an automatic snapshot. Other snapshots are untouched.',
  tags: ['snapshots'],
  request: { params: SnapshotParam, body: { content: { 'application/json': { schema: RestoreSnapshotBody } }, required: false } },
  responses: {
    200: {
      description: 'the container, back at the snapshot’s state; or, with Accept: text/event-stream, the restore operation’s events (SPEC §4)',
      content: { 'application/json': { schema: Container }, 'text/event-stream': eventStream },
    },
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      404: 'bot_not_found, snapshot_not_found, or the snapshot’s image or data is gone',
      409: 'operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
      ...OUT_OF_SPACE,
    }),
  },
});

export const remove = defineRoute({
  method: 'delete',
  path: '/bots/{bot}/snapshots/{snap}',
  operationId: 'deleteSnapshot',
  summary: 'Delete a snapshot; its children take its parent as theirs',
  tags: ['snapshots'],
  request: { params: SnapshotParam },
  responses: {
    204: empty('deleted'),
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      404: 'bot_not_found, or snapshot_not_found',
      409: 'operation_in_progress: another operation of the bot runs',
      ...ENGINE_ERRORS,
    }),
  },
});

export const versions = defineRoute({
  method: 'get',
  path: '/bots/{bot}/versions',
  operationId: 'listVersions',
  summary: 'The bot’s current container version and every instance built for it',
  tags: ['snapshots'],
  request: { params: BotParam },
  responses: {
    200: json(VersionList, 'the current version and every container instance built for the bot'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND }),
  },
});

export const snapshots = { create, list, get, restore, remove, versions } as const;
