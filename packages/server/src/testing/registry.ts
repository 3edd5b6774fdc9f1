import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEST_REGISTRY_HOST = '127.0.0.1';
export const TEST_REGISTRY_PORT = 5000;
/** Marks the test registry insecure (plain HTTP) for Podman; the same file `scripts/setup.sh` writes. */
export const TEST_REGISTRY_CONF = '/etc/containers/registries.conf.d/50-berth-test-registry.conf';
const CONF_CONTENT = `[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "localhost:5000"
insecure = true
`;

export interface TestRegistry {
  /** `127.0.0.1:5000`: prefix of every reference pushed here. */
  url: string;
  /** True when this call started the registry (and `stop` ends it); false when one was already answering. */
  started: boolean;
  /** Pushes a local image to `<url>/<repoTag>` and returns that reference (it is not tagged locally). */
  pushImage(localRef: string, repoTag: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Writes the registries.conf drop-in that marks the test registry insecure, if it is missing.
 * A Podman service started before it was written does not see it (it must be restarted).
 */
export function ensureTestRegistryConfig(): { written: boolean } {
  if (existsSync(TEST_REGISTRY_CONF)) return { written: false };
  mkdirSync(dirname(TEST_REGISTRY_CONF), { recursive: true });
  writeFileSync(TEST_REGISTRY_CONF, CONF_CONTENT);
  return { written: true };
}

/**
 * A container registry on 127.0.0.1:5000 for real pulls in tests: Debian's `docker-registry` with
 * its storage in a temporary directory, reused instead if a registry already answers there.
 *
 * The registry listens on a unix socket and a small TCP proxy serves port 5000. The proxy holds
 * every connection's download once, for `stallMs`, after its first 256 KiB: on this loopback a
 * layer otherwise arrives faster than Podman's one-second progress interval, and a pull would never
 * report bytes part-way. Uploads (pushes) are not slowed.
 */
export async function startTestRegistry(options: { stallMs?: number } = {}): Promise<TestRegistry> {
  ensureTestRegistryConfig();
  const url = `${TEST_REGISTRY_HOST}:${TEST_REGISTRY_PORT}`;
  const pushImage = async (localRef: string, repoTag: string): Promise<string> => {
    const ref = `${url}/${repoTag}`;
    await run('podman', ['push', '--quiet', '--tls-verify=false', localRef, ref]);
    return ref;
  };

  if (await registryAnswers()) {
    return { url, started: false, pushImage, stop: () => Promise.resolve() };
  }

  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const socketPath = join(dir, 'registry.sock');
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  net: unix',
      `  addr: ${socketPath}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      '',
    ].join('\n'),
  );
  const logPath = join(dir, 'registry.log');
  const out = openSync(logPath, 'a');
  const child = spawn('/usr/bin/docker-registry', ['serve', configPath], { stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const cleanup = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await unixAnswers(socketPath))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-500) : '';
      await cleanup();
      throw new Error(`docker-registry did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let proxy: net.Server;
  try {
    proxy = await stallingProxy(socketPath, options.stallMs ?? 1_500);
  } catch (err) {
    await cleanup();
    throw new Error(`cannot serve the test registry on ${url} (is the port taken by something else?)`, { cause: err });
  }

  let stopped: Promise<void> | null = null;
  return {
    url,
    started: true,
    pushImage,
    stop: () => {
      stopped ??= (async () => {
        await new Promise<void>((resolve) => {
          proxy.close(() => resolve());
          proxy.emit('berth:destroy-all');
        });
        await cleanup();
      })();
      return stopped;
    },
  };
}

function stallingProxy(upstreamSocket: string, stallMs: number): Promise<net.Server> {
  const threshold = 256 * 1024;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamSocket);
    sockets.add(client).add(upstream);
    let sent = 0;
    let stalled = false;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!stalled && sent + chunk.length > threshold) {
        stalled = true;
        const cut = threshold - sent;
        sent += chunk.length;
        client.write(chunk.subarray(0, cut));
        upstream.pause();
        setTimeout(() => {
          if (client.destroyed) return;
          client.write(chunk.subarray(cut));
          upstream.resume();
        }, stallMs);
        return;
      }
      sent += chunk.length;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    upstream.on('error', close).on('close', close);
    client.on('error', close).on('close', close);
  });
  server.on('berth:destroy-all', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(TEST_REGISTRY_PORT, TEST_REGISTRY_HOST, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function registryAnswers(): Promise<boolean> {
  return answers({ host: TEST_REGISTRY_HOST, port: TEST_REGISTRY_PORT });
}

function unixAnswers(socketPath: string): Promise<boolean> {
  return existsSync(socketPath) ? answers({ socketPath }) : Promise.resolve(false);
}

/** A registry answers `GET /v2/` with 200 (or 401 when it wants credentials). */
function answers(target: { host: string; port: number } | { socketPath: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ ...target, path: '/v2/', timeout: 1_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Builds a runnable image — `base` plus a fresh layer of random bytes no engine has seen — pushes it
 * to the registry and removes it locally, so that creating a container from it must pull real bytes.
 */
export async function pushFreshRunnableImage(registry: TestRegistry, options: { base: string; repoTag: string; randomBytes?: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fresh-image-'));
  const local = `localhost/berth/fresh-${randomBytes(4).toString('hex')}:latest`;
  try {
    writeFileSync(join(dir, 'random.bin'), randomBytes(options.randomBytes ?? 3 * 1024 * 1024));
    writeFileSync(join(dir, 'Containerfile'), `FROM ${options.base}\nCOPY random.bin /random.bin\n`);
    await run('podman', ['build', '--quiet', '--pull=never', '--label', 'berth.test=true', '-t', local, dir]);
    const ref = await registry.pushImage(local, options.repoTag);
    await run('podman', ['rmi', '--force', ref]).catch(() => undefined);
    return ref;
  } finally {
    await run('podman', ['rmi', '--force', local]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
