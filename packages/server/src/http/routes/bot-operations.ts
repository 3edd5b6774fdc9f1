import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { BotService } from '../../bots/bot-service.js';
import type { Operations } from '../../bots/operations.js';
import type { AppEnv } from '../context.js';

/** A bot's latest operations: how a reloaded page finds the running one and reattaches to its events. */
export function botOperationRoutes(deps: { bots: BotService; operations: Operations }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.lifecycle.listOperations,
    async (c) => {
      const bot = await deps.bots.get(c.req.valid('param').bot);
      return c.json({ operations: await deps.operations.recentFor(bot.id, c.req.valid('query').limit) }, 200);
    },
  );
}
