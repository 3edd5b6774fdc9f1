import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { OperationEvent } from '@berth/contract';
import { Berth } from '@berth/sdk';
import { freePort, runCli, startServer, type ServerProcess } from './server-process.js';

/** Clients following a container create while the built server is stopped and started again on the same port. */
describe('clients across a server restart', () => {
  const servers: ServerProcess[] = [];
  const homes: string[] = [];
  const bots: { url: string; token: string; name: string }[] = [];

  afterAll(async () => {
    for (const b of bots) {
      await new Berth({ baseUrl: b.url, token: b.token }).bots
        .get(b.name)
        .delete()
        .catch(() => undefined);
    }
    for (const s of servers) await s.kill();
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  });

  /**
   * Starts a server whose creates are held just after their commit (so the restarted server finishes
   * them as succeeded), makes a bot, starts `follow` on its create, stops the server gracefully once
   * the create is held, checks nothing listens, and starts it again on the same port and home.
   */
  async function restartMidCreate<T>(prefix: string, follow: (server: ServerProcess, berth: Berth, name: string) => Promise<T>) {
    const port = await freePort();
    const token = `berth_e2e_${randomBytes(16).toString('hex')}`;
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    const first = await startServer({ port, token, env: { BERTH_FAILPOINTS: 'create.committed:pause' } });
    servers.push(first);
    homes.push(first.home);
    const berth = new Berth({ baseUrl: first.url, token });
    const botId = (await berth.bots.create({ name })).record!.id;
    bots.push({ url: first.url, token, name });

    const following = follow(first, berth, name);
    following.catch(() => undefined);
    while (!first.output().includes('failpoint create.committed: pause')) await new Promise((r) => setTimeout(r, 50));

    // A graceful stop: the client's stream ends, and for a while nothing listens on the port.
    await first.kill('SIGTERM');
    expect(await fetch(`${first.url}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');
    const second = await startServer({ port, token, home: first.home });
    servers.push(second);
    return { following, server: second, berth, name, botId };
  }

  it('the SDK resolves a create followed through the restart with the container the restarted server reports', async () => {
    const events: OperationEvent[] = [];
    const { following, botId } = await restartMidCreate('restart', (_server, b, n) => b.bots.get(n).container.create({ onEvent: (ev) => events.push(ev) }));
    const container = await following;
    expect(container).toMatchObject({ botId });
    // Reattached from the last event seen: nothing twice, and the end the restarted server recorded.
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(events[0]!.event).toBe('operation');
    expect(events.at(-1)!.event).toBe('done');
  });

  it('`berth container create` reattaches and exits 0 with the end the restarted server recorded', async () => {
    const { following, server, berth, name } = await restartMidCreate('clirestart', (s, _b, n) => runCli(s, ['container', 'create', n]));
    const { stdout, stderr } = await following; // rejects on a non-zero exit
    expect(stderr).toContain(`berth: lost the connection to ${server.url}; reattaching to operation `);
    expect(stdout.match(/^done$/gm)).toEqual(['done']);
    expect(stdout).toMatch(/done\n$/);
    const box = await berth.bots.get(name).container.info();
    expect(box.status).toBe('running');
  });
});
