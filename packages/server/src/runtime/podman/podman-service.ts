import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { childEnv } from '../../config/child-env.js';
import { AppError } from '../../errors.js';
import { PodmanClient } from './podman-client.js';

/** The part of a pino logger this module uses. */
export interface ServiceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PodmanService {
  /**
   * True when the service is Berth's own (`stop` ends it): started by this call, or started by an
   * earlier Berth process that died without stopping it (found through the pid file).
   */
  readonly started: boolean;
  readonly socketPath: string;
  /** The service's current process id when it is Berth's own; null otherwise. */
  readonly pid: number | null;
  /** Times a supervised service was restarted after it died. */
  readonly restarts: number;
  /** Stops the service if it is Berth's own (and its supervision); a no-op otherwise. */
  stop(): Promise<void>;
}

export interface EnsurePodmanServiceOptions {
  socketPath: string;
  logger?: ServiceLogger;
  /** How long to wait for a service we start to answer; default 15 s. */
  timeoutMs?: number;
  /** Where the service's output goes; default `podman-service.log` beside the socket. */
  logFile?: string;
  /** The podman binary; default `podman` from PATH. */
  podmanPath?: string;
  /** Restart our own service when it dies (with backoff) until `stop`. */
  supervise?: boolean;
}

/**
 * Who runs the service on a socket, kept beside it so that a Berth killed with SIGKILL can be
 * followed by one that recognises the service as its own instead of taking it for an outside one.
 */
interface PidRecord {
  servicePid: number;
  ownerPid: number;
  socketPath: string;
}

const RESTART_BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000];
/** A service that ran this long before dying starts its backoff afresh. */
const STABLE_MS = 60_000;
/** How often an adopted service (not our child, so no exit event) is checked for life. */
const ADOPTED_POLL_MS = 1_000;

/** The pid file of the service on `socketPath`. */
export function pidFileOf(socketPath: string): string {
  return join(dirname(socketPath), 'podman-service.json');
}

/**
 * Uses the Podman API socket if it answers; otherwise starts `podman system service` on it and
 * waits until it answers. The returned handle stops only a service that is Berth's own; a service
 * Berth did not start (the system socket) is never killed.
 */
export async function ensurePodmanService(options: EnsurePodmanServiceOptions): Promise<PodmanService> {
  const { socketPath, logger } = options;
  const pidFile = pidFileOf(socketPath);
  if (await answers(socketPath, 2_000)) {
    const orphan = ownOrphan(pidFile, socketPath);
    if (orphan === null) {
      logger?.info({ socketPath }, 'using the running Podman service');
      return { started: false, socketPath, pid: null, restarts: 0, stop: () => Promise.resolve() };
    }
    logger?.warn({ socketPath, pid: orphan }, 'taking back the Podman service an earlier Berth started and left running');
    const service = new OwnService(options, pidFile);
    service.adopt(orphan);
    return service;
  }
  // Our own earlier service that no longer answers (wedged): it is ours to end before starting anew.
  const wedged = ownOrphan(pidFile, socketPath);
  if (wedged !== null) {
    logger?.warn({ socketPath, pid: wedged }, 'killing the Podman service an earlier Berth started, which no longer answers');
    signal(wedged, 'SIGKILL');
  }
  const service = new OwnService(options, pidFile);
  await service.start();
  service.supervising = options.supervise === true;
  return service;
}

/** A `podman system service` that is Berth's own: started here, or adopted from a dead Berth. */
class OwnService implements PodmanService {
  readonly started = true;
  readonly socketPath: string;
  restarts = 0;
  /** Set once the first start succeeded: only then does a death mean a restart. */
  supervising = false;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private adoptedPid: number | null = null;
  private startedAt = 0;
  private failures = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped: Promise<void> | null = null;
  private readonly logFile: string;

  constructor(
    private readonly options: EnsurePodmanServiceOptions,
    private readonly pidFile: string,
  ) {
    this.socketPath = options.socketPath;
    this.logFile = options.logFile ?? join(dirname(options.socketPath), 'podman-service.log');
  }

  get pid(): number | null {
    return this.adoptedPid ?? this.child?.pid ?? null;
  }

  /** Starts the service and waits until it answers; throws `runtime_unavailable` when it does not. */
  async start(): Promise<void> {
    const { socketPath, logger } = this.options;
    mkdirSync(dirname(socketPath), { recursive: true });
    // A socket file nobody answers on is left from a dead service; podman would refuse to bind it.
    if (exists(socketPath)) rmSync(socketPath, { force: true });

    const out = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.podmanPath ?? 'podman', ['system', 'service', '--time=0', `unix://${socketPath}`], {
        stdio: ['ignore', out, out],
        // The admin token stays in Berth: the engine (and what it runs) has no use for it.
        env: childEnv(),
      });
    } finally {
      closeSync(out);
    }
    // Do not keep the event loop alive for it; `stop()` ends it.
    child.unref();
    this.child = child;
    this.adoptedPid = null;
    this.startedAt = Date.now();

    // Filled in by the child's events (an object, so the loop below re-reads it).
    const fate: { exit: { code: number | null; signal: NodeJS.Signals | null } | null; error: Error | null } = { exit: null, error: null };
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        fate.exit = { code, signal };
        resolve();
        this.onDeath({ code, signal });
      });
      child.once('error', (err) => {
        fate.error = err;
        resolve();
      });
    });
    if (child.pid !== undefined) writePidRecord(this.pidFile, { servicePid: child.pid, ownerPid: process.pid, socketPath });

    const timeoutMs = this.options.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    logger?.info({ socketPath, pid: child.pid, logFile: this.logFile }, 'starting podman system service');
    for (;;) {
      if (fate.error || fate.exit) {
        const why = fate.error ? fate.error.message : `exited with ${JSON.stringify(fate.exit)}`;
        throw new AppError('runtime_unavailable', { reason: `podman system service could not start (${why}); see ${this.logFile}: ${tail(this.logFile)}` }, {
          cause: fate.error ?? undefined,
        });
      }
      if (await answers(socketPath, 1_000)) break;
      if (Date.now() > deadline) {
        await this.kill();
        throw new AppError('runtime_unavailable', { reason: `podman system service did not answer on ${socketPath} within ${timeoutMs} ms; see ${this.logFile}: ${tail(this.logFile)}` });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    logger?.info({ socketPath, pid: child.pid }, 'podman system service is answering');
  }

  /** Takes over a service an earlier Berth started; watched by polling, as it is not our child. */
  adopt(pid: number): void {
    this.adoptedPid = pid;
    this.startedAt = Date.now();
    writePidRecord(this.pidFile, { servicePid: pid, ownerPid: process.pid, socketPath: this.socketPath });
    if (!this.options.supervise) return;
    this.supervising = true;
    const poll = () => {
      if (this.stopping || this.adoptedPid !== pid) return;
      if (alive(pid)) {
        this.timer = setTimeout(poll, ADOPTED_POLL_MS).unref();
        return;
      }
      this.onDeath({ code: null, signal: null });
    };
    this.timer = setTimeout(poll, ADOPTED_POLL_MS).unref();
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      if (this.timer) clearTimeout(this.timer);
      await this.kill();
      rmSync(this.socketPath, { force: true });
      rmSync(this.pidFile, { force: true });
      this.options.logger?.info({ socketPath: this.socketPath }, 'stopped podman system service');
    })();
    return this.stopped;
  }

  private onDeath(how: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.stopping || !this.supervising) return;
    if (Date.now() - this.startedAt > STABLE_MS) this.failures = 0;
    const delay = RESTART_BACKOFF_MS[Math.min(this.failures, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
    this.failures++;
    this.options.logger?.warn({ socketPath: this.socketPath, pid: this.pid, ...how, restartInMs: delay }, 'podman system service died; restarting it');
    this.timer = setTimeout(() => void this.restart(), delay).unref();
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.start();
      this.restarts++;
      this.options.logger?.info({ socketPath: this.socketPath, pid: this.pid, restarts: this.restarts }, 'podman system service restarted');
    } catch (err) {
      this.options.logger?.warn({ err, socketPath: this.socketPath }, 'podman system service could not be restarted');
      // A service that ran and died schedules the next attempt by its exit; one that never ran has no exit.
      if (this.child?.pid === undefined) this.onDeath({ code: null, signal: null });
    }
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  private async kill(): Promise<void> {
    if (this.adoptedPid !== null) {
      const pid = this.adoptedPid;
      if (!signal(pid, 'SIGTERM')) return;
      for (let waited = 0; alive(pid); waited += 100) {
        if (waited >= 5_000) {
          signal(pid, 'SIGKILL');
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return;
    }
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/**
 * The pid of a service on `socketPath` that a Berth process started and left behind when it died;
 * null when there is none (no record, the recording Berth still runs, or the pid is no longer that
 * service).
 */
function ownOrphan(pidFile: string, socketPath: string): number | null {
  let record: PidRecord;
  try {
    record = JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord;
  } catch {
    return null;
  }
  if (record.socketPath !== socketPath || !Number.isInteger(record.servicePid) || !Number.isInteger(record.ownerPid)) return null;
  // Recorded by this process, or by another Berth (or test run) that still runs: not an orphan.
  if (record.ownerPid === process.pid || alive(record.ownerPid)) return null;
  // Guards against a reused pid: it must still be podman's service on this very socket.
  const cmdline = readCmdline(record.servicePid);
  if (!cmdline.includes('system') || !cmdline.includes('service') || !cmdline.includes(`unix://${socketPath}`)) return null;
  return record.servicePid;
}

function writePidRecord(file: string, record: PidRecord): void {
  writeFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still "exists" for kill(0) but is dead for us.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function answers(socketPath: string, timeoutMs: number): Promise<boolean> {
  if (!exists(socketPath)) return false;
  const client = new PodmanClient({ socketPath });
  try {
    const { status } = await client.json({ path: '/_ping', timeoutMs });
    return status === 200;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-500).trim();
  } catch {
    return '';
  }
}
