import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthClient } from '@berth/contract';
import { CLI_MAIN, runCli, startServer, type ServerProcess } from './server-process.js';

const run = promisify(execFile);

/** The built `berth` CLI against the built server on real Podman. */
describe('berth CLI', () => {
  let server: ServerProcess;
  const name = `cli-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    if (!server) return;
    const client = new BerthClient({ baseUrl: server.url, token: server.token });
    await client.deleteBot(name).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
  });

  function berth(...args: string[]) {
    return runCli(server, args);
  }

  it('creates a bot and its container with progress, shows, stops and deletes it', async () => {
    await berth('bots', 'create', name, '--image', 'localhost/berth/test:busybox');
    const created = await berth('container', 'create', name);
    expect(created.stdout).toMatch(/\[image\].*\n(.*\n)*\[create\].*\n\[start\].*\n\[ready\].*\ndone\n$/);

    const info = JSON.parse((await berth('--json', 'container', 'info', name)).stdout) as { status: string; name: string };
    expect(info.status).toBe('running');

    const stopped = JSON.parse((await berth('--json', 'container', 'stop', name)).stdout) as { status: string };
    expect(stopped.status).toBe('stopped');

    const list = (await berth('bots', 'list')).stdout;
    expect(list).toMatch(new RegExp(`^${name}\\s+stopped\\s+v1\\s+localhost/berth/test:busybox$`, 'm'));

    await berth('bots', 'delete', name);
    expect((await berth('bots', 'list')).stdout).not.toContain(name);
  });

  it('fails with the server’s message and a non-zero exit', async () => {
    const err = (await berth('bots', 'show', 'no-such-bot').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('bot_not_found');
  });

  it('refuses a wrong token', async () => {
    const err = (await run(process.execPath, [CLI_MAIN, '--url', server.url, '--token', 'wrong', 'bots', 'list']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('unauthorized');
  });
});
