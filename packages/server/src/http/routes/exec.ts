import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { ExecService } from '../../bots/exec-service.js';
import type { TaskService } from '../../bots/task-service.js';
import type { AppEnv } from '../context.js';
import { sseResponse, wantsEventStream } from '../sse.js';

/** The exec API and background tasks (SPEC §3 "The bot's tools"). */
export function execRoutes(deps: { exec: ExecService; tasks: TaskService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.exec.run,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { background, ...req } = c.req.valid('json');
      if (background) return c.json({ task: await deps.tasks.start(bot, req) }, 202);
      // Revoking the caller's credential ends the command too (http/live.ts).
      if (!wantsEventStream(c)) return c.json(await deps.exec.run(bot, req, { signal: AbortSignal.any([c.req.raw.signal, c.get('revoked')]) }), 200);
      // Started before the response: a refusal (stopped container, ...) is an ordinary error answer.
      const abort = new AbortController();
      const events = await deps.exec.stream(bot, req, { signal: abort.signal });
      return sseResponse(c, async (send, signal) => {
        signal.addEventListener('abort', () => abort.abort(), { once: true });
        for await (const ev of events) await send(ev.event, ev.data);
      }) as never;
    },
  );

  app.openapi(
    routes.exec.listTasks,
    async (c) => c.json({ tasks: await deps.tasks.list(c.req.valid('param').bot) }, 200),
  );

  app.openapi(
    routes.exec.getTask,
    async (c) => {
      const { bot, task } = c.req.valid('param');
      const { tail } = c.req.valid('query');
      return c.json(await deps.tasks.get(bot, task, { ...(tail !== undefined && { tailBytes: tail }) }), 200);
    },
  );

  app.openapi(
    routes.exec.killTask,
    async (c) => {
      const { bot, task } = c.req.valid('param');
      return c.json(await deps.tasks.kill(bot, task), 200);
    },
  );
}
