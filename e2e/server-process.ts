import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_MAIN = path.join(ROOT, 'packages/server/dist/main.js');
export const CLI_MAIN = path.join(ROOT, 'packages/cli/dist/main.js');

export interface ServerProcess {
  url: string;
  token: string;
  home: string;
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs the built server as its own process, the way `npm start` does, on a free port. `token: null`
 * gives it no BERTH_ADMIN_TOKEN: it uses (or generates) BERTH_HOME/admin-token, read back once it answers.
 */
export async function startServer(options: { home?: string; token?: string | null; env?: Record<string, string>; port?: number } = {}): Promise<ServerProcess> {
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-'));
  let token = options.token === null ? '' : (options.token ?? `berth_e2e_${randomBytes(16).toString('hex')}`);
  const inherited = { ...process.env };
  delete inherited.BERTH_ADMIN_TOKEN;
  // A given port lets a restarted server answer where its clients still are.
  const port = options.port ?? (await freePort());
  let output = '';
  const child = spawn(process.execPath, [SERVER_MAIN], {
    env: {
      ...inherited,
      BERTH_HOME: home,
      BERTH_PORT: String(port),
      BERTH_HOST: '127.0.0.1',
      ...(token && { BERTH_ADMIN_TOKEN: token }),
      BERTH_DEFAULT_IMAGE: 'localhost/berth/test:busybox',
      BERTH_LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not answer within 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!token) token = fs.readFileSync(path.join(home, 'admin-token'), 'utf8').trim();
  return {
    url,
    token,
    home,
    child,
    output: () => output,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

const execFileAsync = promisify(execFile);

/** Runs the built CLI against the server with its admin token; a non-zero exit rejects (with stdout and stderr). */
export function runCli(server: ServerProcess, args: string[]) {
  return execFileAsync(process.execPath, [CLI_MAIN, '--url', server.url, ...args], { env: { ...process.env, BERTH_TOKEN: server.token }, maxBuffer: 64 * 1024 * 1024 });
}

/** A port free on 127.0.0.1 when asked (nothing listens there until someone binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
