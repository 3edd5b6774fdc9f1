import type { ExecBody, ExecResult, ExecStreamEvent, Task } from '@berth/contract';
import { routes } from '@berth/contract';
import type { Transport } from './http.js';
import { payloadError } from './errors.js';
import { parseSse } from './sse.js';

/** A command: an argv array, a string run by `/bin/sh -c`, or the whole request (cwd, env, stdin, timeout). */
export type ExecInput = string | string[] | Omit<ExecBody, 'background'>;

function execBody(input: ExecInput, background: boolean): ExecBody {
  const body = typeof input === 'string' || Array.isArray(input) ? { command: input } : input;
  return { ...body, background };
}

/** Runs a command to its end and answers its exit code and output (each stream capped; see `truncated`). */
export function runExec(http: Transport, bot: string, input: ExecInput, options: { signal?: AbortSignal | undefined } = {}): Promise<ExecResult> {
  return http.json(routes.exec.run, { params: { bot }, body: execBody(input, false) }, { signal: options.signal });
}

/**
 * The `error` a streamed exec ends with when its stream stops before `exit` or `error` (the server
 * restarted, a proxy cut the connection): the client cannot know whether the command finished or with
 * what exit code, so it is Berth's failure (`internal`), marked `details.streamEnded`.
 */
export const STREAM_ENDED_ERROR = {
  code: 'internal',
  message: 'the exec stream ended before the command’s exit was known (the server restarted or the connection was cut); the command may have run in part or in full',
  details: { streamEnded: true },
} as const;

/**
 * A streamed exec's events as sent: `stdout`/`stderr` as the output comes, then `exit` or `error`
 * (yielded, not thrown). A stream that stops before either ends with `STREAM_ENDED_ERROR` as its `error`.
 */
export async function* rawExecStream(http: Transport, bot: string, input: ExecInput, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<ExecStreamEvent> {
  const res = await http.call(routes.exec.run, { params: { bot }, body: execBody(input, false) }, { accept: 'text/event-stream', signal: options.signal });
  try {
    if (res.body) {
      for await (const frame of parseSse(res.body)) {
        const ev = { event: frame.event, data: JSON.parse(frame.data) as never } as ExecStreamEvent;
        yield ev;
        if (ev.event === 'exit' || ev.event === 'error') return;
      }
    }
  } catch (err) {
    // fetch reports a body cut mid-way as a TypeError ("terminated"); the caller's abort is its own.
    if (!(err instanceof TypeError) || options.signal?.aborted) throw err;
  }
  yield { event: 'error', data: { ...STREAM_ENDED_ERROR, details: { ...STREAM_ENDED_ERROR.details } } };
}

/** `stdout`/`stderr` events as the output comes, then `exit`; Berth failing to run it throws. Aborting kills the command. */
export async function* execStream(http: Transport, bot: string, input: ExecInput, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<Exclude<ExecStreamEvent, { event: 'error' }>> {
  for await (const ev of rawExecStream(http, bot, input, options)) {
    if (ev.event === 'error') throw payloadError(ev.data);
    yield ev;
  }
}

/** A part of a task's output stream, as `bot.tasks.output` reads it. */
export interface TaskOutput {
  stream: 'stdout' | 'stderr';
  /** Where `data` starts in the stream. */
  offset: number;
  /** The stream's size so far (it grows while the task runs). */
  size: number;
  data: Uint8Array;
}

/** `bot.tasks`: background commands that outlive the client and the server's restarts. */
export class TasksGroup {
  constructor(
    private readonly http: Transport,
    private readonly bot: string,
  ) {}

  /** Starts a background task and answers it at once. */
  async start(input: ExecInput, options: { signal?: AbortSignal } = {}): Promise<Task> {
    return (await this.http.json<typeof routes.exec.run, { task: Task }>(routes.exec.run, { params: { bot: this.bot }, body: execBody(input, true) }, { signal: options.signal })).task;
  }

  async list(options: { signal?: AbortSignal } = {}): Promise<Task[]> {
    return (await this.http.json(routes.exec.listTasks, { params: { bot: this.bot } }, { signal: options.signal })).tasks;
  }

  /** A task with the last `tail` bytes (default 64 KiB) of each output stream. */
  get(task: string, options: { tail?: number; signal?: AbortSignal } = {}): Promise<Task> {
    return this.http.json(routes.exec.getTask, { params: { bot: this.bot, task }, query: { tail: options.tail } }, { signal: options.signal });
  }

  /** Kills the task's whole process group; answers the task once its end is seen. */
  kill(task: string, options: { signal?: AbortSignal } = {}): Promise<Task> {
    return this.http.json(routes.exec.killTask, { params: { bot: this.bot, task } }, { signal: options.signal });
  }

  /**
   * Waits up to `timeoutSeconds` (default 60, at most 600) for the task to end and answers it as `get`
   * does; a task still running then is answered as running (not an error). Aborting ends the wait only.
   */
  wait(task: string, options: { timeoutSeconds?: number | undefined; tail?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<Task> {
    return this.http.json(routes.exec.waitTask, { params: { bot: this.bot, task }, query: { timeoutSeconds: options.timeoutSeconds, tail: options.tail } }, { signal: options.signal });
  }

  /**
   * Up to `length` bytes (default and at most 1 MiB) of the task's stdout or stderr from `offset`, and
   * the stream's size so far: read on from `offset + data.length` while that is less than `size`.
   */
  async output(
    task: string,
    options: { stream?: 'stdout' | 'stderr' | undefined; offset?: number | undefined; length?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<TaskOutput> {
    const res = await this.http.call(
      routes.exec.readTaskOutput,
      { params: { bot: this.bot, task }, query: { stream: options.stream, offset: options.offset, length: options.length } },
      { accept: 'application/octet-stream', signal: options.signal },
    );
    const data = new Uint8Array(await res.arrayBuffer());
    return { stream: options.stream ?? 'stdout', offset: options.offset ?? 0, size: Number(res.headers.get('x-berth-output-size') ?? data.length), data };
  }
}
