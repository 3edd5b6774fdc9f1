import { z } from 'zod';
import { Env } from './schemas.js';

/** Longest `stdin` an exec body takes, in characters of its encoding (base64 makes 3 bytes 4). */
export const MAX_EXEC_STDIN_CHARS = 16 * 1024 * 1024;

/**
 * The bot's tools inside its container (SPEC §3 "The bot's tools"): exec, background tasks, files and
 * the terminal's control messages.
 */

/** How a piece of output or file text is carried in JSON: as UTF-8 text when it is valid UTF-8, else base64. */
export const DataEncoding = z.enum(['utf8', 'base64']);
export type DataEncoding = z.infer<typeof DataEncoding>;

// --- exec -----------------------------------------------------------------------------------------

const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;

export const ExecBody = z
  .object({
    command: z
      .union([z.string().min(1).max(131_072), z.array(z.string().max(131_072)).min(1).max(4096)])
      .describe('an argv array, or a string run by /bin/sh -c'),
    cwd: z.string().min(1).max(4096).optional().describe('working directory inside the container; relative to the data dir (default: the data dir)'),
    env: Env.optional().describe('added to the container’s environment for this command'),
    timeoutSeconds: z.number().positive().max(MAX_TIMEOUT_SECONDS).optional().describe('the command’s whole process group is killed when it runs longer'),
    stdin: z.string().max(MAX_EXEC_STDIN_CHARS).optional().describe('sent to the command’s standard input, which is then closed'),
    stdinEncoding: DataEncoding.optional().describe('how `stdin` is encoded (default utf8)'),
    background: z.boolean().optional().describe('run as a background task: answer 202 {task} at once'),
  })
  .strict()
  .meta({ id: 'ExecBody' });
export type ExecBody = z.input<typeof ExecBody>;

export const ExecResult = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  stdoutEncoding: DataEncoding,
  stderrEncoding: DataEncoding,
  /** Bytes the command wrote to each stream, including any beyond the cap. */
  stdoutBytes: z.number().int(),
  stderrBytes: z.number().int(),
  durationMs: z.number().int(),
  /** True when a stream wrote more than the output cap and only its start is here. */
  truncated: z.boolean(),
  /** True when `timeoutSeconds` ran out and the command's process group was killed. */
  timedOut: z.boolean(),
}).meta({ id: 'ExecResult' });
export type ExecResult = z.infer<typeof ExecResult>;

/** Payloads of the SSE events of a streamed exec: `stdout`, `stderr` (as they come), then `exit`. */
export const ExecOutputEvent = z.object({ data: z.string(), encoding: DataEncoding });
export type ExecOutputEvent = z.infer<typeof ExecOutputEvent>;
export const ExecExitEvent = z.object({ exitCode: z.number().int(), durationMs: z.number().int(), timedOut: z.boolean() });
export type ExecExitEvent = z.infer<typeof ExecExitEvent>;

export type ExecStreamEvent =
  | { event: 'stdout' | 'stderr'; data: ExecOutputEvent }
  | { event: 'exit'; data: ExecExitEvent }
  | { event: 'error'; data: { code: string; message: string; details?: unknown } };

// --- background tasks ----------------------------------------------------------------------------

export const TaskStatus = z.enum(['running', 'exited', 'killed', 'lost']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TaskOutputTail = z.object({
  stdout: z.string(),
  stderr: z.string(),
  stdoutEncoding: DataEncoding,
  stderrEncoding: DataEncoding,
  /** Total bytes written to each stream so far; the tail is the last part of them. */
  stdoutBytes: z.number().int(),
  stderrBytes: z.number().int(),
}).meta({ id: 'TaskOutputTail' });
export type TaskOutputTail = z.infer<typeof TaskOutputTail>;

export const Task = z.object({
  id: z.string(),
  botId: z.string(),
  command: z.union([z.string(), z.array(z.string())]),
  cwd: z.string(),
  /**
   * `running`; `exited` (it ended by itself; `exitCode` says how, 128+n for a signal); `killed`
   * (stopped through the API or by its timeout); `lost` (the container stopped or was replaced
   * while it ran, so its end was never seen).
   */
  status: TaskStatus,
  exitCode: z.number().int().nullable(),
  timedOut: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** The last part of its output; only on `GET /bots/{bot}/tasks/{task}`. */
  output: TaskOutputTail.optional(),
}).meta({ id: 'Task' });
export type Task = z.infer<typeof Task>;

export const TaskAccepted = z.object({ task: Task }).meta({ id: 'TaskAccepted' });
export const TaskList = z.object({ tasks: z.array(Task) }).meta({ id: 'TaskList' });
export type TaskList = z.infer<typeof TaskList>;

// --- files ---------------------------------------------------------------------------------------

export const FileType = z.enum(['file', 'directory', 'symlink', 'other']);
export type FileType = z.infer<typeof FileType>;

export const FileEntry = z.object({
  name: z.string(),
  type: FileType,
  size: z.number().int(),
  /** Permission bits in octal, e.g. "0644". */
  mode: z.string(),
  mtime: z.string(),
  /** For a symlink: where it points (never followed). */
  linkTarget: z.string().optional(),
}).meta({ id: 'FileEntry' });
export type FileEntry = z.infer<typeof FileEntry>;

export const DirectoryListing = z.object({
  path: z.string(),
  entries: z.array(FileEntry),
  /** True when the directory has more entries than one listing returns. */
  truncated: z.boolean(),
}).meta({ id: 'DirectoryListing' });
export type DirectoryListing = z.infer<typeof DirectoryListing>;

/** What a write, edit or move leaves at the path. */
export const FileInfo = z.object({ path: z.string(), type: FileType, size: z.number().int(), mode: z.string(), mtime: z.string() }).meta({ id: 'FileInfo' });
export type FileInfo = z.infer<typeof FileInfo>;

export const FileEditBody = z
  .object({
    path: z.string().min(1).max(4096),
    oldText: z.string().min(1).max(8 * 1024 * 1024).describe('exact text that must occur exactly once in the file'),
    newText: z.string().max(8 * 1024 * 1024),
  })
  .strict()
  .meta({ id: 'FileEditBody' });
export type FileEditBody = z.input<typeof FileEditBody>;

export const FileEditResult = FileInfo.extend({ replacements: z.literal(1) }).meta({ id: 'FileEditResult' });
export type FileEditResult = z.infer<typeof FileEditResult>;

export const FileMoveBody = z
  .object({
    from: z.string().min(1).max(4096),
    to: z.string().min(1).max(4096),
    overwrite: z.boolean().optional().describe('replace an existing file at `to` (default false)'),
  })
  .strict()
  .meta({ id: 'FileMoveBody' });
export type FileMoveBody = z.input<typeof FileMoveBody>;

/** Makes a directory with any missing parents (`mkdir -p`). */
export const FileMkdirBody = z.object({ path: z.string().min(1).max(4096) }).strict().meta({ id: 'FileMkdirBody' });
export type FileMkdirBody = z.input<typeof FileMkdirBody>;

/** The paths under `path` that match a glob pattern, sorted. */
export const FileGlobResult = z
  .object({
    path: z.string().describe('the directory searched'),
    matches: z.array(z.string()).describe('the matching paths (absolute, in the container), sorted'),
    truncated: z.boolean().describe('there were more matches than `limit`, or the walk was cut short'),
  })
  .meta({ id: 'FileGlobResult' });
export type FileGlobResult = z.infer<typeof FileGlobResult>;

// --- terminal ------------------------------------------------------------------------------------

/** Control messages of the terminal WebSocket (JSON text frames); terminal bytes travel as binary frames. */
export const TerminalClientMessage = z.object({
  type: z.literal('resize'),
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});
export type TerminalClientMessage = z.infer<typeof TerminalClientMessage>;

export const TerminalServerMessage = z.object({
  type: z.literal('exit'),
  /** The shell's exit code; null when the session was closed by Berth (idle) before it ended. */
  code: z.number().int().nullable(),
  reason: z.string().optional(),
});
export type TerminalServerMessage = z.infer<typeof TerminalServerMessage>;

/** The bytes of exec output or a task's output tail, whichever encoding the server chose (browser-safe). */
export function decodeData(text: string, encoding: DataEncoding): Uint8Array {
  if (encoding === 'utf8') return new TextEncoder().encode(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
