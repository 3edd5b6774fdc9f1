import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { BotService } from '../../bots/bot-service.js';
import type { AppEnv } from '../context.js';

export function botRoutes(deps: { bots: BotService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.lifecycle.createBot,
    async (c) => c.json(await deps.bots.create(c.req.valid('json')), 201),
  );

  app.openapi(
    routes.lifecycle.listBots,
    async (c) => c.json({ bots: await deps.bots.list() }, 200),
  );

  app.openapi(
    routes.lifecycle.getBot,
    async (c) => c.json(await deps.bots.get(c.req.valid('param').bot), 200),
  );

  app.openapi(
    routes.lifecycle.updateBot,
    async (c) => c.json(await deps.bots.update(c.req.valid('param').bot, c.req.valid('json')), 200),
  );

  app.openapi(
    routes.lifecycle.deleteBot,
    async (c) => {
      await deps.bots.remove(c.req.valid('param').bot);
      return c.body(null, 204);
    },
  );
}
