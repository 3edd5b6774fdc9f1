import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppError } from '../../errors.js';
import { PodmanClient } from './podman-client.js';

/** The part of a pino logger this module uses. */
export interface ServiceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PodmanService {
  /** True when this call started the service (and `stop` will end it). */
  readonly started: boolean;
  readonly socketPath: string;
  /** Stops the service if we started it; a no-op otherwise. */
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
}

/**
 * Uses the Podman API socket if it answers; otherwise starts `podman system service` on it and
 * waits until it answers. The returned handle stops only a service this call started.
 */
export async function ensurePodmanService(options: EnsurePodmanServiceOptions): Promise<PodmanService> {
  const { socketPath, logger } = options;
  if (await answers(socketPath, 2_000)) {
    logger?.info({ socketPath }, 'using the running Podman service');
    return { started: false, socketPath, stop: () => Promise.resolve() };
  }

  mkdirSync(dirname(socketPath), { recursive: true });
  // A socket file nobody answers on is left from a dead service; podman would refuse to bind it.
  if (exists(socketPath)) rmSync(socketPath, { force: true });

  const logFile = options.logFile ?? join(dirname(socketPath), 'podman-service.log');
  const out = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.podmanPath ?? 'podman', ['system', 'service', '--time=0', `unix://${socketPath}`], {
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  // Do not keep the event loop alive for it; `stop()` ends it.
  child.unref();

  // Filled in by the child's events (an object, so the loop below re-reads it).
  const fate: { exit: { code: number | null; signal: NodeJS.Signals | null } | null; error: Error | null } = { exit: null, error: null };
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      fate.exit = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      fate.error = err;
      resolve();
    });
  });

  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  logger?.info({ socketPath, pid: child.pid, logFile }, 'starting podman system service');
  for (;;) {
    if (fate.error || fate.exit) {
      const why = fate.error ? fate.error.message : `exited with ${JSON.stringify(fate.exit)}`;
      throw new AppError('runtime_unavailable', `podman system service could not start (${why}); see ${logFile}: ${tail(logFile)}`, {
        cause: fate.error ?? undefined,
      });
    }
    if (await answers(socketPath, 1_000)) break;
    if (Date.now() > deadline) {
      await stopChild(child, exitPromise);
      throw new AppError('runtime_unavailable', `podman system service did not answer on ${socketPath} within ${timeoutMs} ms; see ${logFile}: ${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  logger?.info({ socketPath, pid: child.pid }, 'podman system service is answering');

  let stopped: Promise<void> | null = null;
  return {
    started: true,
    socketPath,
    stop: () => {
      stopped ??= (async () => {
        await stopChild(child, exitPromise);
        rmSync(socketPath, { force: true });
        logger?.info({ socketPath }, 'stopped podman system service');
      })();
      return stopped;
    },
  };
}

async function stopChild(child: ChildProcess, exitPromise: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
  if ((await Promise.race([exitPromise, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await exitPromise;
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
