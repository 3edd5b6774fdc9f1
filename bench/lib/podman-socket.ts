import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EngineClient } from './engine.js';
import { sleep } from './timing.js';

export const SYSTEM_PODMAN_SOCKET = '/run/podman/podman.sock';

export interface EngineSocket {
  socketPath: string;
  /** True when the harness started `podman system service` itself (and `stop` ends it). */
  startedByBench: boolean;
  stop(): Promise<void>;
}

/**
 * The system Podman socket if it answers; otherwise a `podman system service` of our own on a socket
 * in `tmpDir`, stopped by `stop()`.
 */
export async function ensureEngineSocket(options: {
  tmpDir: string;
  log: (msg: string) => void;
  /** The socket to use when it answers; default the system one. */
  preferred?: string;
  timeoutMs?: number;
}): Promise<EngineSocket> {
  const preferred = options.preferred ?? SYSTEM_PODMAN_SOCKET;
  if (await answers(preferred)) return { socketPath: preferred, startedByBench: false, stop: () => Promise.resolve() };
  const socketPath = path.join(options.tmpDir, 'podman.sock');
  const logFile = path.join(options.tmpDir, 'podman-service.log');
  options.log(`${preferred} does not answer; starting podman system service on ${socketPath}`);
  const out = openSync(logFile, 'a');
  const child = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    await Promise.race([exit, sleep(10_000)]);
    if (!exited) child.kill('SIGKILL');
    await Promise.race([exit, sleep(2_000)]);
  };

  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (exited) break;
    if (await answers(socketPath)) return { socketPath, startedByBench: true, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`podman system service did not answer on ${socketPath}: ${tail(logFile)}`);
}

async function answers(socketPath: string): Promise<boolean> {
  const probe = new EngineClient(socketPath);
  try {
    return await probe.ping();
  } finally {
    probe.close();
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-10).join('\n') || '(empty log)';
  } catch {
    return '(no log)';
  }
}
