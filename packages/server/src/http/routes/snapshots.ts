import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { Container, CreateSnapshotBody, RestoreSnapshotBody, Snapshot, SnapshotList, VersionList } from '@berth/contract';
import type { Operations } from '../../core/operations.js';
import type { SnapshotService } from '../../snapshots/index.js';
import type { AppEnv } from '../context.js';
import { pipeOperationEvents, sseResponse, wantsEventStream } from '../sse.js';
import { BotParam } from './bots.js';
import { errorResponse, jsonContent, sseContent } from './openapi.js';

const SnapshotParam = BotParam.extend({ snap: z.string().min(1).max(128) });

export function snapshotRoutes(deps: { snapshots: SnapshotService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/snapshots',
      tags: ['snapshots'],
      summary: 'Snapshot the container (root filesystem changes and data dir); a running one keeps running',
      request: { params: BotParam, body: { content: { 'application/json': { schema: CreateSnapshotBody } }, required: true } },
      responses: {
        201: jsonContent(Snapshot, 'the snapshot, now the bot’s head'),
        400: errorResponse('invalid name'),
        404: errorResponse('no such bot, or it has no container'),
        409: errorResponse('snapshot_name_taken, or an operation is running'),
      },
    }),
    async (c) => {
      const { result } = await deps.snapshots.create(c.req.valid('param').bot, c.req.valid('json'));
      return c.json((await result).snapshot, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/snapshots',
      tags: ['snapshots'],
      request: { params: BotParam },
      responses: { 200: jsonContent(SnapshotList, 'the bot’s snapshots, oldest first, and its head'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json(await deps.snapshots.list(c.req.valid('param').bot), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/snapshots/{snap}',
      tags: ['snapshots'],
      request: { params: SnapshotParam },
      responses: { 200: jsonContent(Snapshot, 'the snapshot (by id or name)'), 404: errorResponse('no such bot or snapshot') },
    }),
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      return c.json(await deps.snapshots.get(bot, snap), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/snapshots/{snap}/restore',
      tags: ['snapshots'],
      summary: 'Restore a snapshot in place; with Accept: text/event-stream, stream the operation',
      description:
        'The root filesystem and the data dir return to the snapshot; the container runs again if it was running. ' +
        'Unless keepCurrent is false, the state being left is first saved as an automatic snapshot. Other snapshots are untouched.',
      request: { params: SnapshotParam, body: { content: { 'application/json': { schema: RestoreSnapshotBody } }, required: false } },
      responses: {
        200: {
          description: 'the container, back at the snapshot’s state; or, with Accept: text/event-stream, the restore operation’s events (SPEC §4)',
          content: { ...jsonContent(Container, '').content, ...sseContent('').content },
        },
        404: errorResponse('no such bot or snapshot, or the snapshot’s image or data is gone'),
        409: errorResponse('an operation is running'),
      },
    }),
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      const { operation, result } = await deps.snapshots.restore(bot, snap, c.req.valid('json') ?? {});
      if (wantsEventStream(c)) return sseResponse(c, (send, signal) => pipeOperationEvents(deps.operations.events(operation.id, { signal }), send)) as never;
      return c.json((await result).container, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{bot}/snapshots/{snap}',
      tags: ['snapshots'],
      summary: 'Delete a snapshot; its children take its parent as theirs',
      request: { params: SnapshotParam },
      responses: { 204: { description: 'deleted' }, 404: errorResponse('no such bot or snapshot'), 409: errorResponse('an operation is running') },
    }),
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      await deps.snapshots.remove(bot, snap);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/versions',
      tags: ['versions'],
      request: { params: BotParam },
      responses: { 200: jsonContent(VersionList, 'the current version and every container instance built for the bot'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json(await deps.snapshots.versions(c.req.valid('param').bot), 200),
  );
}
