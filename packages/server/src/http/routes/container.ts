import type { OpenAPIHono} from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { Container, CreateContainerBody, OperationAccepted, StopContainerBody } from '@berth/contract';
import type { ContainerService } from '../../lifecycle/index.js';
import type { Operations } from '../../core/operations.js';
import type { AppEnv } from '../context.js';
import { pipeOperationEvents, sseResponse, wantsEventStream } from '../sse.js';
import { BotParam } from './bots.js';
import { errorResponse, jsonContent, sseContent } from './openapi.js';

export function containerRoutes(deps: { containers: ContainerService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/container',
      tags: ['container'],
      summary: 'Create (or recreate) the bot’s container; with Accept: text/event-stream, stream the operation',
      request: { params: BotParam, body: { content: { 'application/json': { schema: CreateContainerBody } }, required: false } },
      responses: {
        202: jsonContent(OperationAccepted, 'the create operation, running'),
        200: sseContent('the create operation’s events (SPEC §4)'),
        409: errorResponse('container exists or an operation is running'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const { operation } = await deps.containers.create(c.req.valid('param').bot, body);
      if (!wantsEventStream(c)) return c.json({ operation }, 202);
      return sseResponse(c, (send, signal) => pipeOperationEvents(deps.operations.events(operation.id, { signal }), send)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/container',
      tags: ['container'],
      request: { params: BotParam },
      responses: { 200: jsonContent(Container, 'the container, as the engine reports it'), 404: errorResponse('no bot or no container') },
    }),
    async (c) => c.json(await deps.containers.info(c.req.valid('param').bot), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/container/start',
      tags: ['container'],
      request: { params: BotParam },
      responses: {
        200: jsonContent(Container, 'the container, started'),
        404: errorResponse('no container'),
        409: errorResponse('an operation is running'),
        507: errorResponse('disk_limit_exceeded: the bot was stopped past its disk limit by the margin and is still past it'),
      },
    }),
    async (c) => c.json(await deps.containers.start(c.req.valid('param').bot), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/container/stop',
      tags: ['container'],
      request: { params: BotParam, body: { content: { 'application/json': { schema: StopContainerBody } }, required: false } },
      responses: { 200: jsonContent(Container, 'the container, stopped'), 404: errorResponse('no container'), 409: errorResponse('an operation is running') },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      return c.json(await deps.containers.stop(c.req.valid('param').bot, body), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{bot}/container',
      tags: ['container'],
      request: { params: BotParam, query: z.object({ purgeData: z.enum(['true', 'false']).optional() }) },
      responses: { 204: { description: 'removed; the data dir is kept unless purgeData=true' }, 404: errorResponse('no container') },
    }),
    async (c) => {
      await deps.containers.remove(c.req.valid('param').bot, { purgeData: c.req.valid('query').purgeData === 'true' });
      return c.body(null, 204);
    },
  );
}
