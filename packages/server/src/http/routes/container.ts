import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { ContainerService } from '../../bots/container-service.js';
import type { Operations } from '../../bots/operations.js';
import type { AppEnv } from '../context.js';
import { pipeOperationEvents, sseResponse, wantsEventStream } from '../sse.js';

export function containerRoutes(deps: { containers: ContainerService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.lifecycle.createContainer,
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const { operation } = await deps.containers.create(c.req.valid('param').bot, body);
      if (!wantsEventStream(c)) return c.json({ operation }, 202);
      return sseResponse(c, (send, signal) => pipeOperationEvents(deps.operations.events(operation.id, { signal }), send)) as never;
    },
  );

  app.openapi(
    routes.lifecycle.getContainer,
    async (c) => c.json(await deps.containers.info(c.req.valid('param').bot), 200),
  );

  app.openapi(
    routes.lifecycle.startContainer,
    async (c) => c.json(await deps.containers.start(c.req.valid('param').bot), 200),
  );

  app.openapi(
    routes.lifecycle.stopContainer,
    async (c) => {
      const body = c.req.valid('json') ?? {};
      return c.json(await deps.containers.stop(c.req.valid('param').bot, body), 200);
    },
  );

  app.openapi(
    routes.lifecycle.deleteContainer,
    async (c) => {
      await deps.containers.remove(c.req.valid('param').bot, { purgeData: c.req.valid('query').purgeData === 'true' });
      return c.body(null, 204);
    },
  );
}
