import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, ExecResult, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman } from '../testing/podman.js';
import { buildTar, listTree } from '../testing/tree.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/**
 * A bot with a 20 MiB disk limit on the real Podman engine, filling its data dir and its root
 * filesystem from inside with `dd`: measured, flagged, its writes through the API refused, stopped
 * past the margin (20 + 16 MiB), and let back in once it has cleaned up.
 */
describe('disk limits on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  let bot: Bot;
  let free: Bot;
  let dataDir = '';

  beforeAll(async () => {
    podman = await realPodman();
    // The monitor's own rounds never come during the test: it calls `sample` itself.
    t = await startTestBerth({ driver: podman.driver, config: { diskSampleSeconds: 3600 } });
    bot = await newBot(`disk-${run}`, 20);
    free = await newBot(`free-${run}`, null);
    dataDir = t.berth.paths.dataDir(bot.id);
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  async function newBot(name: string, diskLimitMb: number | null): Promise<Bot> {
    const b = await expectJson<Bot>(t.api('POST', '/bots', { body: { name, diskLimitMb } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${b.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    return b;
  }

  const sh = (b: Bot, command: string) => expectJson<ExecResult>(t.api('POST', `/bots/${b.id}/exec`, { body: { command } }), 200);
  const info = (b: Bot) => expectJson<Container>(t.api('GET', `/bots/${b.id}/container`), 200);
  const raw = (method: string, p: string, body: Buffer) =>
    Promise.resolve(t.berth.app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body, duplex: 'half' } as RequestInit));

  it('reports a bot within its limit as such, with its usage and soft enforcement', async () => {
    const sampled = await t.berth.diskLimits.sample(bot.id);
    expect(sampled).toMatchObject({ mb: 20, enforcement: 'soft', exceeded: false });
    expect(sampled.usedMb).toBeLessThan(1);
    expect((await info(free)).diskLimit).toMatchObject({ mb: null, enforcement: 'none', exceeded: false });
  });

  it('flags a bot that wrote past its limit from inside, in its data dir and its root filesystem, and refuses its writes and imports with 507', async () => {
    const r = await sh(bot, 'dd if=/dev/zero of=/data/fill bs=1M count=12 && dd if=/dev/zero of=/layer-fill bs=1M count=12 && sync');
    expect(r.exitCode).toBe(0);
    await t.berth.diskLimits.sample(bot.id);

    const c = await info(bot);
    expect(c.status).toBe('running');
    expect(c.diskLimit).toMatchObject({ mb: 20, enforcement: 'soft', exceeded: true });
    expect(c.diskLimit.dataMb).toBeGreaterThanOrEqual(12);
    expect(c.diskLimit.dataMb).toBeLessThan(13);
    expect(c.diskLimit.layerMb).toBeGreaterThanOrEqual(12);
    expect(c.diskLimit.layerMb).toBeLessThan(13);
    expect(c.diskLimit.usedMb).toBeGreaterThanOrEqual(24);

    const before = listTree(dataDir);
    const put = await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.id}/files?path=/data/more`, Buffer.from('more')), 507);
    expect(put.error.code).toBe('disk_limit_exceeded');
    expect(put.error.details).toMatchObject({ limitMb: 20, usedMb: c.diskLimit.usedMb });
    // A write outside the data dir goes into the layer: refused the same way.
    await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.id}/files?path=/tmp/more`, Buffer.from('more')), 507);
    const imported = await expectJson<ErrorBody>(raw('POST', `/bots/${bot.id}/data/import?mode=merge`, await buildTar([{ name: 'a.txt', body: 'a' }])), 507);
    expect(imported.error.code).toBe('disk_limit_exceeded');
    expect(listTree(dataDir)).toEqual(before);
    expect((await sh(bot, 'ls /tmp/more /data/more /data/a.txt 2>/dev/null; true')).stdout).toBe('');
  });

  it('stops the bot once it is past its limit by the margin', async () => {
    const r = await sh(bot, 'dd if=/dev/zero of=/data/fill2 bs=1M count=16 && sync');
    expect(r.exitCode).toBe(0);
    await t.berth.diskLimits.sample(bot.id);

    const c = await info(bot);
    expect(c.status).toBe('stopped');
    expect(c.diskLimit).toMatchObject({ exceeded: true });
    expect(c.diskLimit.usedMb).toBeGreaterThan(36);
    const engine = await podman.driver.inspectContainer(c.id);
    expect(engine?.state).toBe('exited');
    const ops = await expectJson<{ operations: Operation[] }>(t.api('GET', `/bots/${bot.id}/operations`), 200);
    expect(ops.operations[0]).toMatchObject({ kind: 'stop', status: 'succeeded' });
    // Started again, it would only be stopped again: refused while it is past the margin.
    const refused = await expectJson<ErrorBody>(t.api('POST', `/bots/${bot.id}/container/start`), 507);
    expect(refused.error.code).toBe('disk_limit_exceeded');
    expect((await podman.driver.inspectContainer(c.id))?.state).toBe('exited');
  });

  it('lets the bot back in once it has freed space', async () => {
    // The files API removes from the data dir of the stopped container.
    for (const file of ['/data/fill', '/data/fill2']) expect((await t.api('DELETE', `/bots/${bot.id}/files?path=${file}`)).status).toBe(204);
    const sampled = await t.berth.diskLimits.sample(bot.id);
    // The 12 MiB in the root filesystem stay until the container is recreated; the data dir is empty now.
    expect(sampled).toMatchObject({ exceeded: false });
    expect(sampled.layerMb).toBeGreaterThanOrEqual(12);
    expect(sampled.dataMb).toBeLessThan(1);
    await expectJson(raw('PUT', `/bots/${bot.id}/files?path=/data/note`, Buffer.from('back')), 200);
    expect(fs.readFileSync(path.join(dataDir, 'note'), 'utf8')).toBe('back');
    expect((await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/start`), 200)).status).toBe('running');
    expect((await sh(bot, 'cat /data/note')).stdout).toBe('back');
  });
});
