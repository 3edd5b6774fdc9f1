import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthApiError } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { pushFreshRunnableImage, startTestRegistry } from '../packages/server/src/testing/registry.js';
import { startServer, type ServerProcess } from './server-process.js';

const TEST_IMAGE = 'localhost/berth/test:busybox';

/** The built server as a process: authentication, and a kill -9 in the middle of a create. */
describe('server process', () => {
  let server: ServerProcess;
  let registry: Awaited<ReturnType<typeof startTestRegistry>>;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    server = await startServer();
    registry = await startTestRegistry();
  });

  afterAll(async () => {
    if (server) {
      const client = new BerthClient({ baseUrl: server.url, token: server.token });
      for (const b of await client.listBots().catch(() => [])) await client.deleteBot(b.id).catch(() => undefined);
      await server.kill();
      fs.rmSync(server.home, { recursive: true, force: true });
    }
    await registry?.stop();
  });

  it('answers 401 without a token and with a wrong one, and serves /healthz openly', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const none = await fetch(`${server.url}/api/v1/bots`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const wrong = await fetch(`${server.url}/api/v1/bots`, { headers: { authorization: 'Bearer wrong-token' } });
    expect(wrong.status).toBe(401);
  });

  it('recovers from being killed in the middle of a create: the operation is failed and the bot usable', async () => {
    // The test registry holds each download for a moment after its first bytes: the pull is cut off there.
    const ref = await pushFreshRunnableImage(registry, { base: TEST_IMAGE, repoTag: `berth/crash:${run}` });
    let client = new BerthClient({ baseUrl: server.url, token: server.token });
    const bot = await client.createBot({ name: `crash-${run}`, image: ref });
    let operationId = '';
    for await (const ev of client.createContainerStream(bot.id)) {
      if (ev.event === 'operation') operationId = (ev.data as { id: string }).id;
      if (ev.event === 'pull' && (ev.data as { current: number }).current > 0) break;
    }
    expect(operationId).not.toBe('');
    await server.kill('SIGKILL');

    server = await startServer({ home: server.home, token: server.token });
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    const op = await client.getOperation(operationId);
    expect(op.status).toBe('failed');
    expect(op.error?.message).toMatch(/interrupted/);
    const events = [];
    for await (const ev of client.operationEvents(operationId)) events.push(ev.event);
    expect(events.at(-1)).toBe('error');

    // Whatever the engine had when the process died, the bot can be created and used again.
    const existing = await client.getContainer(bot.id).catch((err: unknown) => {
      if (err instanceof BerthApiError && err.code === 'container_not_found') return null;
      throw err;
    });
    const frames = [];
    for await (const ev of client.createContainerStream(bot.id, { recreate: existing !== null })) frames.push(ev);
    expect(frames.at(-1)?.event).toBe('done');
    expect((await client.getContainer(bot.id)).status).toBe('running');
    await client.deleteBot(bot.id);
    execFileSync('podman', ['rmi', '--force', ref], { stdio: 'ignore' });
  });
});
