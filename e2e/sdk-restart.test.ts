import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { OperationEvent } from '@berth/contract';
import { Berth } from '@berth/sdk';
import { freePort, startServer, type ServerProcess } from './server-process.js';

/** The SDK following a container create while the built server is stopped and started again on the same port. */
describe('the SDK across a server restart', () => {
  let server: ServerProcess | undefined;
  let home: string | undefined;
  const name = `restart-${randomBytes(3).toString('hex')}`;

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

  it('a create followed through the restart resolves with the container the restarted server reports', async () => {
    const port = await freePort();
    const token = `berth_e2e_${randomBytes(16).toString('hex')}`;
    // The create is held just after its commit, so the restarted server finishes it as succeeded.
    server = await startServer({ port, token, env: { BERTH_FAILPOINTS: 'create.committed:pause' } });
    home = server.home;
    const berth = new Berth({ baseUrl: server.url, token });
    const bot = await berth.bots.create({ name });

    const events: OperationEvent[] = [];
    const creating = bot.container.create({ onEvent: (ev) => events.push(ev) });
    creating.catch(() => undefined);
    while (!server.output().includes('failpoint create.committed: pause')) await new Promise((r) => setTimeout(r, 50));

    // A graceful stop: the connection closes, and for a while nothing listens on the port.
    await server.kill('SIGTERM');
    expect(await fetch(`${server.url}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');
    server = await startServer({ port, token, home });

    const container = await creating;
    expect(container).toMatchObject({ botId: bot.record!.id });
    // Reattached from the last event seen: nothing twice, and the end the restarted server recorded.
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(events[0]!.event).toBe('operation');
    expect(events.at(-1)!.event).toBe('done');
  });
});
