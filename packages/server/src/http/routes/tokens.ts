import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { TokenService } from '../../bots/token-service.js';
import type { AppEnv } from '../context.js';

/** Bot tokens; admin only, like every route http/authorize.ts does not open to bots. */
export function tokenRoutes(deps: { tokens: TokenService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.tokens.create,
    async (c) => c.json(await deps.tokens.issue(c.req.valid('param').bot, c.req.valid('json')), 201),
  );

  app.openapi(
    routes.tokens.list,
    async (c) => c.json({ tokens: await deps.tokens.list(c.req.valid('param').bot) }, 200),
  );

  app.openapi(
    routes.tokens.revoke,
    async (c) => {
      const { bot, token } = c.req.valid('param');
      await deps.tokens.revoke(bot, token);
      return c.body(null, 204);
    },
  );
}
