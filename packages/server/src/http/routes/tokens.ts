import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { BotTokenList, CreateTokenBody, IssuedBotToken } from '@berth/contract';
import type { TokenService } from '../../tokens/index.js';
import type { AppEnv } from '../context.js';
import { BotParam } from './bots.js';
import { errorResponse, jsonContent } from './openapi.js';

/** Bot tokens; admin only, like every route http/authorize.ts does not open to bots. */
export function tokenRoutes(deps: { tokens: TokenService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/tokens',
      tags: ['tokens'],
      summary: 'Issue a token that reaches only this bot’s container info, exec, tasks, files, terminal and MCP',
      request: { params: BotParam, body: { content: { 'application/json': { schema: CreateTokenBody } }, required: true } },
      responses: { 201: jsonContent(IssuedBotToken, 'the token; its secret is shown only here'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json(await deps.tokens.issue(c.req.valid('param').bot, c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/tokens',
      tags: ['tokens'],
      request: { params: BotParam },
      responses: { 200: jsonContent(BotTokenList, 'the bot’s tokens, without their secrets'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json({ tokens: await deps.tokens.list(c.req.valid('param').bot) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{bot}/tokens/{token}',
      tags: ['tokens'],
      summary: 'Revoke a token; it stops working at once',
      request: { params: BotParam.extend({ token: z.string().min(1).max(64) }) },
      responses: { 204: { description: 'revoked' }, 404: errorResponse('no such bot or token') },
    }),
    async (c) => {
      const { bot, token } = c.req.valid('param');
      await deps.tokens.revoke(bot, token);
      return c.body(null, 204);
    },
  );
}
