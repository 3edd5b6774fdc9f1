import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { ExecBody, ExecResult, Task, TaskAccepted, TaskList } from '@berth/contract';
import type { ExecService, TaskService } from '../../exec/index.js';
import type { AppEnv } from '../context.js';
import { sseResponse, wantsEventStream } from '../sse.js';
import { BotParam } from './bots.js';
import { errorResponse, jsonContent, sseContent } from './openapi.js';

const TaskParam = BotParam.extend({ task: z.string().min(1).max(128) });

/** The exec API and background tasks (SPEC §3 "The bot's tools"). */
export function execRoutes(deps: { exec: ExecService; tasks: TaskService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/exec',
      tags: ['exec'],
      summary: 'Run a command in the bot’s running container',
      description:
        'Answers when the command ends with its exit code and output, each stream capped (BERTH_EXEC_OUTPUT_LIMIT, default 1 MiB; ' +
        '`truncated` says when). Output that is not UTF-8 comes base64-encoded (`stdoutEncoding`/`stderrEncoding`). ' +
        'With `Accept: text/event-stream`: events `stdout` and `stderr` (`{data, encoding}`) as the output comes, then `exit` ' +
        '(`{exitCode, durationMs, timedOut}`). With `background: true`: 202 `{task}` at once. A timeout, or the client going ' +
        'away from a command that is not in the background, kills the command’s whole process group.',
      request: { params: BotParam, body: { content: { 'application/json': { schema: ExecBody } }, required: true } },
      responses: {
        200: { description: 'the command’s result, or its SSE events', content: { 'application/json': { schema: ExecResult }, 'text/event-stream': sseContent('').content['text/event-stream'] } },
        202: jsonContent(TaskAccepted, 'started as a background task'),
        400: errorResponse('invalid body, or a working directory that does not exist'),
        404: errorResponse('no bot, or no container'),
        409: errorResponse('container_not_running'),
      },
    }),
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
    createRoute({
      method: 'get',
      path: '/bots/{bot}/tasks',
      tags: ['exec'],
      summary: 'The bot’s background tasks, newest first, their status read from the container',
      request: { params: BotParam },
      responses: { 200: jsonContent(TaskList, 'the tasks'), 404: errorResponse('no such bot') },
    }),
    async (c) => c.json({ tasks: await deps.tasks.list(c.req.valid('param').bot) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/tasks/{task}',
      tags: ['exec'],
      summary: 'A background task with the tail of its output',
      request: {
        params: TaskParam,
        query: z.object({ tail: z.coerce.number().int().min(0).max(1024 * 1024).optional().describe('bytes of each stream’s end to show (default 65536)') }),
      },
      responses: { 200: jsonContent(Task, 'the task and its output tail'), 404: errorResponse('no bot or no such task') },
    }),
    async (c) => {
      const { bot, task } = c.req.valid('param');
      const { tail } = c.req.valid('query');
      return c.json(await deps.tasks.get(bot, task, { ...(tail !== undefined && { tailBytes: tail }) }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{bot}/tasks/{task}',
      tags: ['exec'],
      summary: 'Kill a background task: SIGKILL to its whole process group',
      description: 'Answers the task once its end is seen (`killed`). A task that has already ended is answered as it is.',
      request: { params: TaskParam },
      responses: { 200: jsonContent(Task, 'the task, killed'), 404: errorResponse('no bot or no such task') },
    }),
    async (c) => {
      const { bot, task } = c.req.valid('param');
      return c.json(await deps.tasks.kill(bot, task), 200);
    },
  );
}
