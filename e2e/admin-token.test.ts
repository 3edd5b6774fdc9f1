import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, until } from '../packages/server/src/testing/wait.js';
import { SERVER_MAIN, startServer, type ServerProcess } from './server-process.js';

/**
 * The admin token stays where it belongs: in BERTH_HOME/admin-token and in Berth's own memory; not in
 * a log that captures stdout, and not in the environment of the Podman service Berth starts.
 */
describe('the admin token', () => {
  const homes: string[] = [];
  const servers: ServerProcess[] = [];
  const servicePids = new Set<number>();

  afterAll(async () => {
    for (const s of servers) await s.kill('SIGTERM');
    for (const pid of servicePids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
  });

  const newHome = () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-admin-'));
    homes.push(home);
    return home;
  };

  it('is not in the environment of the Podman service Berth starts', async () => {
    const home = newHome();
    const socket = path.join(home, 'engine', 'podman.sock');
    const token = `berth_e2e_env_${Date.now()}_0123456789`;
    const server = await startServer({ home, token, env: { BERTH_RUNTIME_SOCKET: socket } });
    servers.push(server);
    const { servicePid } = JSON.parse(fs.readFileSync(path.join(home, 'engine', 'podman-service.json'), 'utf8')) as { servicePid: number };
    servicePids.add(servicePid);
    expect((await fetch(`${server.url}/api/v1/bots`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const environ = fs.readFileSync(`/proc/${servicePid}/environ`, 'utf8');
    expect(environ).toContain(`BERTH_HOME=${home}`);
    expect(environ).not.toContain(token);
    expect(environ).not.toContain('BERTH_ADMIN_TOKEN');

    await server.kill('SIGTERM');
    await until('the service is stopped', () => !alive(servicePid));
  });

  it('is saved to BERTH_HOME/admin-token when generated, and only its path is printed to a stdout that is not a terminal', async () => {
    const home = newHome();
    const server = await startServer({ home, token: null });
    servers.push(server);
    const file = path.join(home, 'admin-token');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(server.token).toMatch(/^berth_admin_/);
    expect((await fetch(`${server.url}/api/v1/bots`, { headers: { authorization: `Bearer ${server.token}` } })).status).toBe(200);
    await until('the notice is printed', () => server.output().includes(file));
    expect(server.output()).not.toContain(server.token);
    await server.kill('SIGTERM');
  });

  it('is printed when stdout is a terminal', async () => {
    const home = newHome();
    // `script` runs the server on a pseudo-terminal; it listens on a free port and exits on its own.
    let output = '';
    const env: NodeJS.ProcessEnv = { ...process.env, BERTH_HOME: home, BERTH_PORT: '0', BERTH_HOST: '127.0.0.1', BERTH_DEFAULT_IMAGE: 'localhost/berth/test:busybox' };
    delete env.BERTH_ADMIN_TOKEN;
    const child = spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(SERVER_MAIN)}`, '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await until('the server prints a generated token', () => fs.existsSync(path.join(home, 'admin-token')) && output.includes('berth_admin_'), 60_000);
      expect(output).toContain(fs.readFileSync(path.join(home, 'admin-token'), 'utf8').trim());
    } finally {
      // The whole group: `script` and the server under it.
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      await until('the server has exited', () => child.exitCode !== null || child.signalCode !== null, 30_000);
    }
  });
});
