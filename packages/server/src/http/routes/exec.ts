import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes, TASK_OUTPUT_MAX_LENGTH, TASK_WAIT_DEFAULT_SECONDS } from '@berth/contract';
import type { ExecService } from '../../exec/index.js';
import type { TaskService } from '../../exec/index.js';
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

  app.openapi(
    routes.exec.waitTask,
    async (c) => {
      const { bot, task } = c.req.valid('param');
      const { timeoutSeconds, tail } = c.req.valid('query');
      // The wait takes one of the bot's work places for each look at the task only, never while it
      // sleeps between looks (TaskService.wait): a bot may wait on several tasks and still exec,
      // read files and start tasks meanwhile. A client that goes away, or whose credential is
      // revoked, ends the wait; the task runs on.
      const signal = AbortSignal.any([c.req.raw.signal, c.get('revoked')]);
      const waited = await deps.tasks.wait(bot, task, { timeoutMs: (timeoutSeconds ?? TASK_WAIT_DEFAULT_SECONDS) * 1000, signal });
      // No one is there to read the answer: the task as last seen, without looking at its output.
      if (signal.aborted) return c.json(waited, 200);
      return c.json(await deps.tasks.get(bot, waited.id, { ...(tail !== undefined && { tailBytes: tail }) }), 200);
    },
  );

  app.openapi(
    routes.exec.readTaskOutput,
    async (c) => {
      const { bot, task } = c.req.valid('param');
      const { stream, offset, length } = c.req.valid('query');
      const read = await deps.tasks.readOutput(bot, task, { stream: stream ?? 'stdout', offset: offset ?? 0, length: length ?? TASK_OUTPUT_MAX_LENGTH });
      const headers = {
        'content-type': 'application/octet-stream',
        'content-length': String(read.data.length),
        'cache-control': 'no-store',
        'x-berth-output-size': String(read.size),
      };
      return c.body(new Uint8Array(read.data), 200, headers) as never;
    },
  );
}
