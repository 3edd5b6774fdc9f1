import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BerthApiError } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { startServer, type ServerProcess } from './server-process.js';

const TEST_IMAGE = 'localhost/berth/test:busybox';

/** The built server killed (as by kill -9) in the middle of a bot delete: the next start finishes it. */
describe('a bot delete cut off by a crash', () => {
  const run = randomBytes(3).toString('hex');
  const servers: ServerProcess[] = [];

  afterAll(async () => {
    for (const server of servers) {
      const client = new BerthClient({ baseUrl: server.url, token: server.token });
      if (server.child.exitCode === null && server.child.signalCode === null) {
        for (const b of await client.listBots().catch(() => [])) await client.deleteBot(b.id).catch(() => undefined);
      }
      await server.kill();
    }
    for (const home of new Set(servers.map((s) => s.home))) fs.rmSync(home, { recursive: true, force: true });
  });

  for (const step of ['images', 'files']) {
    it(`is finished at the next start when the process dies before the ${step} step: no container, snapshot image or directory is left`, async () => {
      const first = await startServer({ env: { BERTH_FAILPOINTS: `bot-delete.${step}:crash` } });
      servers.push(first);
      let client = new BerthClient({ baseUrl: first.url, token: first.token });
      const bot = await client.createBot({ name: `crash-del-${step}-${run}`, image: TEST_IMAGE });
      const frames = [];
      for await (const ev of client.createContainerStream(bot.id)) frames.push(ev.event);
      expect(frames.at(-1)).toBe('done');
      await client.createSnapshot(bot.id, { name: 's1' });
      const botDir = path.join(first.home, 'bots', bot.id);
      expect(fs.existsSync(botDir)).toBe(true);

      const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
      await expect(client.deleteBot(bot.id)).rejects.toThrow();
      await exited;
      expect(first.child.signalCode).toBe('SIGKILL');
      // Cut off half-way: the directory is still there.
      expect(fs.existsSync(botDir)).toBe(true);

      const second = await startServer({ home: first.home, token: first.token });
      servers.push(second);
      client = new BerthClient({ baseUrl: second.url, token: second.token });
      const gone = await client.getBot(bot.id).catch((err: unknown) => err);
      expect(gone).toBeInstanceOf(BerthApiError);
      expect((gone as BerthApiError).code).toBe('bot_not_found');
      expect(execFileSync('podman', ['ps', '-a', '--quiet', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' }).trim()).toBe('');
      expect(execFileSync('podman', ['images', '--all', '--quiet', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' }).trim()).toBe('');
      expect(fs.existsSync(botDir)).toBe(false);
      expect(second.output()).toMatch(/finished deleting a bot whose delete was interrupted/);
    });
  }
});
