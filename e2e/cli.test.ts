import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthClient } from '@berth/sdk';
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
    const bot = JSON.parse((await berth('--json', 'bots', 'create', name, '--image', 'localhost/berth/test:busybox', '--disk-limit-mb', '64')).stdout) as { diskLimitMb: number | null };
    expect(bot.diskLimitMb).toBe(64);
    const created = await berth('container', 'create', name);
    expect(created.stdout).toMatch(/\[image\].*\n(.*\n)*\[create\].*\n\[start\].*\n\[ready\].*\ndone\n$/);

    const info = JSON.parse((await berth('--json', 'container', 'info', name)).stdout) as { status: string; name: string };
    expect(info.status).toBe('running');

    // The disk limit, as a person reads it and as JSON; then lifted with `none`, which applies at once.
    const limited = JSON.parse((await berth('--json', 'container', 'info', name)).stdout) as { diskLimit: { mb: number | null; enforcement: string } };
    expect(limited.diskLimit).toMatchObject({ mb: 64, enforcement: 'soft' });
    expect((await berth('container', 'info', name)).stdout).toMatch(/^diskLimit\s+limit 64 MiB, .*soft enforcement \(measured every 30 s\)$/m);
    const lifted = JSON.parse((await berth('--json', 'bots', 'set', name, '--disk-limit-mb', 'none')).stdout) as { diskLimitMb: number | null };
    expect(lifted.diskLimitMb).toBeNull();
    expect((await berth('container', 'info', name)).stdout).toMatch(/^diskLimit\s+no limit, .*not enforced$/m);
    const bad = (await berth('bots', 'set', name, '--disk-limit-mb', '1.5').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('a whole number of MiB, or "none"');

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
