import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { Operations } from '../../bots/operations.js';
import type { SnapshotService } from '../../bots/snapshot-service.js';
import type { AppEnv } from '../context.js';
import { pipeOperationEvents, sseResponse, wantsEventStream } from '../sse.js';

export function snapshotRoutes(deps: { snapshots: SnapshotService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.snapshots.create,
    async (c) => {
      const { result } = await deps.snapshots.create(c.req.valid('param').bot, c.req.valid('json'));
      return c.json((await result).snapshot, 201);
    },
  );

  app.openapi(
    routes.snapshots.list,
    async (c) => c.json(await deps.snapshots.list(c.req.valid('param').bot), 200),
  );

  app.openapi(
    routes.snapshots.get,
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      return c.json(await deps.snapshots.get(bot, snap), 200);
    },
  );

  app.openapi(
    routes.snapshots.restore,
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      const { operation, result } = await deps.snapshots.restore(bot, snap, c.req.valid('json') ?? {});
      if (wantsEventStream(c)) return sseResponse(c, (send, signal) => pipeOperationEvents(deps.operations.events(operation.id, { signal }), send)) as never;
      return c.json((await result).container, 200);
    },
  );

  app.openapi(
    routes.snapshots.remove,
    async (c) => {
      const { bot, snap } = c.req.valid('param');
      await deps.snapshots.remove(bot, snap);
      return c.body(null, 204);
    },
  );

  app.openapi(
    routes.snapshots.versions,
    async (c) => c.json(await deps.snapshots.versions(c.req.valid('param').bot), 200),
  );
}
