import { isUtf8 } from 'node:buffer';
import { z } from '@hono/zod-openapi';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, type CallToolResult, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { Container, Env, FileEditResult, FileInfo, GLOB_DEFAULT_LIMIT, GLOB_MAX_LIMIT, Task, TASK_WAIT_DEFAULT_SECONDS, TASK_WAIT_MAX_SECONDS, type ExecExitEvent, type FileEntry } from '@berth/contract';
import type { ContainerService } from '../lifecycle/index.js';
import type { ExecRequest, ExecService, TaskService } from '../exec/index.js';
import { type FilesService, parseMode } from '../files/index.js';
import { errorPayload } from '../core/operations.js';
import { decodeText, encodeBytes, incompleteUtf8Tail } from '../core/output-encoding.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { HeadTail, renderKept } from './output-cap.js';

export interface BotMcpServerDeps {
  version: string;
  logger: Logger;
  exec: Pick<ExecService, 'stream'>;
  tasks: Pick<TaskService, 'start' | 'list' | 'get' | 'kill' | 'wait' | 'readOutput'>;
  files: Pick<FilesService, 'read' | 'write' | 'edit' | 'remove' | 'move' | 'makeDirectory' | 'glob'>;
  containers: Pick<ContainerService, 'start' | 'info'>;
  /** How often a long call sends progress to a client that asked for it (default PROGRESS_INTERVAL_MS). */
  progressIntervalMs?: number;
}

/** A command that runs longer is killed unless the call asks for more; long jobs belong in start_task. */
const DEFAULT_RUN_TIMEOUT_SECONDS = 120;
const MAX_RUN_TIMEOUT_SECONDS = 3600;
/**
 * What a tool result gives the model of one output stream, or of a file by default: a result goes
 * into the agent's context whole. Command output keeps its first and last half of this.
 */
const MODEL_OUTPUT_BYTES = 64 * 1024;
/** Most bytes read_file answers at once, when asked for more than the default. */
const MAX_READ_BYTES = 1024 * 1024;
const DEFAULT_TASK_TAIL_BYTES = 16 * 1024;
/** A long call tells a client that asked for progress that it still works this often (clients give up after 60 s by default). */
const PROGRESS_INTERVAL_MS = 10_000;
/** Progress that comes with output (a command printing) is sent at most this often. */
const PROGRESS_MIN_GAP_MS = 1_000;

const Command = z
  .union([z.string().min(1).max(131_072), z.array(z.string().max(131_072)).min(1).max(4096)])
  .describe('A shell command line, run with /bin/sh -c (pipes, &&, redirections work), or an argv array run as is.');
const Cwd = z.string().min(1).max(4096).optional().describe('Working directory in the container; relative paths are under the data dir /data, the default.');
const FilePath = z.string().min(1).max(4096).describe('A path in the container; relative paths are under the data dir /data.');
const TaskId = z.string().min(1).max(128).describe('The task’s id, as start_task or list_tasks gave it.');
const TaskSummary = Task.omit({ output: true });
const OutputStream = z.enum(['stdout', 'stderr']);

/** What a tool body gets besides its arguments. */
interface ToolContext {
  /** Aborts when the client cancels the call or goes away. */
  signal: AbortSignal;
  /** Sends progress now with this message, if the client asked for progress (throttled). */
  progress(message: string): void;
  /** The most seconds the call can take, shown as the progress's total. */
  expectSeconds(seconds: number): void;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * The MCP server of one bot: its tools act on that bot's container only, through the same use cases
 * as the REST API (exec, tasks, files, the container's start), so they answer the same way and fail
 * with the same codes. A failure is a tool error (`isError`) whose text starts with Berth's error
 * code; `_meta["berth/error"]` carries `{code, message, details}` for programs. A call whose request
 * carries a progress token gets `notifications/progress` while it runs, so clients that reset their
 * timeout on progress keep waiting for long commands. Text for the model is capped (MODEL_OUTPUT_BYTES
 * per stream); `structuredContent` holds the small facts (exit code, sizes, flags), never the text again.
 */
export function createBotMcpServer(botId: string, deps: BotMcpServerDeps): McpServer {
  const server = new McpServer(
    { name: 'berth', version: deps.version },
    {
      instructions:
        'These tools act on your own computer: a persistent Linux container. Files you keep under /data survive restarts and ' +
        'recreations of the container; the rest of the filesystem survives restarts only. Use run_command for commands that ' +
        'finish within a couple of minutes and start_task for longer ones (servers, builds, downloads), then wait_task or get_task ' +
        'to follow them and read_task_output to read all they printed. If a tool says the container is not running, start it ' +
        'with start_container.',
    },
  );
  const log = deps.logger.child({ botId, api: 'mcp' });
  const progressEvery = deps.progressIntervalMs ?? PROGRESS_INTERVAL_MS;

  /**
   * Runs a tool body; any failure becomes a tool error with Berth's code, so the agent can react to
   * it. While it runs, a client that sent a progress token gets progress: every `progressEvery`, and
   * when the body reports some (at most once a second). `progress` counts seconds, so it increases.
   */
  const tool =
    <A>(name: string, body: (args: A, ctx: ToolContext) => Promise<CallToolResult>) =>
    async (args: A, extra: Extra): Promise<CallToolResult> => {
      const token = extra._meta?.progressToken;
      const started = performance.now();
      let last = -Infinity;
      let lastProgress = 0;
      let total: number | undefined;
      let note = `${name} is running`;
      const send = (message: string) => {
        if (token === undefined) return;
        last = performance.now();
        const seconds = Math.max(Math.round((last - started) / 100) / 10, Math.round((lastProgress + 0.1) * 10) / 10);
        lastProgress = seconds;
        const params = { progressToken: token, progress: seconds, message, ...(total !== undefined && seconds <= total && { total }) };
        // A client that went away gets nothing; the call itself ends through its signal.
        extra.sendNotification({ method: 'notifications/progress', params }).catch(() => undefined);
      };
      const timer = token === undefined ? undefined : setInterval(() => send(`${note} (${Math.round((performance.now() - started) / 1000)} s)`), progressEvery);
      const ctx: ToolContext = {
        signal: extra.signal,
        progress: (message) => {
          note = message;
          if (performance.now() - last >= PROGRESS_MIN_GAP_MS) send(message);
        },
        expectSeconds: (seconds) => {
          total = seconds;
        },
      };
      try {
        return await body(args, ctx);
      } catch (err) {
        const payload = errorPayload(err);
        // A call the client gave up on fails as its work is cut short: nothing to look into.
        if (payload.code === 'internal' && !extra.signal.aborted) log.error({ err, tool: name }, 'MCP tool failed');
        return toolError(payload);
      } finally {
        clearInterval(timer);
      }
    };

  // --- commands ----------------------------------------------------------------------------------

  server.registerTool(
    'run_command',
    {
      title: 'Run a command',
      description:
        'Runs a command in your container and answers when it ends, with its exit code, stdout and stderr. The command and ' +
        `everything it started are killed after timeoutSeconds (default ${DEFAULT_RUN_TIMEOUT_SECONDS}); use start_task for longer jobs. ` +
        `Output is capped at ${MODEL_OUTPUT_BYTES / 1024} KiB per stream: past that you get its first and last ${MODEL_OUTPUT_BYTES / 2048} KiB ` +
        'and the size of what was left out, which is not kept. For a command with long output, redirect it to a file ' +
        '(`make > /tmp/build.log 2>&1`) and read that with read_file (offset, length) or grep, or run it with start_task and page ' +
        'through read_task_output. Output that is not UTF-8 comes base64-encoded, as the text says.',
      inputSchema: {
        command: Command,
        cwd: Cwd,
        env: Env.optional().describe('Environment variables added for this command.'),
        stdin: z.string().max(16 * 1024 * 1024).optional().describe('Text sent to the command’s standard input, which is then closed.'),
        timeoutSeconds: z.number().positive().max(MAX_RUN_TIMEOUT_SECONDS).optional().describe(`Seconds before the command is killed (default ${DEFAULT_RUN_TIMEOUT_SECONDS}).`),
      },
      outputSchema: {
        exitCode: z.number().int(),
        timedOut: z.boolean().describe('timeoutSeconds ran out and the command was killed'),
        durationMs: z.number().int(),
        stdoutBytes: z.number().int().describe('bytes the command wrote to stdout, shown or not'),
        stderrBytes: z.number().int(),
        stdoutTruncated: z.boolean().describe('only the start and end of stdout are shown'),
        stderrTruncated: z.boolean(),
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    tool('run_command', async (args: ExecRequest, ctx) => {
      const timeoutSeconds = args.timeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS;
      ctx.expectSeconds(timeoutSeconds);
      const events = await deps.exec.stream(botId, { ...args, timeoutSeconds }, { signal: ctx.signal });
      const kept = { stdout: new HeadTail(MODEL_OUTPUT_BYTES / 2, MODEL_OUTPUT_BYTES / 2), stderr: new HeadTail(MODEL_OUTPUT_BYTES / 2, MODEL_OUTPUT_BYTES / 2) };
      let exit: ExecExitEvent | undefined;
      for await (const ev of events) {
        if (ev.event === 'exit') exit = ev.data;
        else if (ev.event === 'error') return toolError(ev.data);
        else {
          kept[ev.event].push(decodeText(ev.data.data, ev.data.encoding));
          ctx.progress(`running: ${kept.stdout.bytes} bytes of stdout, ${kept.stderr.bytes} of stderr so far`);
        }
      }
      if (!exit) throw new AppError('internal', { reason: 'the command’s stream ended without its exit' });
      const structured = {
        exitCode: exit.exitCode,
        timedOut: exit.timedOut,
        durationMs: exit.durationMs,
        stdoutBytes: kept.stdout.bytes,
        stderrBytes: kept.stderr.bytes,
        stdoutTruncated: kept.stdout.result().omitted > 0,
        stderrTruncated: kept.stderr.result().omitted > 0,
      };
      const lines = [`exit code ${exit.exitCode}${exit.timedOut ? ` (killed: timed out after ${timeoutSeconds} s)` : ''}, ${exit.durationMs} ms`];
      for (const name of ['stdout', 'stderr'] as const) {
        const stream = kept[name];
        if (stream.bytes === 0) continue;
        const shown = renderKept(stream.result(), name);
        lines.push(`--- ${name}${shown.base64 ? ' (base64: not UTF-8)' : ''} ---`, shown.text.endsWith('\n') ? shown.text.slice(0, -1) : shown.text);
      }
      if (structured.stdoutTruncated || structured.stderrTruncated) {
        const sizes = [structured.stdoutTruncated && `stdout was ${structured.stdoutBytes} bytes`, structured.stderrTruncated && `stderr was ${structured.stderrBytes} bytes`].filter(Boolean).join(', ');
        lines.push(
          `[${sizes}: only the first and last ${MODEL_OUTPUT_BYTES / 2048} KiB of each are shown, and the rest was not kept. To read all of it, ` +
            'run the command again with its output redirected to a file (`… > /tmp/out.txt 2>&1`) and read that with read_file ' +
            '(offset, length) or search it with grep; or run it with start_task and read it with read_task_output.]',
        );
      }
      return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: structured };
    }),
  );

  // --- the container -----------------------------------------------------------------------------

  server.registerTool(
    'start_container',
    {
      title: 'Start your container',
      description:
        'Starts your container when it is stopped (after a stop, a restart of the host, or running out of memory) and answers ' +
        'once it runs, or with the reason it could not start. A running container is left as it is. Files under /data are ' +
        'kept; background tasks that ran before the stop do not come back.',
      inputSchema: {},
      outputSchema: { container: Container.pick({ id: true, status: true, startedAt: true, image: true }), started: z.boolean().describe('false: it was running already') },
      annotations: { destructiveHint: false, idempotentHint: true },
    },
    tool('start_container', async (_args: Record<string, never>, ctx) => {
      const before = await deps.containers.info(botId);
      let started = false;
      let container = before;
      if (before.status !== 'running') {
        ctx.progress('starting the container');
        container = await deps.containers.start(botId);
        started = true;
      }
      const text = started ? `started the container (${container.status}, image ${container.image})` : `the container is already running (since ${container.startedAt ?? 'unknown'})`;
      return {
        content: [{ type: 'text', text }],
        structuredContent: { container: { id: container.id, status: container.status, startedAt: container.startedAt, image: container.image }, started },
      };
    }),
  );

  // --- background tasks --------------------------------------------------------------------------

  server.registerTool(
    'start_task',
    {
      title: 'Start a background task',
      description:
        'Starts a command in the background in your container and answers at once with the task (its id and status). It keeps ' +
        'running when this call ends, until it exits, is stopped with stop_task, its timeout passes, or the container stops. ' +
        'Its whole output is kept in the container: follow it with wait_task or get_task (status, exit code, end of its output) ' +
        'and read any part with read_task_output.',
      inputSchema: {
        command: Command,
        cwd: Cwd,
        env: Env.optional().describe('Environment variables added for this task.'),
        timeoutSeconds: z.number().positive().max(7 * 24 * 3600).optional().describe('Seconds before the task is killed (default: no limit).'),
      },
      outputSchema: { task: TaskSummary },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    tool('start_task', async (args: ExecRequest) => {
      const task = await deps.tasks.start(botId, args);
      return { content: [{ type: 'text', text: `started task ${task.id} (${task.status})` }], structuredContent: { task } };
    }),
  );

  server.registerTool(
    'list_tasks',
    {
      title: 'List background tasks',
      description: `Lists your background tasks, newest first, with their status (running, exited, killed or lost) and exit codes; about ${MODEL_OUTPUT_BYTES / 1024} KiB of them at most.`,
      inputSchema: {},
      outputSchema: { tasks: z.array(TaskSummary).describe('the tasks shown, newest first'), total: z.number().int(), truncated: z.boolean().describe('older tasks are not shown') },
      annotations: { readOnlyHint: true },
    },
    tool('list_tasks', async () => {
      const all = await deps.tasks.list(botId);
      const tasks: Task[] = [];
      const lines: string[] = [];
      let size = 0;
      for (const task of all) {
        const line = formatTaskLine(task);
        if (size + line.length + 1 > MODEL_OUTPUT_BYTES) break;
        tasks.push(task);
        lines.push(line);
        size += line.length + 1;
      }
      const truncated = tasks.length < all.length;
      const text = all.length === 0 ? 'no tasks' : [...lines, ...(truncated ? [`[${all.length - tasks.length} older tasks not shown]`] : [])].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { tasks, total: all.length, truncated } };
    }),
  );

  const TailBytes = z
    .number()
    .int()
    .min(0)
    .max(MODEL_OUTPUT_BYTES)
    .optional()
    .describe(`Bytes of the end of each stream to show (default ${DEFAULT_TASK_TAIL_BYTES}, at most ${MODEL_OUTPUT_BYTES}); read_task_output reads any part.`);
  const TaskResult = { task: TaskSummary, stdoutBytes: z.number().int().optional(), stderrBytes: z.number().int().optional() };

  /** A task with the end of its output: the text, and the task without its output as structured content. */
  const taskAnswer = (t: Task, prefix?: string): CallToolResult => {
    const { output, ...task } = t;
    const text = formatTask(t);
    return {
      content: [{ type: 'text', text: prefix ? `${prefix}\n${text}` : text }],
      structuredContent: { task, ...(output && { stdoutBytes: output.stdoutBytes, stderrBytes: output.stderrBytes }) },
    };
  };

  server.registerTool(
    'get_task',
    {
      title: 'Get a background task',
      description: 'A background task’s status, exit code, start and end times, output sizes, and the last part of its stdout and stderr.',
      inputSchema: { taskId: TaskId, tailBytes: TailBytes },
      outputSchema: TaskResult,
      annotations: { readOnlyHint: true },
    },
    tool('get_task', async (args: { taskId: string; tailBytes?: number | undefined }) => {
      return taskAnswer(await deps.tasks.get(botId, args.taskId, { tailBytes: args.tailBytes ?? DEFAULT_TASK_TAIL_BYTES }));
    }),
  );

  server.registerTool(
    'wait_task',
    {
      title: 'Wait for a background task',
      description:
        `Waits up to timeoutSeconds (default ${TASK_WAIT_DEFAULT_SECONDS}, at most ${TASK_WAIT_MAX_SECONDS}) for a background task to end, then answers ` +
        'as get_task does. A task still running when the time is up is answered as running (not an error): wait again, or stop it.',
      inputSchema: {
        taskId: TaskId,
        timeoutSeconds: z.number().positive().max(TASK_WAIT_MAX_SECONDS).optional().describe(`Most seconds to wait (default ${TASK_WAIT_DEFAULT_SECONDS}).`),
        tailBytes: TailBytes,
      },
      outputSchema: TaskResult,
      annotations: { readOnlyHint: true },
    },
    tool('wait_task', async (args: { taskId: string; timeoutSeconds?: number | undefined; tailBytes?: number | undefined }, ctx) => {
      const seconds = args.timeoutSeconds ?? TASK_WAIT_DEFAULT_SECONDS;
      ctx.expectSeconds(seconds);
      const waited = await deps.tasks.wait(botId, args.taskId, {
        timeoutMs: seconds * 1000,
        signal: ctx.signal,
        onLook: (t) => ctx.progress(`task ${t.id} is still ${t.status}`),
      });
      const task = await deps.tasks.get(botId, waited.id, { tailBytes: args.tailBytes ?? DEFAULT_TASK_TAIL_BYTES });
      return taskAnswer(task, task.status === 'running' ? `task ${task.id} is still running after ${seconds} s` : undefined);
    }),
  );

  server.registerTool(
    'read_task_output',
    {
      title: 'Read a background task’s output',
      description:
        `Reads part of a background task’s stdout or stderr: up to length bytes (default and most ${MODEL_OUTPUT_BYTES}) from offset, ` +
        'with the stream’s size so far, so you can page through all of it (also while it runs). Output that is not UTF-8 comes ' +
        'base64-encoded, as the text says.',
      inputSchema: {
        taskId: TaskId,
        stream: OutputStream.optional().describe('Which stream (default stdout).'),
        offset: z.number().int().min(0).optional().describe('First byte to read (default 0).'),
        length: z.number().int().min(1).max(MODEL_OUTPUT_BYTES).optional().describe(`Bytes to read (default and most: ${MODEL_OUTPUT_BYTES}).`),
      },
      outputSchema: { stream: OutputStream, offset: z.number().int(), length: z.number().int(), size: z.number().int(), encoding: z.enum(['utf8', 'base64']), more: z.boolean() },
      annotations: { readOnlyHint: true },
    },
    tool('read_task_output', async (args: { taskId: string; stream?: 'stdout' | 'stderr' | undefined; offset?: number | undefined; length?: number | undefined }) => {
      const read = await deps.tasks.readOutput(botId, args.taskId, { stream: args.stream ?? 'stdout', offset: args.offset ?? 0, length: args.length ?? MODEL_OUTPUT_BYTES });
      let data = read.data;
      // A read that stops inside a character ends before it, so text stays text.
      if (read.offset + data.length < read.size) data = data.subarray(0, data.length - incompleteUtf8Tail(data));
      const { text, encoding } = encodeBytes(data);
      const end = read.offset + data.length;
      const more = end < read.size;
      const structured = { stream: read.stream, offset: read.offset, length: data.length, size: read.size, encoding, more };
      const note = `[${read.stream} of ${args.taskId}: bytes ${read.offset}-${end} of ${read.size}${encoding === 'base64' ? ', base64-encoded: not UTF-8 text' : ''}${more ? `; read on with offset ${end}` : ''}]`;
      return { content: [{ type: 'text', text }, { type: 'text', text: note }], structuredContent: structured };
    }),
  );

  server.registerTool(
    'stop_task',
    {
      title: 'Stop a background task',
      description: 'Kills a background task and everything it started; answers the task once it has ended. A task that already ended is answered as it is.',
      inputSchema: { taskId: TaskId },
      outputSchema: { task: TaskSummary },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    tool('stop_task', async (args: { taskId: string }) => {
      const task = await deps.tasks.kill(botId, args.taskId);
      return { content: [{ type: 'text', text: formatTaskLine(task) }], structuredContent: { task } };
    }),
  );

  // --- files -------------------------------------------------------------------------------------

  server.registerTool(
    'read_file',
    {
      title: 'Read a file',
      description:
        `Reads a file in your container: UTF-8 text as it is, other bytes base64-encoded (the text says so). ${MODEL_OUTPUT_BYTES} bytes by ` +
        `default and at most ${MAX_READ_BYTES} per call; \`offset\` and \`length\` read a part, and a note says where to read on. ` +
        'Directories are listed with list_files.',
      inputSchema: {
        path: FilePath,
        offset: z.number().int().min(0).optional().describe('First byte to read (default 0).'),
        length: z.number().int().min(0).max(MAX_READ_BYTES).optional().describe(`Bytes to read (default ${MODEL_OUTPUT_BYTES}, at most ${MAX_READ_BYTES}).`),
      },
      outputSchema: {
        path: z.string(),
        size: z.number().int(),
        offset: z.number().int(),
        length: z.number().int(),
        truncated: z.boolean().describe('more of the file follows what was read'),
        encoding: z.enum(['utf8', 'base64']),
      },
      annotations: { readOnlyHint: true },
    },
    tool('read_file', async (args: { path: string; offset?: number | undefined; length?: number | undefined }) => {
      const offset = args.offset ?? 0;
      const read = await deps.files.read(botId, args.path, { offset, length: args.length ?? MODEL_OUTPUT_BYTES });
      if (read.kind === 'directory') throw new AppError('validation_failed', { reason: `${read.path} is a directory; list it with list_files` });
      const chunks: Buffer[] = [];
      for await (const chunk of read.body) chunks.push(chunk);
      let bytes = Buffer.concat(chunks);
      // A read that stops inside a character ends before it, so text stays text.
      const more = read.offset + bytes.length < read.size;
      if (more) bytes = bytes.subarray(0, bytes.length - incompleteUtf8Tail(bytes));
      const encoding = isUtf8(bytes) ? 'utf8' : 'base64';
      const end = read.offset + bytes.length;
      const result = { path: read.path, size: read.size, offset: read.offset, length: bytes.length, truncated: end < read.size, encoding } as const;
      const content: CallToolResult['content'] = [{ type: 'text', text: bytes.toString(encoding === 'utf8' ? 'utf8' : 'base64') }];
      if (result.truncated || offset > 0 || encoding === 'base64') {
        content.push({ type: 'text', text: `[${read.path}: bytes ${result.offset}-${end} of ${result.size}${encoding === 'base64' ? ', base64-encoded: not UTF-8 text' : ''}${result.truncated ? `; read on with offset ${end}` : ''}]` });
      }
      return { content, structuredContent: result };
    }),
  );

  server.registerTool(
    'write_file',
    {
      title: 'Write a file',
      description: 'Writes a whole file in your container, replacing it atomically if it exists and creating missing parent directories.',
      inputSchema: {
        path: FilePath,
        content: z.string().describe('The file’s new content.'),
        encoding: z.enum(['utf8', 'base64']).optional().describe('How `content` is encoded (default utf8; base64 for binary files).'),
        mode: z.string().regex(/^[0-7]{3,4}$/).optional().describe('Permission bits in octal, e.g. "0755" for a script (default: kept, or 0644 for a new file).'),
      },
      outputSchema: FileInfo.shape,
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    tool('write_file', async (args: { path: string; content: string; encoding?: 'utf8' | 'base64' | undefined; mode?: string | undefined }) => {
      const bytes = Buffer.from(args.content, args.encoding === 'base64' ? 'base64' : 'utf8');
      const mode = parseMode(args.mode);
      const written = await deps.files.write(botId, args.path, oneChunk(bytes), { ...(mode !== undefined && { mode }) });
      return { content: [{ type: 'text', text: `wrote ${written.size} bytes to ${written.path} (mode ${written.mode})` }], structuredContent: written };
    }),
  );

  server.registerTool(
    'edit_file',
    {
      title: 'Edit a file',
      description:
        'Replaces one exact piece of text in a UTF-8 file with another. `oldText` must occur exactly once in the file (whitespace ' +
        'included); otherwise nothing changes and the error says how many times it occurred: add surrounding lines to make it unique.',
      inputSchema: {
        path: FilePath,
        oldText: z.string().min(1).max(8 * 1024 * 1024).describe('The exact text to replace; it must occur exactly once.'),
        newText: z.string().max(8 * 1024 * 1024).describe('The text to put in its place.'),
      },
      outputSchema: FileEditResult.shape,
      annotations: { destructiveHint: true },
    },
    tool('edit_file', async (args: { path: string; oldText: string; newText: string }) => {
      const edited = await deps.files.edit(botId, args);
      return { content: [{ type: 'text', text: `edited ${edited.path}: 1 replacement, now ${edited.size} bytes` }], structuredContent: edited };
    }),
  );

  server.registerTool(
    'delete_file',
    {
      title: 'Delete a file or directory',
      description:
        'Deletes a file, symlink (not what it points to) or empty directory in your container. A directory with contents is ' +
        'deleted only with `recursive: true`, everything in it included. The data dir /data itself cannot be deleted.',
      inputSchema: {
        path: FilePath,
        recursive: z.boolean().optional().describe('Delete a directory with everything in it (default false: only an empty one).'),
      },
      annotations: { destructiveHint: true, idempotentHint: false },
    },
    tool('delete_file', async (args: { path: string; recursive?: boolean | undefined }) => {
      await deps.files.remove(botId, args.path, { recursive: args.recursive === true });
      return { content: [{ type: 'text', text: `deleted ${args.path}` }] };
    }),
  );

  server.registerTool(
    'move_file',
    {
      title: 'Move or rename a file or directory',
      description:
        'Moves or renames a file or directory in your container, making missing parent directories of the destination. An ' +
        'existing destination is replaced only with `overwrite: true` (a directory only by a directory, and only when empty).',
      inputSchema: {
        from: FilePath.describe('What to move.'),
        to: FilePath.describe('Its new path (the full path, not a directory to move it into).'),
        overwrite: z.boolean().optional().describe('Replace an existing destination (default false).'),
      },
      outputSchema: FileInfo.shape,
      annotations: { destructiveHint: true },
    },
    tool('move_file', async (args: { from: string; to: string; overwrite?: boolean | undefined }) => {
      const moved = await deps.files.move(botId, args);
      return { content: [{ type: 'text', text: `moved ${args.from} to ${moved.path}` }], structuredContent: moved };
    }),
  );

  server.registerTool(
    'make_directory',
    {
      title: 'Make a directory',
      description: 'Makes a directory in your container, with any missing parents; a directory that exists already is fine.',
      inputSchema: { path: FilePath },
      outputSchema: FileInfo.shape,
      annotations: { destructiveHint: false, idempotentHint: true },
    },
    tool('make_directory', async (args: { path: string }) => {
      const made = await deps.files.makeDirectory(botId, args.path);
      return { content: [{ type: 'text', text: `${made.path} is a directory (mode ${made.mode})` }], structuredContent: made };
    }),
  );

  server.registerTool(
    'list_files',
    {
      title: 'List a directory',
      description:
        'Lists a directory in your container: each entry’s type, mode, size, modification time, name and, for a symlink, its ' +
        `target. At most about ${MODEL_OUTPUT_BYTES / 1024} KiB of lines are shown; use glob to find files in a large tree.`,
      inputSchema: { path: FilePath.optional().describe('The directory (default: the data dir /data).') },
      outputSchema: { path: z.string(), entries: z.number().int().describe('entries in the listing'), shown: z.number().int(), truncated: z.boolean().describe('not every entry is shown') },
      annotations: { readOnlyHint: true },
    },
    tool('list_files', async (args: { path?: string | undefined }) => {
      const read = await deps.files.read(botId, args.path ?? '.');
      if (read.kind !== 'directory') {
        await read.cancel();
        throw new AppError('validation_failed', { reason: `${read.path} is a file, not a directory; read it with read_file` });
      }
      const lines: string[] = [];
      let size = 0;
      for (const entry of read.entries) {
        const line = formatEntry(entry);
        if (size + line.length + 1 > MODEL_OUTPUT_BYTES) break;
        lines.push(line);
        size += line.length + 1;
      }
      const truncated = read.truncated || lines.length < read.entries.length;
      const head = `${read.path}: ${read.entries.length}${read.truncated ? '+' : ''} entries${truncated ? `, ${lines.length} shown (use glob to narrow it down)` : ''}`;
      return {
        content: [{ type: 'text', text: [head, ...lines].join('\n') }],
        structuredContent: { path: read.path, entries: read.entries.length, shown: lines.length, truncated },
      };
    }),
  );

  server.registerTool(
    'glob',
    {
      title: 'Find files by pattern',
      description:
        'Finds files and directories under a directory of your container whose path (relative to it) matches a glob pattern: ' +
        '`*` and `?` within one path segment, `**` across any number of them, `[a-z]` classes and `{ts,tsx}` alternatives; dot ' +
        `files included, symlinks not followed. Answers the matching paths sorted, at most \`limit\` (default ${GLOB_DEFAULT_LIMIT}, ` +
        `at most ${GLOB_MAX_LIMIT}); a note says when there were more. Example: pattern "**/*.ts", path "/data/src".`,
      inputSchema: {
        pattern: z.string().min(1).max(1024).describe('The glob pattern, relative to `path`, e.g. "**/*.py" or "src/*.{js,ts}".'),
        path: FilePath.optional().describe('The directory to search (default: the data dir /data).'),
        limit: z.number().int().min(1).max(GLOB_MAX_LIMIT).optional().describe(`Most paths to answer (default ${GLOB_DEFAULT_LIMIT}).`),
      },
      outputSchema: { path: z.string(), count: z.number().int().describe('paths answered'), truncated: z.boolean().describe('there were more matches, or the walk was cut short') },
      annotations: { readOnlyHint: true },
    },
    tool('glob', async (args: { pattern: string; path?: string | undefined; limit?: number | undefined }, ctx) => {
      ctx.progress('searching');
      const found = await deps.files.glob(botId, args.path ?? '.', args.pattern, { limit: args.limit ?? GLOB_DEFAULT_LIMIT, signal: ctx.signal });
      const head =
        found.matches.length === 0
          ? `no paths under ${found.path} match ${args.pattern}`
          : `${found.matches.length} paths under ${found.path} match ${args.pattern}${found.truncated ? ' (more not shown: narrow the pattern or raise limit)' : ''}`;
      return {
        content: [{ type: 'text', text: [head, ...found.matches].join('\n') }],
        structuredContent: { path: found.path, count: found.matches.length, truncated: found.truncated },
      };
    }),
  );

  // Every tool is registered now, and the list never changes while a client is connected: say so.
  server.server.registerCapabilities({ tools: { listChanged: false } });
  withBerthCodes(server);
  return server;
}

/**
 * Failures the SDK answers itself before a tool runs (arguments that fail the input schema, an
 * unknown tool; McpError -32602) or after (a result that fails its output schema) get Berth's code
 * in front too, `validation_failed` or `internal`, like every other tool error. The SDK makes them
 * in one method, replaced here on this instance; should a later SDK drop it, its own text stays.
 */
function withBerthCodes(server: McpServer): void {
  const target = server as unknown as { createToolError?: (message: string) => CallToolResult };
  if (typeof target.createToolError !== 'function') return;
  target.createToolError = (message: string) => {
    const invalid = message.startsWith(`MCP error ${ErrorCode.InvalidParams}:`);
    return toolError({ code: invalid ? 'validation_failed' : 'internal', message: message.replace(/^MCP error -?\d+: /, '') });
  };
}

/** A tool error: Berth's code first in the text, the whole payload in `_meta` for programs. */
function toolError(payload: { code: string; message: string; details?: unknown }): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: `${payload.code}: ${payload.message}` }], _meta: { 'berth/error': payload } };
}

/** Characters of a task's command a line shows: it names the task, the agent wrote the rest. */
const TASK_COMMAND_SHOWN = 200;

function formatTaskLine(t: Task): string {
  const full = typeof t.command === 'string' ? t.command : t.command.join(' ');
  const command = full.length > TASK_COMMAND_SHOWN ? `${full.slice(0, TASK_COMMAND_SHOWN)}…` : full;
  const end = t.status === 'running' ? '' : ` exit ${t.exitCode ?? '-'}${t.timedOut ? ' (timed out)' : ''}`;
  return `${t.id}  ${t.status}${end}  started ${t.startedAt}  ${command}`;
}

function formatTask(t: Task): string {
  const lines = [formatTaskLine(t)];
  if (t.finishedAt) lines.push(`finished ${t.finishedAt}`);
  const o = t.output;
  if (o) {
    lines.push(`output so far: ${o.stdoutBytes} bytes of stdout, ${o.stderrBytes} of stderr (read any part with read_task_output)`);
    for (const [name, text, encoding, bytes] of [['stdout', o.stdout, o.stdoutEncoding, o.stdoutBytes], ['stderr', o.stderr, o.stderrEncoding, o.stderrBytes]] as const) {
      if (!text) continue;
      const whole = encoding === 'utf8' ? Buffer.byteLength(text) >= bytes : Buffer.from(text, 'base64').length >= bytes;
      lines.push(`--- ${whole ? name : `end of ${name}`}${encoding === 'base64' ? ' (base64: not UTF-8)' : ''} ---`, text.endsWith('\n') ? text.slice(0, -1) : text);
    }
  }
  return lines.join('\n');
}

function formatEntry(e: FileEntry): string {
  const name = e.type === 'directory' ? `${e.name}/` : e.name;
  return `${e.type.padEnd(9)} ${e.mode} ${String(e.size).padStart(10)} ${e.mtime}  ${name}${e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : ''}`;
}

/** An AsyncIterable of one chunk: what write() takes. */
async function* oneChunk(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}
