import type { OpenAPIHono} from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { Bot, BotList, CreateBotBody, PatchBotBody } from '@berth/contract';
import type { BotService } from '../../lifecycle/index.js';
import type { AppEnv } from '../context.js';
import { errorResponse, jsonContent } from './openapi.js';

const BotParam = z.object({ bot: z.string().min(1).max(128) });

export function botRoutes(deps: { bots: BotService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots',
      tags: ['bots'],
      request: { body: { content: { 'application/json': { schema: CreateBotBody } }, required: true } },
      responses: { 201: jsonContent(Bot, 'the new bot'), 400: errorResponse('invalid body'), 409: errorResponse('name taken') },
    }),
    async (c) => c.json(await deps.bots.create(c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/bots', tags: ['bots'], responses: { 200: jsonContent(BotList, 'every bot') } }),
    async (c) => c.json({ bots: await deps.bots.list() }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}',
      tags: ['bots'],
      request: { params: BotParam },
      responses: { 200: jsonContent(Bot, 'the bot'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json(await deps.bots.get(c.req.valid('param').bot), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/bots/{bot}',
      tags: ['bots'],
      request: { params: BotParam, body: { content: { 'application/json': { schema: PatchBotBody } }, required: true } },
      responses: { 200: jsonContent(Bot, 'the bot, changed; a container picks the change up at its next recreate'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json(await deps.bots.update(c.req.valid('param').bot, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{bot}',
      tags: ['bots'],
      request: { params: BotParam },
      summary: 'Delete the bot (a delete-bot operation); answers once everything is gone',
      responses: {
        204: { description: 'deleted with its container, data, snapshots, tokens and history' },
        404: errorResponse('no such bot'),
        409: errorResponse('operation_in_progress: another operation of the bot runs; nothing was removed'),
      },
    }),
    async (c) => {
      await deps.bots.remove(c.req.valid('param').bot);
      return c.body(null, 204);
    },
  );
}

export { BotParam };
