import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthApiError } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { runCli, startServer, type ServerProcess } from './server-process.js';

/** `berth tokens` with the built CLI against the built server, and what the issued token reaches. */
describe('berth tokens', () => {
  let server: ServerProcess;
  const name = `tok-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    if (!server) return;
    await new BerthClient({ baseUrl: server.url, token: server.token }).deleteBot(name).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
  });

  function berth(...args: string[]) {
    return runCli(server, args);
  }

  async function status(p: Promise<unknown>): Promise<number | 'ok'> {
    try {
      await p;
      return 'ok';
    } catch (err) {
      if (err instanceof BerthApiError) return err.status;
      throw err;
    }
  }

  it('creates a token printed once, lists it, and revokes it', async () => {
    await berth('bots', 'create', name);
    const created = await berth('tokens', 'create', name, 'ci agent');
    const token = created.stdout.trim();
    expect(token).toMatch(/^berth_bot_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only now');

    const bot = new BerthClient({ baseUrl: server.url, token });
    // Its own bot's container info is reachable (there is no container yet); the bots list is not.
    expect(await status(bot.getContainer(name))).toBe(404);
    expect(await status(bot.listBots())).toBe(403);

    const listed = JSON.parse((await berth('--json', 'tokens', 'list', name)).stdout) as { id: string; name: string; lastUsedAt: string | null }[];
    expect(listed).toEqual([expect.objectContaining({ name: 'ci agent', lastUsedAt: expect.any(String) })]);
    expect((await berth('tokens', 'list', name)).stdout).not.toContain(token);

    const [first] = listed;
    expect((await berth('tokens', 'revoke', name, first?.id ?? '')).stdout).toContain('revoked');
    expect(await status(bot.getContainer(name))).toBe(401);
    expect(JSON.parse((await berth('--json', 'tokens', 'list', name)).stdout)).toEqual([]);
  });
});
