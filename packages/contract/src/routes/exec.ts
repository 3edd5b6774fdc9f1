import { z } from 'zod';
import { ExecBody, ExecResult, Task, TaskAccepted, TaskList } from '../tools.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, binary, BUSY, defineRoute, ENGINE_ERRORS, errors, eventStream, json, JSON_BODY_ERRORS, VALIDATION_ERROR, type HeaderDefinition } from './define.js';

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

/** Seconds a wait lasts by default and at most (as the MCP tool `wait_task`). */
export const TASK_WAIT_DEFAULT_SECONDS = 60;
export const TASK_WAIT_MAX_SECONDS = 600;

export const waitTask = defineRoute({
  method: 'get',
  path: '/bots/{bot}/tasks/{task}/wait',
  operationId: 'waitTask',
  summary: 'Wait for a background task to end, then answer it as getTask does',
  description:
    `Waits up to \`timeoutSeconds\` (default ${TASK_WAIT_DEFAULT_SECONDS}, at most ${TASK_WAIT_MAX_SECONDS}) for the task to end. A task still ` +
    'running when the time is up is answered as it is (`status: running`, not an error): wait again. A client that goes ' +
    'away ends the wait; the task runs on.',
  tags: ['exec'],
  request: {
    params: TaskParam,
    query: z.object({
      timeoutSeconds: z.coerce.number().positive().max(TASK_WAIT_MAX_SECONDS).optional().describe(`most seconds to wait (default ${TASK_WAIT_DEFAULT_SECONDS})`),
      tail: z.coerce.number().int().min(0).max(1024 * 1024).optional().describe('bytes of each stream’s end to show (default 65536)'),
    }),
  },
  responses: {
    200: json(Task, 'the task, ended or still running, and its output tail'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'bot_not_found, or task_not_found', ...BUSY, ...ENGINE_ERRORS }),
  },
});

/** Most bytes of a task's output one read answers (the most a task's tail shows). */
export const TASK_OUTPUT_MAX_LENGTH = 1024 * 1024;

const OUTPUT_SIZE: HeaderDefinition = { description: 'the stream’s size in bytes so far (it grows while the task runs)', schema: { type: 'integer' } };

export const readTaskOutput = defineRoute({
  method: 'get',
  path: '/bots/{bot}/tasks/{task}/output',
  operationId: 'readTaskOutput',
  summary: 'Read part of a background task’s stdout or stderr (its bytes)',
  description:
    `Answers up to \`length\` bytes (default and at most ${TASK_OUTPUT_MAX_LENGTH}) of the stream from \`offset\`, as they are, with ` +
    'the stream’s size so far in `X-Berth-Output-Size`: read on from `offset + bytes read` while that is less, also while ' +
    'the task runs. The output lives in the container the task ran in: 409 while it is stopped, 404 file_not_found once ' +
    'it was replaced.',
  tags: ['exec'],
  request: {
    params: TaskParam,
    query: z.object({
      stream: z.enum(['stdout', 'stderr']).optional().describe('which stream (default stdout)'),
      offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('first byte to read (default 0)'),
      length: z.coerce.number().int().min(1).max(TASK_OUTPUT_MAX_LENGTH).optional().describe(`bytes to read (default ${TASK_OUTPUT_MAX_LENGTH})`),
    }),
  },
  responses: {
    200: { description: 'the bytes read (none past the end)', headers: { 'X-Berth-Output-Size': OUTPUT_SIZE }, content: { 'application/octet-stream': binary } },
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      404: 'bot_not_found, task_not_found, or file_not_found (the container the task ran in was replaced)',
      409: 'container_not_running: the output is in the container, which is stopped',
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const exec = { run, listTasks, getTask, killTask, waitTask, readTaskOutput } as const;
