import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, ChangeEvent, Container, Operation } from '@berth/contract';
import type { ContainerState } from '../runtime/driver.js';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { buildTar, listTree } from '../testing/tree.js';
import { DiskLimits, duBytes, measureDataDir, stopThresholdBytes, walkBytes } from './disk-limits.js';
import { ChangeFeed } from '../core/change-feed.js';
import { BotPaths } from '../core/bot-paths.js';
import { createLogger } from '../logger.js';

const IMAGE = 'localhost/berth/test:busybox';
const MiB = 1024 * 1024;

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Disk limits over the fake driver (whose writable layer size a test sets) and real data dirs. */
describe('disk limits', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    // The monitor's own rounds never come during a test: the tests call `sample` and `sampleAll`.
    t = await startTestBerth({ driver, config: { defaultDiskLimitMb: 50, diskSampleSeconds: 3600 } });
  });
  afterEach(async () => {
    await t.close();
  });

  function raw(method: string, p: string, body: Buffer): Promise<Response> {
    return Promise.resolve(t.berth.app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body, duplex: 'half' } as RequestInit));
  }

  /** A bot with a running container and a data dir. */
  async function runningBot(name: string, diskLimitMb: number | null): Promise<Bot & { dataDir: string; containerId: string }> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name, diskLimitMb } }), 201);
    const { result } = await t.berth.containers.create(bot.id);
    const { container } = await result;
    const dataDir = t.berth.paths.dataDir(bot.id);
    fs.mkdirSync(dataDir, { recursive: true });
    return { ...bot, dataDir, containerId: container.id };
  }

  const info = (bot: string) => expectJson<Container>(t.api('GET', `/bots/${bot}/container`), 200);

  describe('the bot setting', () => {
    it('takes diskLimitMb at create, BERTH_DEFAULT_DISK_LIMIT_MB when none is named, null for no limit, and changes it with PATCH', async () => {
      const given = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'given', diskLimitMb: 20 } }), 201);
      expect(given.diskLimitMb).toBe(20);
      const defaulted = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'defaulted' } }), 201);
      expect(defaulted.diskLimitMb).toBe(50);
      const unlimited = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'unlimited', diskLimitMb: null } }), 201);
      expect(unlimited.diskLimitMb).toBeNull();

      expect((await expectJson<Bot>(t.api('PATCH', '/bots/given', { body: { diskLimitMb: 30 } }), 200)).diskLimitMb).toBe(30);
      expect((await expectJson<Bot>(t.api('PATCH', '/bots/given', { body: { diskLimitMb: null } }), 200)).diskLimitMb).toBeNull();
      expect((await expectJson<Bot>(t.api('GET', '/bots/defaulted'), 200)).diskLimitMb).toBe(50);
    });

    it('refuses a limit that is not a whole positive number of MiB, and changes nothing', async () => {
      await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'kept', diskLimitMb: 20 } }), 201);
      for (const diskLimitMb of [0, -1, 1.5, '20', 17 * 1024 * 1024]) {
        const body = await expectJson<ErrorBody>(t.api('PATCH', '/bots/kept', { body: { diskLimitMb } }), 400);
        expect(body.error.code).toBe('validation_failed');
        await expectJson<ErrorBody>(t.api('POST', '/bots', { body: { name: 'refused', diskLimitMb } }), 400);
      }
      expect((await expectJson<Bot>(t.api('GET', '/bots/kept'), 200)).diskLimitMb).toBe(20);
      expect((await expectJson<{ bots: Bot[] }>(t.api('GET', '/bots'), 200)).bots.map((b) => b.name)).toEqual(['kept']);
    });
  });

  describe('measuring and reporting', () => {
    it('reports the data dir plus the writable layer, enforced softly', async () => {
      const bot = await runningBot('measured', 20);
      fs.writeFileSync(path.join(bot.dataDir, 'blob'), Buffer.alloc(3 * MiB, 1));
      driver.setWritableLayerSize(bot.containerId, 2 * MiB);
      await t.berth.diskLimits.sample(bot.id);

      const { diskLimit } = await info(bot.name);
      expect(diskLimit).toMatchObject({ mb: 20, enforcement: 'soft', exceeded: false, layerMb: 2 });
      // du counts allocated blocks: the file's 3 MiB and a block or two for the directories.
      expect(diskLimit.dataMb).toBeGreaterThanOrEqual(3);
      expect(diskLimit.dataMb).toBeLessThan(3.1);
      expect(diskLimit.usedMb).toBeCloseTo((diskLimit.dataMb ?? 0) + 2, 1);
      expect(Date.parse(diskLimit.measuredAt ?? '')).not.toBeNaN();
    });

    it('measures a bot in the background once its info is first read, and says when it is done', async () => {
      const bot = await runningBot('first-read', 20);
      await t.berth.diskLimits.flush();
      const { diskLimit } = await info(bot.name);
      expect(diskLimit).toMatchObject({ mb: 20, enforcement: 'soft', layerMb: 0, exceeded: false });
      expect(diskLimit.measuredAt).not.toBeNull();
    });

    it('says there is no limit, and measures nothing, for a bot without one', async () => {
      const bot = await runningBot('free', null);
      driver.setWritableLayerSize(bot.containerId, 500 * MiB);
      expect((await info(bot.name)).diskLimit).toEqual({ mb: null, enforcement: 'none', usedMb: null, dataMb: null, layerMb: null, exceeded: false, measuredAt: null });
      await t.berth.diskLimits.sampleAll();
      expect(driver.calls.filter((c) => c.method === 'writableLayerSize')).toEqual([]);
      expect((await info(bot.name)).status).toBe('running');
    });

    it('measures in a round only the bots with a limit whose container runs', async () => {
      const limited = await runningBot('limited', 20);
      await runningBot('unlimited', null);
      const stopped = await runningBot('stopped', 20);
      await t.berth.containers.stop(stopped.id);
      // The measurements the creates and the stop asked for are done first.
      await t.berth.diskLimits.flush();
      driver.calls.length = 0;
      await t.berth.diskLimits.sampleAll();
      expect(driver.calls.filter((c) => c.method === 'writableLayerSize').map((c) => c.arg)).toEqual([limited.containerId]);
    });
  });

  describe('over the limit', () => {
    it('flags the bot and refuses files writes and imports with 507 disk_limit_exceeded, changing nothing', async () => {
      const bot = await runningBot('full', 4);
      fs.writeFileSync(path.join(bot.dataDir, 'blob'), Buffer.alloc(3 * MiB, 1));
      driver.setWritableLayerSize(bot.containerId, 2 * MiB);
      const changes: ChangeEvent[] = [];
      const unsubscribe = t.berth.changes.subscribe((c) => changes.push(c));
      await t.berth.diskLimits.sample(bot.id);
      unsubscribe();
      expect(changes).toContainEqual(expect.objectContaining({ type: 'container.changed', botId: bot.id }));

      const { diskLimit, status } = await info(bot.name);
      expect(diskLimit).toMatchObject({ mb: 4, enforcement: 'soft', exceeded: true });
      // Within the margin it keeps running, so it can clean up after itself.
      expect(status).toBe('running');

      const before = listTree(bot.dataDir);
      const put = await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.name}/files?path=/data/more`, Buffer.from('more')), 507);
      expect(put.error.code).toBe('disk_limit_exceeded');
      expect(put.error.details).toMatchObject({ limitMb: 4, usedMb: diskLimit.usedMb, dataMb: diskLimit.dataMb, layerMb: 2 });
      const imported = await expectJson<ErrorBody>(raw('POST', `/bots/${bot.name}/data/import?mode=merge`, await buildTar([{ name: 'a.txt', body: 'a' }])), 507);
      expect(imported.error.code).toBe('disk_limit_exceeded');
      expect(listTree(bot.dataDir)).toEqual(before);
      const ops = await expectJson<{ operations: Operation[] }>(t.api('GET', `/bots/${bot.name}/operations`), 200);
      expect(ops.operations.map((o) => o.kind)).not.toContain('import');
    });

    it('stops a running bot past its limit by the margin, as a stop operation', async () => {
      const bot = await runningBot('runaway', 4);
      driver.setWritableLayerSize(bot.containerId, stopThresholdBytes(4) + MiB);
      const sampled = await t.berth.diskLimits.sample(bot.id);
      expect(sampled.exceeded).toBe(true);
      const { status, diskLimit } = await info(bot.name);
      expect(status).toBe('stopped');
      expect(diskLimit.exceeded).toBe(true);
      const ops = await expectJson<{ operations: Operation[] }>(t.api('GET', `/bots/${bot.name}/operations`), 200);
      expect(ops.operations[0]).toMatchObject({ kind: 'stop', status: 'succeeded' });

      // It stays stopped while it is still past the margin; a higher limit lets it start.
      const refused = await expectJson<ErrorBody>(t.api('POST', `/bots/${bot.name}/container/start`), 507);
      expect(refused.error).toMatchObject({ code: 'disk_limit_exceeded', details: { limitMb: 4 } });
      expect((await info(bot.name)).status).toBe('stopped');
      await expectJson<Bot>(t.api('PATCH', `/bots/${bot.name}`, { body: { diskLimitMb: 64 } }), 200);
      expect((await expectJson<Container>(t.api('POST', `/bots/${bot.name}/container/start`), 200)).status).toBe('running');
    });

    it('lets writes through again once the bot is back under its limit, or its limit is raised', async () => {
      const bot = await runningBot('recovers', 4);
      driver.setWritableLayerSize(bot.containerId, 6 * MiB);
      await t.berth.diskLimits.sample(bot.id);
      expect((await info(bot.name)).diskLimit.exceeded).toBe(true);
      await t.berth.containers.stop(bot.id);
      await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.name}/files?path=/data/note`, Buffer.from('hi')), 507);

      // A higher limit is judged at once against the last measurement.
      await expectJson<Bot>(t.api('PATCH', `/bots/${bot.name}`, { body: { diskLimitMb: 8 } }), 200);
      expect((await info(bot.name)).diskLimit).toMatchObject({ mb: 8, exceeded: false });
      await expectJson(raw('PUT', `/bots/${bot.name}/files?path=/data/note`, Buffer.from('hi')), 200);
      expect(fs.readFileSync(path.join(bot.dataDir, 'note'), 'utf8')).toBe('hi');

      await expectJson<Bot>(t.api('PATCH', `/bots/${bot.name}`, { body: { diskLimitMb: 4 } }), 200);
      driver.setWritableLayerSize(bot.containerId, MiB);
      await t.berth.diskLimits.sample(bot.id);
      expect((await info(bot.name)).diskLimit).toMatchObject({ mb: 4, exceeded: false, layerMb: 1 });
      await expectJson(raw('PUT', `/bots/${bot.name}/files?path=/data/note`, Buffer.from('again')), 200);
    });

    it('measures a stopped bot written to through the API in the next round', async () => {
      const bot = await runningBot('written', 4);
      await t.berth.containers.stop(bot.id);
      // A write through the API within the room, and more beside it that nothing measured yet.
      await expectJson(raw('PUT', `/bots/${bot.name}/files?path=/data/big`, Buffer.alloc(3 * MiB, 1)), 200);
      fs.writeFileSync(path.join(t.berth.paths.dataDir(bot.id), 'more'), Buffer.alloc(2 * MiB, 1));
      await t.berth.diskLimits.sampleAll();
      expect((await info(bot.name)).diskLimit).toMatchObject({ exceeded: true });
      await expectJson<ErrorBody>(raw('PUT', `/bots/${bot.name}/files?path=/data/more`, Buffer.from('x')), 507);
    });
  });
});

describe('DiskLimits without a measurement of the data dir', () => {
  it('counts a data dir it could not measure as past the limit: writes and starts refused, the running bot stopped', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-disk-unit-'));
    const driver = new FakeDriver({ images: [IMAGE] });
    const t = await startTestBerth({ driver, home, config: { diskSampleSeconds: 3600 } });
    try {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'huge', diskLimitMb: 10 } }), 201);
      const stops: string[] = [];
      const limits = new DiskLimits({
        store: t.store,
        driver,
        paths: new BotPaths(home),
        logger: createLogger({ level: 'silent' }),
        changes: new ChangeFeed(),
        containerOf: () => Promise.resolve({ id: 'c1', state: 'running' } as ContainerState),
        stopBot: (id) => Promise.resolve(stops.push(id)),
        sampleSeconds: 3600,
        measureDir: () => Promise.resolve(null),
      });
      const sampled = await limits.sample(bot.id);
      expect(sampled).toMatchObject({ mb: 10, enforcement: 'soft', exceeded: true, usedMb: null, dataMb: null });
      await expect(limits.assertRoom(bot.id)).rejects.toMatchObject({ code: 'disk_limit_exceeded' });
      expect(stops).toEqual([bot.id]);
      await expect(limits.assertMayStart(await t.store.mustGetBot(bot.id))).rejects.toMatchObject({ code: 'disk_limit_exceeded' });
      await limits.stop();
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('DiskLimits after a restart', () => {
  it('measures a bot before its first start, so one stopped past its limit is not let run again by a restart', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-disk-unit-'));
    const driver = new FakeDriver({ images: [IMAGE] });
    const t = await startTestBerth({ driver, home, config: { diskSampleSeconds: 3600 } });
    try {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'full', diskLimitMb: 1 } }), 201);
      const dataDir = new BotPaths(home).dataDir(bot.id);
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'big'), Buffer.alloc(stopThresholdBytes(1) + MiB, 1));
      // A monitor that has measured nothing yet, as after a restart.
      const fresh = () =>
        new DiskLimits({
          store: t.store,
          driver,
          paths: new BotPaths(home),
          logger: createLogger({ level: 'silent' }),
          changes: new ChangeFeed(),
          containerOf: () => Promise.resolve(null),
          stopBot: () => Promise.resolve(),
          sampleSeconds: 3600,
        });
      const limits = fresh();
      await expect(limits.assertMayStart(await t.store.mustGetBot(bot.id))).rejects.toMatchObject({ code: 'disk_limit_exceeded' });
      await limits.stop();

      fs.rmSync(path.join(dataDir, 'big'));
      const again = fresh();
      await expect(again.assertMayStart(await t.store.mustGetBot(bot.id))).resolves.toBeUndefined();
      await again.stop();
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('DiskLimits when the engine cannot measure the layer', () => {
  it('keeps the layer size last measured, and still judges the bot by it', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-disk-unit-'));
    const t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }), home, config: { diskSampleSeconds: 3600 } });
    try {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'layered', diskLimitMb: 10 } }), 201);
      let layer: number | Error = 12 * MiB;
      const running = { id: 'c1', state: 'running' } as ContainerState;
      const stops: string[] = [];
      const limits = new DiskLimits({
        store: t.store,
        driver: { writableLayerSize: () => (layer instanceof Error ? Promise.reject(layer) : Promise.resolve(layer)) },
        paths: new BotPaths(home),
        logger: createLogger({ level: 'silent' }),
        changes: new ChangeFeed(),
        containerOf: () => Promise.resolve(running),
        stopBot: (id) => Promise.resolve(stops.push(id)),
        sampleSeconds: 3600,
        measureDir: () => Promise.resolve(0),
      });
      expect(await limits.sample(bot.id)).toMatchObject({ layerMb: 12, exceeded: true });
      layer = new Error('the engine does not answer');
      expect(await limits.sample(bot.id)).toMatchObject({ layerMb: 12, exceeded: true });
      await expect(limits.assertRoom(bot.id)).rejects.toMatchObject({ code: 'disk_limit_exceeded' });
      // 12 MiB is within the margin of a 10 MiB limit: flagged, not stopped.
      expect(stops).toEqual([]);
      await limits.stop();
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('measuring a data dir', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-du-'));
  });
  afterEach(() => {
    // rm walks by descriptors too; a path-based removal would fail on the deep tree.
    execFileSync('rm', ['-rf', '--', dir]);
  });

  const far = () => ({ deadline: Date.now() + 60_000, maxEntries: 1_000_000 });

  /** 2 MiB hard-linked twice, a sparse 1 GiB file holding nothing, a few directories. */
  function tree(): void {
    fs.mkdirSync(path.join(dir, 'x/y'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'x/a'), Buffer.alloc(2 * MiB, 1));
    fs.linkSync(path.join(dir, 'x/a'), path.join(dir, 'x/y/b'));
    const sparse = fs.openSync(path.join(dir, 'sparse'), 'w');
    fs.ftruncateSync(sparse, 1024 * MiB);
    fs.closeSync(sparse);
    fs.symlinkSync('/usr', path.join(dir, 'usr'));
  }

  it('counts allocated blocks, a hard-linked file once, the same with du and with the walk, and follows no link', async () => {
    tree();
    const du = await duBytes(dir, { timeoutMs: 30_000 });
    expect(du.bytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(du.bytes).toBeLessThan(2 * MiB + 64 * 1024);
    expect(await walkBytes(dir, far())).toBe(du.bytes);
    expect(await measureDataDir(dir, { timeoutMs: 30_000 })).toBe(du.bytes);
    expect(await measureDataDir(path.join(dir, 'missing'), { timeoutMs: 30_000 })).toBe(0);
  });

  it('counts a tree deeper than a path can name with du; the walk gives up on it rather than miss it', async () => {
    const empty = (await duBytes(dir, { timeoutMs: 30_000 })).bytes ?? 0;
    // Made step by step, as a bot would.
    const script = `cd "$1" && for i in $(seq 25); do mkdir "$2" && cd -P "$2" || exit 1; done && head -c ${MiB} /dev/zero > deep-file && pwd | wc -c`;
    const depth = Number(execFileSync('sh', ['-c', script, 'sh', dir, 'd'.repeat(200)], { encoding: 'utf8' }).trim());
    expect(depth).toBeGreaterThan(4096);
    const bytes = (await duBytes(dir, { timeoutMs: 30_000 })).bytes ?? 0;
    expect(bytes - empty).toBeGreaterThanOrEqual(MiB);
    expect(bytes - empty).toBeLessThan(MiB + 200 * 1024);
    expect(await walkBytes(dir, far())).toBeNull();
  });

  it('measures a data dir whose directories a bot keeps renaming (which can make du abort)', async () => {
    tree();
    fs.mkdirSync(path.join(dir, 'd'));
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(dir, 'd', `f${i}`), 'data');
    fs.writeFileSync(path.join(dir, '.go'), '');
    const loop = `chdir $ARGV[0]; while (-e '.go') { rename 'd', 'e'; mkdir 'd'; rmdir 'd'; rename 'e', 'd'; }`;
    const renamer = spawn('perl', ['-e', loop, dir], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 20; i++) {
        const bytes = await measureDataDir(dir, { timeoutMs: 30_000 });
        expect(bytes).toBeGreaterThanOrEqual(2 * MiB);
      }
    } finally {
      renamer.kill('SIGKILL');
      await new Promise((resolve) => renamer.once('close', resolve));
    }
  });

  it('the walk gives up past its entry budget', async () => {
    tree();
    expect(await walkBytes(dir, { deadline: Date.now() + 60_000, maxEntries: 2 })).toBeNull();
  });
});
