import { isUtf8 } from 'node:buffer';
import { z } from '@hono/zod-openapi';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DirectoryListing, Env, ExecResult, FileEditResult, FileInfo, Task, type FileEntry } from '@berth/contract';
import type { ExecRequest, ExecService, TaskService } from '../exec/index.js';
import { type FilesService, parseMode } from '../files/index.js';
import { errorPayload } from '../core/operations.js';
import { incompleteUtf8Tail } from '../core/output-encoding.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface BotMcpServerDeps {
  version: string;
  logger: Logger;
  exec: Pick<ExecService, 'run'>;
  tasks: Pick<TaskService, 'start' | 'list' | 'get' | 'kill'>;
  files: Pick<FilesService, 'read' | 'write' | 'edit'>;
}

/** A command that runs longer is killed unless the call asks for more; long jobs belong in start_task. */
const DEFAULT_RUN_TIMEOUT_SECONDS = 120;
const MAX_RUN_TIMEOUT_SECONDS = 3600;
/** Most bytes read_file answers at once: a tool result goes into the agent's context whole. */
const MAX_READ_BYTES = 1024 * 1024;

const Command = z
  .union([z.string().min(1), z.array(z.string()).min(1)])
  .describe('A shell command line, run with /bin/sh -c (pipes, &&, redirections work), or an argv array run as is.');
const Cwd = z.string().optional().describe('Working directory in the container; relative paths are under the data dir /data, the default.');

/**
 * The MCP server of one bot: its tools act on that bot's container only, through the same use cases
 * as the REST API (exec, tasks, files), so they answer the same way and fail with the same codes. A
 * failure is a tool error (`isError`) whose text starts with Berth's error code; `_meta["berth/error"]`
 * carries `{code, message, details}` for programs.
 */
export function createBotMcpServer(botId: string, deps: BotMcpServerDeps): McpServer {
  const server = new McpServer(
    { name: 'berth', version: deps.version },
    {
      instructions:
        'These tools act on your own computer: a persistent Linux container. Files you keep under /data survive restarts and ' +
        'recreations of the container; the rest of the filesystem survives restarts only. Use run_command for commands that ' +
        'finish within a couple of minutes and start_task for longer ones (servers, builds, downloads), then get_task to follow them.',
    },
  );
  const log = deps.logger.child({ botId, api: 'mcp' });

  /** Runs a tool body; any failure becomes a tool error with Berth's code, so the agent can react to it. */
  const tool =
    <A>(name: string, body: (args: A, signal: AbortSignal) => Promise<CallToolResult>) =>
    async (args: A, extra: { signal: AbortSignal }): Promise<CallToolResult> => {
      try {
        return await body(args, extra.signal);
      } catch (err) {
        const payload = errorPayload(err);
        if (payload.code === 'internal') log.error({ err, tool: name }, 'MCP tool failed');
        return { isError: true, content: [{ type: 'text', text: `${payload.code}: ${payload.message}` }], _meta: { 'berth/error': payload } };
      }
    };

  // --- commands ----------------------------------------------------------------------------------

  server.registerTool(
    'run_command',
    {
      title: 'Run a command',
      description:
        'Runs a command in your container and answers when it ends, with its exit code, stdout and stderr (each capped; ' +
        '`truncated` says when; output that is not UTF-8 comes base64-encoded, as the *Encoding fields say). The command ' +
        `and everything it started are killed after timeoutSeconds (default ${DEFAULT_RUN_TIMEOUT_SECONDS}); use start_task for longer jobs.`,
      inputSchema: {
        command: Command,
        cwd: Cwd,
        env: Env.optional().describe('Environment variables added for this command.'),
        stdin: z.string().optional().describe('Text sent to the command’s standard input, which is then closed.'),
        timeoutSeconds: z.number().positive().max(MAX_RUN_TIMEOUT_SECONDS).optional().describe(`Seconds before the command is killed (default ${DEFAULT_RUN_TIMEOUT_SECONDS}).`),
      },
      outputSchema: ExecResult.shape,
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    tool('run_command', async (args: ExecRequest, signal) => {
      const result = await deps.exec.run(botId, { ...args, timeoutSeconds: args.timeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS }, { signal });
      return { content: [{ type: 'text', text: formatExecResult(result) }], structuredContent: result };
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
        'Follow it with get_task (status, exit code, end of its output).',
      inputSchema: {
        command: Command,
        cwd: Cwd,
        env: Env.optional().describe('Environment variables added for this task.'),
        timeoutSeconds: z.number().positive().optional().describe('Seconds before the task is killed (default: no limit).'),
      },
      outputSchema: { task: Task },
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
      description: 'Lists your background tasks, newest first, with their status (running, exited, killed or lost) and exit codes.',
      inputSchema: {},
      outputSchema: { tasks: z.array(Task) },
      annotations: { readOnlyHint: true },
    },
    tool('list_tasks', async () => {
      const tasks = await deps.tasks.list(botId);
      const text = tasks.length === 0 ? 'no tasks' : tasks.map(formatTaskLine).join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { tasks } };
    }),
  );

  const TaskId = z.string().min(1).max(128).describe('The task’s id, as start_task or list_tasks gave it.');

  server.registerTool(
    'get_task',
    {
      title: 'Get a background task',
      description: 'A background task’s status, exit code, start and end times, and the last part of its stdout and stderr.',
      inputSchema: { taskId: TaskId, tailBytes: z.number().int().min(0).max(1024 * 1024).optional().describe('Bytes of the end of each stream to show (default 65536).') },
      outputSchema: { task: Task },
      annotations: { readOnlyHint: true },
    },
    tool('get_task', async (args: { taskId: string; tailBytes?: number | undefined }) => {
      const task = await deps.tasks.get(botId, args.taskId, { ...(args.tailBytes !== undefined && { tailBytes: args.tailBytes }) });
      return { content: [{ type: 'text', text: formatTask(task) }], structuredContent: { task } };
    }),
  );

  server.registerTool(
    'stop_task',
    {
      title: 'Stop a background task',
      description: 'Kills a background task and everything it started; answers the task once it has ended. A task that already ended is answered as it is.',
      inputSchema: { taskId: TaskId },
      outputSchema: { task: Task },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    tool('stop_task', async (args: { taskId: string }) => {
      const task = await deps.tasks.kill(botId, args.taskId);
      return { content: [{ type: 'text', text: formatTaskLine(task) }], structuredContent: { task } };
    }),
  );


  // --- files -------------------------------------------------------------------------------------

  const FilePath = z.string().min(1).max(4096).describe('A path in the container; relative paths are under the data dir /data.');

  server.registerTool(
    'read_file',
    {
      title: 'Read a file',
      description:
        `Reads a file in your container: UTF-8 text as it is, other bytes base64-encoded (\`encoding\` says which). At most ${MAX_READ_BYTES} bytes ` +
        'per call; `offset` and `length` read a part, and `truncated` says more follows. Directories are listed with list_files.',
      inputSchema: {
        path: FilePath,
        offset: z.number().int().min(0).optional().describe('First byte to read (default 0).'),
        length: z.number().int().min(0).max(MAX_READ_BYTES).optional().describe(`Bytes to read (default and most: ${MAX_READ_BYTES}).`),
      },
      outputSchema: {
        path: z.string(),
        size: z.number().int(),
        offset: z.number().int(),
        length: z.number().int(),
        truncated: z.boolean(),
        encoding: z.enum(['utf8', 'base64']),
        content: z.string(),
      },
      annotations: { readOnlyHint: true },
    },
    tool('read_file', async (args: { path: string; offset?: number | undefined; length?: number | undefined }) => {
      const offset = args.offset ?? 0;
      const read = await deps.files.read(botId, args.path, { offset, length: Math.min(args.length ?? MAX_READ_BYTES, MAX_READ_BYTES) });
      if (read.kind === 'directory') throw new AppError('validation_failed', { reason: `${read.path} is a directory; list it with list_files` });
      const chunks: Buffer[] = [];
      for await (const chunk of read.body) chunks.push(chunk);
      let bytes = Buffer.concat(chunks);
      // A read that stops inside a character ends before it, so text stays text.
      const more = read.offset + bytes.length < read.size;
      if (more) bytes = bytes.subarray(0, bytes.length - incompleteUtf8Tail(bytes));
      const encoding = isUtf8(bytes) ? 'utf8' : 'base64';
      const result = { path: read.path, size: read.size, offset: read.offset, length: bytes.length, truncated: read.offset + bytes.length < read.size, encoding, content: bytes.toString(encoding === 'utf8' ? 'utf8' : 'base64') } as const;
      const content: CallToolResult['content'] = [{ type: 'text', text: result.content }];
      if (result.truncated || offset > 0 || encoding === 'base64') {
        content.push({ type: 'text', text: `[${read.path}: bytes ${result.offset}-${result.offset + result.length} of ${result.size}${encoding === 'base64' ? ', base64-encoded: not UTF-8 text' : ''}${result.truncated ? '; read on with offset' : ''}]` });
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
        oldText: z.string().min(1).describe('The exact text to replace; it must occur exactly once.'),
        newText: z.string().describe('The text to put in its place.'),
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
    'list_files',
    {
      title: 'List a directory',
      description: 'Lists a directory in your container: each entry’s name, type, size, mode, modification time and, for a symlink, its target.',
      inputSchema: { path: FilePath.optional().describe('The directory (default: the data dir /data).') },
      outputSchema: DirectoryListing.shape,
      annotations: { readOnlyHint: true },
    },
    tool('list_files', async (args: { path?: string | undefined }) => {
      const read = await deps.files.read(botId, args.path ?? '.');
      if (read.kind !== 'directory') {
        await read.cancel();
        throw new AppError('validation_failed', { reason: `${read.path} is a file, not a directory; read it with read_file` });
      }
      const listing = { path: read.path, entries: read.entries, truncated: read.truncated };
      const lines = [`${listing.path}: ${listing.entries.length} entries${listing.truncated ? ' (more not shown)' : ''}`, ...listing.entries.map(formatEntry)];
      return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: listing };
    }),
  );

  return server;
}

function formatExecResult(r: ExecResult): string {
  const lines = [`exit code ${r.exitCode}${r.timedOut ? ' (killed: timed out)' : ''}, ${r.durationMs} ms${r.truncated ? ', output truncated' : ''}`];
  for (const [name, text, encoding] of [['stdout', r.stdout, r.stdoutEncoding], ['stderr', r.stderr, r.stderrEncoding]] as const) {
    if (text) lines.push(`--- ${name}${encoding === 'base64' ? ' (base64: not UTF-8)' : ''} ---`, text.endsWith('\n') ? text.slice(0, -1) : text);
  }
  return lines.join('\n');
}

function formatTaskLine(t: Task): string {
  const command = typeof t.command === 'string' ? t.command : t.command.join(' ');
  const end = t.status === 'running' ? '' : ` exit ${t.exitCode ?? '-'}${t.timedOut ? ' (timed out)' : ''}`;
  return `${t.id}  ${t.status}${end}  started ${t.startedAt}  ${command}`;
}

function formatTask(t: Task): string {
  const lines = [formatTaskLine(t)];
  if (t.finishedAt) lines.push(`finished ${t.finishedAt}`);
  for (const [name, text, encoding] of [['stdout', t.output?.stdout, t.output?.stdoutEncoding], ['stderr', t.output?.stderr, t.output?.stderrEncoding]] as const) {
    if (text) lines.push(`--- end of ${name}${encoding === 'base64' ? ' (base64: not UTF-8)' : ''} ---`, text.endsWith('\n') ? text.slice(0, -1) : text);
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
