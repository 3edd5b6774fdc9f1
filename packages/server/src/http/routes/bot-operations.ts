import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { OperationList } from '@berth/contract';
import type { BotService } from '../../lifecycle/index.js';
import type { Operations } from '../../core/operations.js';
import type { AppEnv } from '../context.js';
import { BotParam } from './bots.js';
import { errorResponse, jsonContent } from './openapi.js';

/** A bot's latest operations: how a reloaded page finds the running one and reattaches to its events. */
export function botOperationRoutes(deps: { bots: BotService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/operations',
      tags: ['operations'],
      summary: 'The bot’s latest operations, newest first (a running one among them)',
      request: { params: BotParam, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }) },
      responses: { 200: jsonContent(OperationList, 'operations, newest first'), 404: errorResponse('no such bot') },
    }),
    async (c) => {
      const bot = await deps.bots.get(c.req.valid('param').bot);
      return c.json({ operations: await deps.operations.recentFor(bot.id, c.req.valid('query').limit) }, 200);
    },
  );
}
