import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { BerthClient } from '@berth/sdk';
import { sleep } from './timing.js';

export interface BerthServerOptions {
  /** The built server entry point (packages/server/dist/main.js). */
  main: string;
  /** BERTH_HOME: a fresh temp dir the harness removes afterwards. */
  home: string;
  socketPath: string;
  defaultImage: string;
  /** Where the server's stdout and stderr go. */
  logFile: string;
  startTimeoutMs?: number;
}

/** A Berth server running as a child process, with a client holding its admin token. */
export interface BerthServer {
  pid: number;
  baseUrl: string;
  token: string;
  client: BerthClient;
  /** True once the process has exited. */
  readonly exited: boolean;
  logTail(lines?: number): string;
  /** SIGTERM (Berth's graceful shutdown), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startBerthServer(options: BerthServerOptions): Promise<BerthServer> {
  if (!existsSync(options.main)) throw new Error(`${options.main} does not exist; build the server first (npm run build)`);
  const port = await freePort();
  // 32 characters from [A-Za-z0-9_-].
  const token = randomBytes(24).toString('base64url');
  const out = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [options.main], {
    env: {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: process.env.HOME ?? '/root',
      BERTH_HOME: options.home,
      BERTH_HOST: '127.0.0.1',
      BERTH_PORT: String(port),
      BERTH_ADMIN_TOKEN: token,
      BERTH_RUNTIME_SOCKET: options.socketPath,
      BERTH_LOG_LEVEL: 'warn',
      BERTH_DEFAULT_IMAGE: options.defaultImage,
    },
    stdio: ['ignore', out, out],
    // Its own process group: a Ctrl-C reaches only the harness, which deletes its bots through the
    // API before it stops the server.
    detached: true,
  });
  closeSync(out);
  if (child.pid === undefined) throw new Error('the Berth server could not be spawned');
  const pid = child.pid;

  let exited = false;
  let exitInfo = '';
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = signal ? `signal ${signal}` : `code ${String(code)}`;
      resolve();
    });
  });
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (timeoutMs = 15_000) => {
    if (exited) return;
    child.kill('SIGTERM');
    await Promise.race([exit, sleep(timeoutMs)]);
    if (!exited) {
      child.kill('SIGKILL');
      await Promise.race([exit, sleep(2_000)]);
    }
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`the Berth server exited (${exitInfo}) before answering /healthz:\n${logTail()}`);
    if (await healthy(baseUrl)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Berth server did not answer ${baseUrl}/healthz within ${options.startTimeoutMs ?? 30_000} ms:\n${logTail()}`);
    }
    await sleep(50);
  }

  return {
    pid,
    baseUrl,
    token,
    client: new BerthClient({ baseUrl, token }),
    get exited() {
      return exited;
    },
    logTail,
    stop,
  };
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
