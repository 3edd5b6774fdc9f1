import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Berth } from '@berth/sdk';
import { freePort, runCli, startServer, type ServerProcess } from './server-process.js';

/** The built CLI following a container create while the built server is stopped and started again on the same port. */
describe('the CLI across a server restart', () => {
  let server: ServerProcess | undefined;
  let home: string | undefined;
  const name = `clirestart-${randomBytes(3).toString('hex')}`;

  afterAll(async () => {
    if (server) {
      await new Berth({ baseUrl: server.url, token: server.token }).bots
        .get(name)
        .delete()
        .catch(() => undefined);
      await server.kill();
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('`berth container create` reattaches and exits 0 with the end the restarted server recorded', async () => {
    const port = await freePort();
    const token = `berth_e2e_${randomBytes(16).toString('hex')}`;
    // The create is held just after its commit, so the restarted server finishes it as succeeded.
    server = await startServer({ port, token, env: { BERTH_FAILPOINTS: 'create.committed:pause' } });
    home = server.home;
    const berth = new Berth({ baseUrl: server.url, token });
    await berth.bots.create({ name });

    const creating = runCli(server, ['container', 'create', name]);
    creating.catch(() => undefined);
    while (!server.output().includes('failpoint create.committed: pause')) await new Promise((r) => setTimeout(r, 50));

    // A graceful stop: the CLI's stream ends, and for a while nothing listens on the port.
    await server.kill('SIGTERM');
    expect(await fetch(`${server.url}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');
    server = await startServer({ port, token, home });

    const { stdout, stderr } = await creating; // rejects on a non-zero exit
    expect(stderr).toContain(`berth: lost the connection to ${server.url}; reattaching to operation `);
    expect(stdout.match(/^done$/gm)).toEqual(['done']);
    expect(stdout).toMatch(/done\n$/);
    const box = await berth.bots.get(name).container.info();
    expect(box.status).toBe('running');
  });
});
