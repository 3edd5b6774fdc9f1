import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, ExecResult, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman } from '../testing/podman.js';
import { buildTar, listTree } from '../testing/tree.js';

interface ErrorBody {
  error: { code: string; details?: Record<string, unknown> };
}

const MiB = 1024 * 1024;

/**
 * One write through the API is bounded by the room left under the bot's disk limit, not only checked
 * at its start: a PUT or an import larger than that room fails with 507 midway and leaves nothing,
 * whether the container runs (written inside it) or is stopped (written into the data dir from the host).
 */
describe('a write larger than the room under the disk limit', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  let bot: Bot;
  let dataDir = '';

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver, config: { diskSampleSeconds: 3600 } });
    bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `room-${run}`, diskLimitMb: 2 } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    dataDir = t.berth.paths.dataDir(bot.id);
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  const sh = (command: string) => expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command } }), 200);
  const raw = (method: string, p: string, body: Buffer) =>
    Promise.resolve(t.berth.app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body, duplex: 'half' } as RequestInit));
  const tooBig = () => Buffer.alloc(3 * MiB, 7);

  it('refuses it inside a running container, in the data dir and in the layer, and leaves the old file and no temporary file', async () => {
    await expectJson(raw('PUT', `/bots/${bot.id}/files?path=/data/keep`, Buffer.from('old')), 200);
    await t.berth.diskLimits.sample(bot.id);
    for (const p of ['/data/keep', '/tmp/big']) {
      const res = await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.id}/files?path=${p}`, tooBig()), 507);
      expect(res.error.code).toBe('disk_limit_exceeded');
    }
    expect((await sh('cat /data/keep; ls -A /tmp; ls -A /data')).stdout).toBe('oldkeep\n');
    // What fits still goes in.
    await expectJson(raw('PUT', `/bots/${bot.id}/files?path=/data/small`, Buffer.alloc(64 * 1024)), 200);
  });

  it('refuses it into the data dir of a stopped container, and an import that unpacks to more than the room', async () => {
    expect((await t.api('POST', `/bots/${bot.id}/container/stop`)).status).toBe(200);
    await t.berth.diskLimits.sample(bot.id);
    const before = listTree(dataDir);
    const res = await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.id}/files?path=/data/keep`, tooBig()), 507);
    expect(res.error.code).toBe('disk_limit_exceeded');
    expect(fs.readFileSync(path.join(dataDir, 'keep'), 'utf8')).toBe('old');
    const imported = await expectJson<ErrorBody>(raw('POST', `/bots/${bot.id}/data/import?mode=merge`, await buildTar([{ name: 'big', body: tooBig() }])), 507);
    expect(imported.error.code).toBe('disk_limit_exceeded');
    expect(listTree(dataDir)).toEqual(before);
  });
});
