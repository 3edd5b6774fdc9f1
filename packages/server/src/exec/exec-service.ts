import type { ExecBody, ExecResult, ExecStreamEvent } from '@berth/contract';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ExecSession, RuntimeDriver } from '../runtime/driver.js';
import type { BotRow, Store } from '../store/store.js';
import type { BotWorkLimiter } from '../core/bot-work-limiter.js';
import { containerPath } from '../core/container-path.js';
import { containerName } from '../core/labels.js';
import { errorPayload } from '../core/operations.js';
import { CappedBuffer, ChunkEncoder, decodeText } from '../core/output-encoding.js';

export type ExecRequest = Omit<z.output<typeof ExecBody>, 'background'>;

export interface ExecServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  logger: Logger;
  containerDataPath: string;
  /** Bytes of each stream a buffered exec keeps (BERTH_EXEC_OUTPUT_LIMIT). */
  outputLimit: number;
  /** Per-bot places for engine work, shared with files and tasks; none: unlimited. */
  limiter?: BotWorkLimiter;
}

/** A command to run, as the driver takes it. */
export interface PreparedCommand {
  argv: string[];
  cwd: string;
  env: Record<string, string> | undefined;
  stdin: Buffer | undefined;
}

interface Started {
  session: ExecSession;
  startedAt: number;
  timedOut: () => boolean;
  /** Stops the timeout timer; call once the command has ended. */
  done: () => void;
}

/**
 * The exec API: a command in the bot's running container, answered whole (output capped per stream)
 * or streamed. A timeout, or the client going away, kills the command's whole process group.
 */
export class ExecService {
  constructor(private readonly deps: ExecServiceDeps) {}

  /** Runs a command to its end and answers its exit code and output (each stream capped). */
  async run(idOrName: string, req: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.inPlace(bot.id, () => this.runIn(bot, req, options.signal), options.signal);
  }

  private async runIn(bot: BotRow, req: ExecRequest, signal: AbortSignal | undefined): Promise<ExecResult> {
    const started = await this.start(bot, req, signal);
    const out = new CappedBuffer(this.deps.outputLimit);
    const err = new CappedBuffer(this.deps.outputLimit);
    let ended = false;
    try {
      for await (const chunk of started.session.output) (chunk.stream === 'stdout' ? out : err).push(chunk.data);
      const exitCode = await started.session.exitCode;
      const stdout = out.result();
      const stderr = err.result();
      ended = true;
      return {
        exitCode,
        stdout: stdout.text,
        stderr: stderr.text,
        stdoutEncoding: stdout.encoding,
        stderrEncoding: stderr.encoding,
        stdoutBytes: stdout.bytes,
        stderrBytes: stderr.bytes,
        durationMs: Math.round(performance.now() - started.startedAt),
        truncated: stdout.truncated || stderr.truncated,
        timedOut: started.timedOut(),
      };
    } finally {
      started.done();
      if (!ended) await started.session.kill();
    }
  }

  /**
   * Starts a command and answers its events: `stdout`/`stderr` as they come, then `exit` (or
   * `error`). Failures to start (no bot, container stopped, ...) are thrown before any event.
   */
  async stream(idOrName: string, req: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ExecStreamEvent>> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const release = await this.place(bot.id, options.signal);
    let started: Started;
    try {
      started = await this.start(bot, req, options.signal);
    } catch (err) {
      release();
      throw err;
    }
    // The place is held until the command's stream ends, whether or not its events are read.
    void started.session.exitCode.catch(() => undefined).finally(release);
    const log = this.deps.logger;
    return (async function* events(): AsyncGenerator<ExecStreamEvent> {
      const encoders = { stdout: new ChunkEncoder(), stderr: new ChunkEncoder() };
      try {
        for await (const chunk of started.session.output) {
          const data = encoders[chunk.stream].push(chunk.data);
          if (data) yield { event: chunk.stream, data };
        }
        for (const stream of ['stdout', 'stderr'] as const) {
          const data = encoders[stream].flush();
          if (data) yield { event: stream, data };
        }
        const exitCode = await started.session.exitCode;
        yield { event: 'exit', data: { exitCode, durationMs: Math.round(performance.now() - started.startedAt), timedOut: started.timedOut() } };
      } catch (err) {
        const payload = errorPayload(err);
        if (payload.code === 'internal') log.error({ err, botId: bot.id }, 'exec stream failed');
        yield { event: 'error', data: payload };
      } finally {
        started.done();
        // A client that stops reading early leaves nothing running behind it.
        await started.session.kill();
        release();
      }
    })();
  }

  /** Runs `work` in one of the bot's places for engine work (bot-work-limiter.ts), released when it settles. */
  inPlace<T>(botId: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.deps.limiter ? this.deps.limiter.run(botId, work, signal) : work();
  }

  /** One of the bot's places if one is free now (its release), else null. */
  tryPlace(botId: string): (() => void) | null {
    return this.deps.limiter ? this.deps.limiter.tryAcquire(botId) : () => undefined;
  }

  /** Waits for one of the bot's places for engine work (bot-work-limiter.ts); answers its release. */
  place(botId: string, signal?: AbortSignal): Promise<() => void> {
    return this.deps.limiter ? this.deps.limiter.acquire(botId, signal) : Promise.resolve(() => undefined);
  }

  /** Argv, working directory, env and stdin of a request, checked; shared with background tasks. */
  prepare(req: ExecRequest): PreparedCommand {
    const argv = typeof req.command === 'string' ? ['/bin/sh', '-c', req.command] : req.command;
    const cwd = containerPath(req.cwd ?? this.deps.containerDataPath, this.deps.containerDataPath);
    const stdin = req.stdin === undefined ? undefined : decodeText(req.stdin, req.stdinEncoding);
    return { argv, cwd, env: req.env, stdin };
  }

  private async start(bot: BotRow, req: ExecRequest, signal: AbortSignal | undefined): Promise<Started> {
    const cmd = this.prepare(req);
    const startedAt = performance.now();
    const session = await this.deps.driver.execStream(containerName(bot.id), {
      command: cmd.argv,
      cwd: cmd.cwd,
      ...(cmd.env && { env: cmd.env }),
      stdin: cmd.stdin !== undefined,
      ...(signal && { signal }),
    });
    if (cmd.stdin !== undefined) {
      const data = cmd.stdin;
      // Written alongside the output being read: a command that answers while it reads cannot stall us.
      void (async () => {
        try {
          await session.write(data);
        } finally {
          session.end();
        }
      })().catch((err: unknown) => this.deps.logger.debug({ err, botId: bot.id }, 'exec stdin not fully written; the command ended first'));
    }
    let timedOut = false;
    const timer =
      req.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            session.kill().catch((err: unknown) => this.deps.logger.warn({ err, botId: bot.id }, 'killing a timed-out exec failed'));
          }, req.timeoutSeconds * 1000);
    return { session, startedAt, timedOut: () => timedOut, done: () => clearTimeout(timer) };
  }
}

/** The container a bot's tools reach, or an error saying why there is none to reach. */
export function mustBeRunning<S extends { state: string }>(state: S | null, bot: BotRow): asserts state is S {
  if (!state) throw new AppError('container_not_found', { target: `bot "${bot.name}"`, reason: 'create one first' });
  if (state.state !== 'running') throw new AppError('container_not_running', { target: `bot "${bot.name}"`, reason: 'start it first' });
}
