import { setTimeout as sleep } from 'node:timers/promises';
import type { Task, TaskStatus } from '@berth/contract';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContainerState, RuntimeDriver } from '../runtime/driver.js';
import type { BotRow, Store } from '../store/store.js';
import { TaskStore, type TaskRow } from '../store/task-store.js';
import { containerName } from '../core/labels.js';
import type { ExecRequest, ExecService } from './exec-service.js';
import { mustBeRunning } from './exec-service.js';
import { newId, now } from '../core/ids.js';
import { HelperOutput } from '../core/helper-output.js';
import { encodeBytes } from '../core/output-encoding.js';
import { KILL_SCRIPT, LAUNCH_SCRIPT, STATUS_SCRIPT, TAIL_SCRIPT, READ_OUTPUT_SCRIPT, TASK_ROOT, parseOutputRead, parseStatus, parseTail, type TaskProbe } from './task-scripts.js';

export interface TaskServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  exec: ExecService;
  logger: Logger;
}

/** Default bytes of each stream a task's output tail shows. */
const DEFAULT_TAIL_BYTES = 64 * 1024;
const MAX_TAIL_BYTES = 1024 * 1024;
/** Output of a task script beyond what it is meant to print (nothing, a line or two). */
const MAX_SCRIPT_OUTPUT = 64 * 1024;
/** What STATUS_SCRIPT prints of one task: a few lines, two of them /proc stat lines (about 1 KiB each at most). */
const MAX_STATUS_PER_TASK = 8 * 1024;
/** Longest pause between two looks at a task being waited for. */
const WAIT_LOOK_MS = 1_000;
/** How long a kill waits to see the task's end before answering. */
const KILL_SETTLE_MS = 5_000;

/**
 * Background tasks: commands started detached inside the bot's container, with their output and exit
 * status written to files there (task-scripts.ts), recorded in the database, and read back from the
 * container whenever they are looked at. They outlive the client and the Berth server; they end with
 * the container. Status is what the container shows, never assumed: a task is `running` while the
 * process waiting for it is alive, `exited`/`killed` once its exit status is written, and `lost`
 * when the container it ran in stopped or was replaced without its end being recorded.
 */
export class TaskService {
  private readonly tasks: TaskStore;

  constructor(private readonly deps: TaskServiceDeps) {
    this.tasks = new TaskStore(deps.store.db);
  }

  async start(idOrName: string, req: ExecRequest): Promise<Task> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.inPlace(bot, () => this.startIn(bot, req));
  }

  private async startIn(bot: BotRow, req: ExecRequest): Promise<Task> {
    const cmd = this.deps.exec.prepare(req);
    const state = await this.deps.driver.inspectContainer(containerName(bot.id));
    mustBeRunning(state, bot);
    const row: TaskRow = {
      id: newId('task'),
      bot_id: bot.id,
      container_id: state.id,
      command: JSON.stringify(req.command),
      cwd: cmd.cwd,
      status: 'running',
      exit_code: null,
      timed_out: 0,
      kill_requested: 0,
      started_at: now(),
      finished_at: null,
    };
    // Recorded first: a task is never running in a container without Berth knowing of it.
    await this.tasks.insert(row);
    const timeout = req.timeoutSeconds === undefined ? 0 : Math.max(1, Math.ceil(req.timeoutSeconds));
    try {
      const session = await this.deps.driver.execStream(row.container_id, {
        command: ['/bin/sh', '-c', LAUNCH_SCRIPT, 'berth-launch', taskDir(row.id), String(timeout), cmd.stdin ? '1' : '0', ...cmd.argv],
        cwd: cmd.cwd,
        ...(cmd.env && { env: cmd.env }),
        stdin: cmd.stdin !== undefined,
      });
      if (cmd.stdin) {
        const data = cmd.stdin;
        void session.write(data).finally(() => session.end()).catch(() => undefined);
      }
      // The launcher prints nothing; what a replaced program prints instead is bounded.
      const out = new HelperOutput(session.output, 'the task launcher');
      try {
        await out.end(MAX_SCRIPT_OUTPUT);
      } catch (err) {
        await session.kill();
        throw err;
      }
      const code = await session.exitCode;
      if (code !== 0) {
        throw new AppError('internal', { reason: `the background task could not be started in the container (exit ${code}): ${out.stderrText().trim().slice(-2000)}` });
      }
    } catch (err) {
      await this.tasks.delete(row.id);
      throw err;
    }
    this.deps.logger.info({ botId: bot.id, taskId: row.id }, 'background task started');
    return toTask(row);
  }

  /** The bot's tasks, newest first, with the status of those still recorded as running read from the container. */
  async list(idOrName: string): Promise<Task[]> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const observed = await this.inPlace(bot, () => this.observe(bot));
    return (await this.tasks.listForBot(bot.id)).map((row) => toTask(observed.get(row.id) ?? row));
  }

  /** One task, with the tail of its output (the last `tailBytes` of each stream) when the container can be read. */
  async get(idOrName: string, taskId: string, options: { tailBytes?: number } = {}): Promise<Task> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.inPlace(bot, () => this.getIn(bot, taskId, options));
  }

  private async getIn(bot: BotRow, taskId: string, options: { tailBytes?: number }): Promise<Task> {
    const row = await this.mustFind(bot, taskId);
    const observed = (await this.observe(bot, [row])).get(row.id) ?? row;
    const task = toTask(observed);
    const output = await this.tail(row, Math.min(options.tailBytes ?? DEFAULT_TAIL_BYTES, MAX_TAIL_BYTES));
    return output ? { ...task, output } : task;
  }

  /**
   * Waits until the task is no longer running, or `timeoutMs` passed, or `signal` aborts, looking at
   * it in the container every second at most; answers the task as last seen (without output). The
   * bot's place for engine work is taken for each look only, never while waiting.
   */
  async wait(idOrName: string, taskId: string, options: { timeoutMs: number; signal?: AbortSignal; onLook?: (task: Task) => void }): Promise<Task> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const deadline = Date.now() + options.timeoutMs;
    let row = await this.mustFind(bot, taskId);
    for (let delay = 100; ; delay = Math.min(delay * 2, WAIT_LOOK_MS)) {
      const current = row;
      row = await this.inPlace(bot, async () => (await this.observe(bot, [current])).get(current.id) ?? current);
      if (row.status !== 'running') return toTask(row);
      options.onLook?.(toTask(row));
      const left = deadline - Date.now();
      if (left <= 0) return toTask(row);
      try {
        await sleep(Math.min(delay, left), undefined, options.signal && { signal: options.signal });
      } catch {
        return toTask(row);
      }
    }
  }

  /**
   * Up to `length` bytes of one of the task's output streams from `offset`, with the stream's size
   * so far. The output lives in the container the task ran in: `container_not_running` while it is
   * stopped, `file_not_found` once that container was replaced.
   */
  async readOutput(
    idOrName: string,
    taskId: string,
    options: { stream: 'stdout' | 'stderr'; offset: number; length: number },
  ): Promise<{ stream: 'stdout' | 'stderr'; offset: number; size: number; data: Buffer }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.inPlace(bot, async () => {
      const row = await this.mustFind(bot, taskId);
      let r;
      try {
        r = await this.deps.driver.exec(row.container_id, ['/bin/sh', '-c', READ_OUTPUT_SCRIPT, 'berth-output', taskDir(row.id), options.stream, String(options.offset), String(options.length)], {
          maxOutputBytes: options.length + MAX_SCRIPT_OUTPUT,
        });
      } catch (err) {
        if (isAppError(err, 'container_not_found')) throw outputGone(row.id, err);
        throw err;
      }
      if (r.exitCode === 3) throw outputGone(row.id);
      const read = r.exitCode === 0 ? parseOutputRead(r.stdout, options.length) : null;
      if (!read) throw new AppError('internal', { reason: `unexpected answer from the container while reading the output of task ${row.id}` });
      return { stream: options.stream, offset: options.offset, size: read.size, data: read.data };
    });
  }

  /** Kills the task's whole process group and answers the task once its end is seen (or after a few seconds). */
  async kill(idOrName: string, taskId: string): Promise<Task> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.inPlace(bot, () => this.killIn(bot, taskId));
  }

  private async killIn(bot: BotRow, taskId: string): Promise<Task> {
    let row = await this.mustFind(bot, taskId);
    row = (await this.observe(bot, [row])).get(row.id) ?? row;
    if (row.status !== 'running') return toTask(row);
    await this.tasks.update(row.id, { kill_requested: 1 });
    row = { ...row, kill_requested: 1 };
    await this.deps.driver.exec(row.container_id, ['/bin/sh', '-c', KILL_SCRIPT, 'berth-kill', taskDir(row.id)], { maxOutputBytes: MAX_SCRIPT_OUTPUT });
    const deadline = Date.now() + KILL_SETTLE_MS;
    for (let delay = 20; row.status === 'running' && Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
      await sleep(delay);
      row = (await this.observe(bot, [row])).get(row.id) ?? row;
    }
    this.deps.logger.info({ botId: bot.id, taskId: row.id, status: row.status }, 'background task killed');
    return toTask(row);
  }

  /**
   * Tasks still running in the bot's container, as the caller just inspected it (for the container
   * info); 0 without asking the container when none are recorded.
   */
  async countRunning(bot: BotRow, container: ContainerState): Promise<number> {
    const rows = await this.tasks.running(bot.id);
    if (rows.length === 0) return 0;
    // Every place taken (the bot's own calls flooding it): the recorded count, rather than waiting behind them.
    const release = this.deps.exec.tryPlace(bot.id);
    if (!release) return rows.length;
    try {
      const observed = await this.observe(bot, rows, container);
      return [...observed.values()].filter((r) => r.status === 'running').length;
    } catch (err) {
      this.deps.logger.warn({ err, botId: bot.id }, 'could not read task status from the container');
      return (await this.tasks.running(bot.id)).length;
    } finally {
      release();
    }
  }

  /** At start-up: re-finds every task recorded as running and records what became of it meanwhile. */
  async reconcileAll(): Promise<void> {
    const byBot = new Map<string, TaskRow[]>();
    for (const row of await this.tasks.running()) {
      const rows = byBot.get(row.bot_id);
      if (rows) rows.push(row);
      else byBot.set(row.bot_id, [row]);
    }
    for (const [botId, rows] of byBot) {
      const bot = await this.deps.store.findBot(botId);
      if (!bot) continue;
      try {
        const observed = await this.observe(bot, rows);
        const still = [...observed.values()].filter((r) => r.status === 'running').length;
        this.deps.logger.info({ botId, tasks: rows.length, running: still }, 'background tasks re-found');
      } catch (err) {
        this.deps.logger.warn({ err, botId }, 'could not reconcile background tasks');
      }
    }
  }

  /** Runs engine work of the bot's in one of its places, shared with exec and files (bot-work-limiter.ts). */
  private inPlace<T>(bot: BotRow, work: () => Promise<T>): Promise<T> {
    return this.deps.exec.inPlace(bot.id, work);
  }

  private async mustFind(bot: BotRow, taskId: string): Promise<TaskRow> {
    const row = await this.tasks.find(bot.id, taskId);
    if (!row) throw new AppError('task_not_found', { bot: bot.name, task: taskId });
    return row;
  }

  /**
   * Reads the state of the given running rows (default: all the bot's running rows) from the
   * container and records the ones that ended. Rows of a stopped container are answered `lost`
   * without recording it: they may have ended (and said so) before the stop, which the next look
   * after a start will read. `inspected`: the container as the caller just read it, to save a look.
   */
  private async observe(bot: BotRow, rows?: TaskRow[], inspected?: ContainerState): Promise<Map<string, TaskRow>> {
    const running = (rows ?? (await this.tasks.running(bot.id))).filter((r) => r.status === 'running');
    const out = new Map<string, TaskRow>();
    if (running.length === 0) return out;
    const state = inspected ?? (await this.deps.driver.inspectContainer(containerName(bot.id)));
    // Paused (a snapshot being taken): its processes are frozen, not gone; ask again later.
    if (state?.state === 'paused') return new Map(running.map((r) => [r.id, r]));
    const live = state && state.state === 'running' ? state : null;
    const probeable: TaskRow[] = [];
    for (const row of running) {
      if (!state || state.id !== row.container_id) {
        // The container it ran in is gone (deleted or recreated): so is the task, with its files.
        out.set(row.id, await this.finish(row, { status: 'lost', exitCode: null, finishedAt: null, timedOut: false }));
      } else if (!live) {
        out.set(row.id, { ...row, status: 'lost' });
      } else {
        probeable.push(row);
      }
    }
    if (!live || probeable.length === 0) return out;

    const r = await this.deps.driver.exec(live.id, ['/bin/sh', '-c', STATUS_SCRIPT, 'berth-status', TASK_ROOT, ...probeable.map((p) => p.id)], {
      maxOutputBytes: MAX_SCRIPT_OUTPUT + probeable.length * MAX_STATUS_PER_TASK,
    });
    const probes = new Map(parseStatus(r.stdout.toString('utf8')).map((p) => [p.id, p]));
    // Started before the container's current start: its processes ended at that stop.
    const restartedSince = (row: TaskRow) => live.startedAt !== null && Date.parse(live.startedAt) > Date.parse(row.started_at);
    for (const row of probeable) {
      const probe: TaskProbe | undefined = probes.get(row.id);
      if (probe?.exit) {
        const killed = row.kill_requested === 1 || probe.timedOut;
        out.set(row.id, await this.finish(row, { status: killed ? 'killed' : 'exited', exitCode: probe.exit.code, finishedAt: probe.exit.finishedAt, timedOut: probe.timedOut }));
      } else if (!probe || probe.missing || !probe.monitorAlive || restartedSince(row)) {
        out.set(row.id, await this.finish(row, { status: 'lost', exitCode: null, finishedAt: null, timedOut: probe?.timedOut ?? false }));
      } else {
        out.set(row.id, row);
      }
    }
    return out;
  }

  private async finish(row: TaskRow, end: { status: TaskStatus; exitCode: number | null; finishedAt: string | null; timedOut: boolean }): Promise<TaskRow> {
    const patch = { status: end.status, exit_code: end.exitCode, finished_at: end.finishedAt ?? now(), timed_out: end.timedOut ? 1 : 0 };
    await this.tasks.update(row.id, patch);
    this.deps.logger.info({ botId: row.bot_id, taskId: row.id, status: end.status, exitCode: end.exitCode }, 'background task ended');
    return { ...row, ...patch };
  }

  private async tail(row: TaskRow, bytes: number): Promise<Task['output'] | undefined> {
    try {
      const r = await this.deps.driver.exec(row.container_id, ['/bin/sh', '-c', TAIL_SCRIPT, 'berth-tail', taskDir(row.id), String(bytes)], {
        maxOutputBytes: tailOutputLimit(bytes),
      });
      if (r.exitCode !== 0) return undefined;
      const t = parseTail(r.stdout.toString('utf8'), bytes);
      const out = encodeBytes(t.stdout);
      const err = encodeBytes(t.stderr);
      return { stdout: out.text, stderr: err.text, stdoutEncoding: out.encoding, stderrEncoding: err.encoding, stdoutBytes: t.stdoutBytes, stderrBytes: t.stderrBytes };
    } catch (err) {
      // A stopped or removed container has no output to show; the task itself still answers.
      if (isAppError(err, 'container_not_running') || isAppError(err, 'container_not_found')) return undefined;
      throw err;
    }
  }
}

/** What TAIL_SCRIPT prints for `bytes` of each stream: base64 in lines of 76 characters (57 bytes), and a few short lines. */
export function tailOutputLimit(bytes: number): number {
  return MAX_SCRIPT_OUTPUT + 2 * Math.ceil(bytes / 57) * 77;
}

function outputGone(taskId: string, cause?: unknown): AppError {
  return new AppError('file_not_found', { path: `${taskDir(taskId)} (the task's output is gone with the container it ran in)` }, { details: { taskId }, ...(cause !== undefined && { cause }) });
}

function taskDir(taskId: string): string {
  return `${TASK_ROOT}/${taskId}`;
}

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    botId: row.bot_id,
    command: JSON.parse(row.command) as string | string[],
    cwd: row.cwd,
    status: row.status as TaskStatus,
    exitCode: row.exit_code,
    timedOut: row.timed_out === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
