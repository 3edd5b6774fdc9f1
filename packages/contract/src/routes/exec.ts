import { z } from 'zod';
import { ExecBody, ExecResult, Task, TaskAccepted, TaskList } from '../tools.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, BUSY, defineRoute, ENGINE_ERRORS, errors, eventStream, json, JSON_BODY_ERRORS, VALIDATION_ERROR } from './define.js';

/** The exec API and background tasks (SPEC §3 "The bot's tools"). */

const TaskParam = BotParam.extend({ task: z.string().min(1).max(128).describe('the task’s id') });

export const run = defineRoute({
  method: 'post',
  path: '/bots/{bot}/exec',
  operationId: 'exec',
  summary: 'Run a command in the bot’s running container',
  description:
    'Answers when the command ends with its exit code and output, each stream capped (BERTH_EXEC_OUTPUT_LIMIT, default 1 MiB; ' +
    '`truncated` says when). Output that is not UTF-8 comes base64-encoded (`stdoutEncoding`/`stderrEncoding`). ' +
    'With `Accept: text/event-stream`: events `stdout` and `stderr` (`{data, encoding}`) as the output comes, then `exit` ' +
    '(`{exitCode, durationMs, timedOut}`). With `background: true`: 202 `{task}` at once. A timeout, or the client going ' +
    'away from a command that is not in the background, kills the command’s whole process group.',
  tags: ['exec'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: ExecBody } }, required: true } },
  responses: {
    200: { description: 'the command’s result, or its SSE events', content: { 'application/json': { schema: ExecResult }, 'text/event-stream': eventStream } },
    202: json(TaskAccepted, 'started as a background task'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body, or a working directory that does not exist',
      404: 'bot_not_found, or container_not_found',
      409: 'container_not_running',
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const listTasks = defineRoute({
  method: 'get',
  path: '/bots/{bot}/tasks',
  operationId: 'listTasks',
  summary: 'The bot’s background tasks, newest first, their status read from the container',
  tags: ['exec'],
  request: { params: BotParam },
  responses: { 200: json(TaskList, 'the tasks'), ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND, ...ENGINE_ERRORS }) },
});

export const getTask = defineRoute({
  method: 'get',
  path: '/bots/{bot}/tasks/{task}',
  operationId: 'getTask',
  summary: 'A background task with the tail of its output',
  tags: ['exec'],
  request: {
    params: TaskParam,
    query: z.object({ tail: z.coerce.number().int().min(0).max(1024 * 1024).optional().describe('bytes of each stream’s end to show (default 65536)') }),
  },
  responses: {
    200: json(Task, 'the task and its output tail'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'bot_not_found, or task_not_found', ...BUSY, ...ENGINE_ERRORS }),
  },
});

export const killTask = defineRoute({
  method: 'delete',
  path: '/bots/{bot}/tasks/{task}',
  operationId: 'killTask',
  summary: 'Kill a background task: SIGKILL to its whole process group',
  description: 'Answers the task once its end is seen (`killed`). A task that has already ended is answered as it is.',
  tags: ['exec'],
  request: { params: TaskParam },
  responses: {
    200: json(Task, 'the task, killed'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'bot_not_found, or task_not_found', ...ENGINE_ERRORS }),
  },
});

export const exec = { run, listTasks, getTask, killTask } as const;
