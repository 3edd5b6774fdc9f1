import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation, Snapshot, SnapshotList, VersionList } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { expectJson, readSse, startTestBerth, type TestBerth } from '../testing/harness.js';
import { HardLinkedDataSnapshots } from './data-snapshot-store.js';
import { reconcileSnapshots } from './snapshot-reconciler.js';
import { snapshotsDir } from './snapshot-service.js';

const IMAGE = 'localhost/berth/test:busybox';

/** Snapshots, restore, the snapshot tree and versions through the API, over the fake driver. */
describe('snapshots and versions API over the fake driver', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver });
  });
  afterEach(async () => {
    await t.close();
  });

  async function botWithContainer(name = 'alpha'): Promise<Bot> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
    return bot;
  }

  const snap = (bot: string, name: string) => expectJson<Snapshot>(t.api('POST', `/bots/${bot}/snapshots`, { body: { name } }), 201);
  const list = (bot: string) => expectJson<SnapshotList>(t.api('GET', `/bots/${bot}/snapshots`), 200);
  const restore = (bot: string, s: string, body: Record<string, unknown> = {}) => expectJson<Container>(t.api('POST', `/bots/${bot}/snapshots/${s}/restore`, { body }), 200);
  const errorCode = async (res: Promise<Response>, status: number) => (await expectJson<{ error: { code: string } }>(res, status)).error.code;
  const dataFile = (bot: Bot, rel: string) => path.join(t.home, 'bots', bot.id, 'data', rel);
  /** The root filesystem image of a snapshot taken from a container. */
  const imageOf = (s: Snapshot): string => {
    expect(s.image).toMatch(new RegExp(`^localhost/berth-snapshot/bot_[^:]+:${s.id}$`));
    return s.image as string;
  };

  it('snapshots a running container without stopping it: paused for the commit, then running again', async () => {
    const bot = await botWithContainer();
    const before = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    fs.writeFileSync(dataFile(bot, 'notes.txt'), 'hello');
    const s = await snap(bot.id, 'first');
    expect(s).toMatchObject({ name: 'first', parentId: null, version: 1, source: 'manual', missing: [], image: `localhost/berth-snapshot/${bot.id}:${s.id}` });
    expect(s.id).toMatch(/^snap_/);
    expect(s.sizeBytes).toBeGreaterThan(4096);
    expect(Date.parse(s.createdAt)).not.toBeNaN();
    const calls = driver.calls.map((c) => c.method);
    expect(calls.indexOf('pauseContainer')).toBeLessThan(calls.indexOf('commitContainer'));
    expect(calls.indexOf('commitContainer')).toBeLessThan(calls.indexOf('unpauseContainer'));
    const after = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(after).toMatchObject({ id: before.id, status: 'running', startedAt: before.startedAt, version: 1 });
    expect(await list(bot.id)).toEqual({ snapshots: [s], head: s.id });
    // By id and by name.
    expect(await expectJson<Snapshot>(t.api('GET', `/bots/${bot.id}/snapshots/first`), 200)).toEqual(s);
    expect(await expectJson<Snapshot>(t.api('GET', `/bots/alpha/snapshots/${s.id}`), 200)).toEqual(s);
    // The engine holds the image with Berth's labels.
    expect(await driver.listImages({ labels: [`berth.snapshot=${s.id}`] })).toMatchObject([{ names: [s.image], labels: { 'berth.managed': 'true', 'berth.bot': bot.id } }]);
  });

  it('snapshots a stopped container without pausing or starting it', async () => {
    const bot = await botWithContainer();
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: {} }), 200);
    const from = driver.calls.length;
    await snap(bot.id, 'cold');
    const during = driver.calls.slice(from).map((c) => c.method);
    expect(during).toContain('commitContainer');
    expect(during.filter((m) => m === 'pauseContainer' || m === 'unpauseContainer' || m === 'startContainer' || m === 'stopContainer')).toEqual([]);
    expect((await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).status).toBe('stopped');
  });

  it('builds the tree of SPEC §3: create → A → B, restore A, take C gives A the children B and C', async () => {
    const bot = await botWithContainer();
    const a = await snap(bot.id, 'a');
    const b = await snap(bot.id, 'b');
    expect(b.parentId).toBe(a.id);
    await restore(bot.id, 'a');
    const afterRestore = await list(bot.id);
    expect(afterRestore.head).toBe(a.id);
    const auto = afterRestore.snapshots.find((s) => s.source === 'auto');
    expect(auto).toMatchObject({ parentId: b.id, version: 1 });
    expect(auto?.name).toMatch(/^auto-before-restore-/);
    const c = await snap(bot.id, 'c');
    expect(c).toMatchObject({ parentId: a.id, version: 2 });
    const { snapshots, head } = await list(bot.id);
    expect(head).toBe(c.id);
    expect(snapshots.filter((s) => s.parentId === a.id).map((s) => s.name).sort()).toEqual(['b', 'c']);
    expect(snapshots.map((s) => s.name)).toEqual(['a', 'b', auto?.name, 'c']);
  });

  it('restores without an automatic snapshot when keepCurrent is false', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    await restore(bot.id, 'a', { keepCurrent: false });
    expect((await list(bot.id)).snapshots.map((s) => s.name)).toEqual(['a']);
  });

  it('restores the data dir in place: the directory stays, its contents return to the snapshot', async () => {
    const bot = await botWithContainer();
    fs.writeFileSync(dataFile(bot, 'f.txt'), 'at A');
    await snap(bot.id, 'a');
    fs.writeFileSync(dataFile(bot, 'f.txt'), 'after A');
    fs.writeFileSync(dataFile(bot, 'new.txt'), 'new');
    const ino = fs.statSync(dataFile(bot, '')).ino;
    const c = await restore(bot.id, 'a');
    expect(c).toMatchObject({ status: 'running', version: 2, pendingRecreate: false });
    expect(fs.statSync(dataFile(bot, '')).ino).toBe(ino);
    expect(fs.readFileSync(dataFile(bot, 'f.txt'), 'utf8')).toBe('at A');
    expect(fs.existsSync(dataFile(bot, 'new.txt'))).toBe(false);
    // The automatic snapshot holds the state that was left.
    const auto = (await list(bot.id)).snapshots.find((s) => s.source === 'auto') as Snapshot;
    await restore(bot.id, auto.id, { keepCurrent: false });
    expect(fs.readFileSync(dataFile(bot, 'f.txt'), 'utf8')).toBe('after A');
    expect(fs.readFileSync(dataFile(bot, 'new.txt'), 'utf8')).toBe('new');
  });

  it('leaves a stopped container stopped after a restore, and builds a running one for a bot without a container', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: {} }), 200);
    expect((await restore(bot.id, 'a')).status).toBe('stopped');
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    expect((await restore(bot.id, 'a')).status).toBe('running');
  });

  it('keeps the data of a deleted container: restoring without a container saves it first as a data-only snapshot', async () => {
    const bot = await botWithContainer();
    fs.writeFileSync(dataFile(bot, 'f.txt'), 'at A');
    const a = await snap(bot.id, 'a');
    fs.writeFileSync(dataFile(bot, 'f.txt'), 'after A');
    fs.writeFileSync(dataFile(bot, 'new.txt'), 'new');
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    const imagesBefore = (await driver.listImages({ labels: [`berth.bot=${bot.id}`] })).length;

    expect(await restore(bot.id, 'a')).toMatchObject({ status: 'running', version: 2, image: a.image });
    expect(fs.readFileSync(dataFile(bot, 'f.txt'), 'utf8')).toBe('at A');
    expect(fs.existsSync(dataFile(bot, 'new.txt'))).toBe(false);
    const { snapshots, head } = await list(bot.id);
    expect(head).toBe(a.id);
    const auto = snapshots.find((s) => s.source === 'auto') as Snapshot;
    expect(auto).toMatchObject({ parentId: a.id, version: 1, image: null, missing: [] });
    expect(auto.sizeBytes).toBeGreaterThan(0);
    // No image was committed for it.
    expect(await driver.listImages({ labels: [`berth.bot=${bot.id}`] })).toHaveLength(imagesBefore);

    // Restoring it brings the data back, in a container built from the bot's image and config.
    await expectJson(t.api('PATCH', `/bots/${bot.id}`, { body: { env: { LATER: '1' } } }), 200);
    const c = await restore(bot.id, auto.id, { keepCurrent: false });
    expect(c).toMatchObject({ status: 'running', version: 3, image: IMAGE, pendingRecreate: false });
    expect(driver.specOf(c.id)?.env).toEqual({ LATER: '1' });
    expect(fs.readFileSync(dataFile(bot, 'f.txt'), 'utf8')).toBe('after A');
    expect(fs.readFileSync(dataFile(bot, 'new.txt'), 'utf8')).toBe('new');
    expect((await list(bot.id)).head).toBe(auto.id);
    const v = await expectJson<VersionList>(t.api('GET', `/bots/${bot.id}/versions`), 200);
    expect(v.history.at(-1)).toMatchObject({ version: 3, reason: 'restore', snapshotId: auto.id, image: IMAGE });

    // Start-up reconciliation does not take it for a snapshot whose image is gone.
    const report = await reconcileSnapshots({
      store: t.store,
      snapshots: new SnapshotStore(t.store.db),
      driver,
      data: new HardLinkedDataSnapshots({ rootOf: (id) => snapshotsDir(t.berth.paths, id) }),
      logger: (await import('../logger.js')).createLogger({ level: 'silent' }),
    });
    expect(report.incomplete).toEqual([]);

    // Deleting it removes its data tree, and nothing else.
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/${auto.id}`)).status).toBe(204);
    expect(fs.existsSync(path.join(snapshotsDir(t.berth.paths, bot.id), auto.id))).toBe(false);
    expect((await list(bot.id)).snapshots.map((s) => s.name)).toEqual(['a']);
    expect(await driver.inspectImage(imageOf(a))).not.toBeNull();
  });

  it('restores without a container and keepCurrent false: no automatic snapshot', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    await restore(bot.id, 'a', { keepCurrent: false });
    expect((await list(bot.id)).snapshots.map((s) => s.name)).toEqual(['a']);
  });

  it('streams a restore as an operation with Accept: text/event-stream', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    const res = await t.api('POST', `/bots/${bot.id}/snapshots/a/restore`, { body: {}, headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const frames = await readSse(res);
    expect(frames[0]).toMatchObject({ event: 'operation', data: { kind: 'restore', botId: bot.id } });
    expect(frames.filter((f) => f.event === 'phase').map((f) => (f.data as { phase: string }).phase)).toEqual(['snapshot', 'data', 'commit', 'stage', 'image', 'create', 'stop', 'data', 'start', 'ready']);
    expect(frames.at(-1)).toMatchObject({ event: 'done', data: { container: { status: 'running', version: 2 } } });
  });

  it('deletes a snapshot: children take its parent, the head moves to the parent, the image goes', async () => {
    const bot = await botWithContainer();
    const a = await snap(bot.id, 'a');
    const b = await snap(bot.id, 'b');
    const c = await snap(bot.id, 'c');
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/b`)).status).toBe(204);
    let l = await list(bot.id);
    expect(l.snapshots.map((s) => [s.name, s.parentId])).toEqual([['a', null], ['c', a.id]]);
    expect(await driver.inspectImage(imageOf(b))).toBeNull();
    expect(fs.existsSync(path.join(snapshotsDir(t.berth.paths, bot.id), b.id))).toBe(false);
    // Deleting the head: the head becomes its parent.
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/${c.id}`)).status).toBe(204);
    l = await list(bot.id);
    expect(l.head).toBe(a.id);
    expect(await errorCode(t.api('DELETE', `/bots/${bot.id}/snapshots/${c.id}`), 404)).toBe('snapshot_not_found');
    // The snapshot the container runs from: only untagged while it is in use, removed once it is not.
    await restore(bot.id, 'a', { keepCurrent: false });
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/a`)).status).toBe(204);
    expect(await driver.listImages({ labels: [`berth.snapshot=${a.id}`] })).toMatchObject([{ names: [], containers: 1 }]);
    await expectJson(t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
    await waitIdle(bot.id);
    await snap(bot.id, 'z');
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/z`)).status).toBe(204);
    expect(await driver.listImages({ labels: [`berth.snapshot=${a.id}`] })).toEqual([]);
  });

  it('resets the head to null on create and recreate from the image', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    await expectJson(t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
    await waitIdle(bot.id);
    expect((await list(bot.id)).head).toBeNull();
    expect((await snap(bot.id, 'b')).parentId).toBeNull();
  });

  it('records versions: create, restore with its snapshot, recreate; kept across container delete', async () => {
    const bot = await botWithContainer();
    const a = await snap(bot.id, 'a');
    await restore(bot.id, 'a');
    await expectJson(t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
    await waitIdle(bot.id);
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    const v = await expectJson<VersionList>(t.api('GET', `/bots/${bot.id}/versions`), 200);
    expect(v.current).toBe(3);
    expect(v.history.map((h) => [h.version, h.reason, h.snapshotId])).toEqual([
      [1, 'create', null],
      [2, 'restore', a.id],
      [3, 'recreate', null],
    ]);
    expect(v.history[1]).toMatchObject({ image: a.image, cdiDevices: [], resources: { cpus: null, memoryMb: null, pidsLimit: 4096 } });
    expect(v.history[0]?.image).toBe(IMAGE);
    expect(v.history[1]?.imageId).toMatch(/^sha256:/);
  });

  it('restores with the config of the snapshot’s version; pendingRecreate tells whether the bot now asks for another', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    await expectJson(t.api('PATCH', `/bots/${bot.id}`, { body: { env: { LATER: '1' } } }), 200);
    const c = await restore(bot.id, 'a', { keepCurrent: false });
    expect(c.pendingRecreate).toBe(true);
    expect(driver.specOf(c.id)?.env).toEqual({});
    await expectJson(t.api('PATCH', `/bots/${bot.id}`, { body: { env: {} } }), 200);
    expect((await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).pendingRecreate).toBe(false);
  });

  it('answers snapshot_name_taken, validation_failed and the 404s', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    expect(await errorCode(t.api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'a' } }), 409)).toBe('snapshot_name_taken');
    for (const body of [{ name: '' }, { name: 'has space' }, { name: 'snap_x' }, { name: '-x' }, { name: 'x'.repeat(64) }, {}, { name: 'ok', extra: 1 }]) {
      expect(await errorCode(t.api('POST', `/bots/${bot.id}/snapshots`, { body }), 400)).toBe('validation_failed');
    }
    expect(await errorCode(t.api('POST', `/bots/${bot.id}/snapshots/a/restore`, { body: { keepCurrent: 'no' } }), 400)).toBe('validation_failed');
    expect(await errorCode(t.api('POST', '/bots/nobody/snapshots', { body: { name: 'a' } }), 404)).toBe('bot_not_found');
    expect(await errorCode(t.api('GET', '/bots/nobody/snapshots'), 404)).toBe('bot_not_found');
    expect(await errorCode(t.api('GET', '/bots/nobody/versions'), 404)).toBe('bot_not_found');
    for (const [method, p] of [['GET', 'missing'], ['POST', 'missing/restore'], ['DELETE', 'missing']] as const) {
      expect(await errorCode(t.api(method, `/bots/${bot.id}/snapshots/${p}`, method === 'POST' ? { body: {} } : {}), 404)).toBe('snapshot_not_found');
    }
    const bare = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'bare' } }), 201);
    expect(await errorCode(t.api('POST', `/bots/${bare.id}/snapshots`, { body: { name: 'a' } }), 404)).toBe('container_not_found');
    expect((await list(bot.id)).snapshots).toHaveLength(1);
  });

  it('documents the routes in OpenAPI and keeps them from bot tokens', async () => {
    const doc = await expectJson<{ paths: Record<string, unknown> }>(t.api('GET', '/openapi.json'), 200);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/bots/{bot}/snapshots', '/bots/{bot}/snapshots/{snap}', '/bots/{bot}/snapshots/{snap}/restore', '/bots/{bot}/versions']));
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    const { token } = await expectJson<{ token: string }>(t.api('POST', `/bots/${bot.id}/tokens`, { body: { name: 'agent' } }), 201);
    for (const [method, p] of [['GET', 'snapshots'], ['POST', 'snapshots'], ['POST', 'snapshots/a/restore'], ['DELETE', 'snapshots/a'], ['GET', 'versions']] as const) {
      expect(await errorCode(t.api(method, `/bots/${bot.id}/${p}`, { token, ...(method === 'POST' && { body: { name: 'b' } }) }), 403)).toBe('forbidden');
    }
    expect((await list(bot.id)).snapshots.map((s) => s.name)).toEqual(['a']);
  });

  it('refuses a snapshot whose image is gone, and marks it', async () => {
    const bot = await botWithContainer();
    const a = await snap(bot.id, 'a');
    driver.dropImage(imageOf(a));
    expect(await errorCode(t.api('POST', `/bots/${bot.id}/snapshots/a/restore`, { body: {} }), 404)).toBe('snapshot_not_found');
    expect((await list(bot.id)).snapshots[0]?.missing).toEqual(['rootfs']);
  });

  it('reconciles at start-up: marks incomplete snapshots, removes what interrupted captures left', async () => {
    const bot = await botWithContainer();
    const a = await snap(bot.id, 'a');
    const b = await snap(bot.id, 'b');
    const root = snapshotsDir(t.berth.paths, bot.id);
    fs.rmSync(path.join(root, a.id), { recursive: true });
    driver.dropImage(imageOf(b));
    fs.mkdirSync(path.join(root, 'snap_stranger'));
    fs.mkdirSync(path.join(root, '.staging-snap_cut'));
    const c = (await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).id;
    await driver.pauseContainer(c);
    const report = await reconcileSnapshots({
      store: t.store,
      snapshots: new SnapshotStore(t.store.db),
      driver,
      data: new HardLinkedDataSnapshots({ rootOf: (id) => snapshotsDir(t.berth.paths, id) }),
      logger: (await import('../logger.js')).createLogger({ level: 'silent' }),
    });
    expect(report.incomplete).toEqual([
      { botId: bot.id, snapshotId: a.id, missing: ['data'] },
      { botId: bot.id, snapshotId: b.id, missing: ['rootfs'] },
    ]);
    expect(report.removedDirs).toEqual([{ botId: bot.id, name: 'snap_stranger' }]);
    expect(report.unpaused).toEqual([c]);
    expect((await driver.inspectContainer(c))?.state).toBe('running');
    expect(fs.existsSync(path.join(root, '.staging-snap_cut'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'snap_stranger'))).toBe(false);
    expect((await list(bot.id)).snapshots.map((s) => s.missing)).toEqual([['data'], ['rootfs']]);
  });

  it('deleting the bot removes its snapshot images and records', async () => {
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    await restore(bot.id, 'a');
    expect(await driver.listImages({ labels: [`berth.bot=${bot.id}`] })).toHaveLength(2);
    expect((await t.api('DELETE', `/bots/${bot.id}`)).status).toBe(204);
    expect(await driver.listImages({ labels: [`berth.bot=${bot.id}`] })).toEqual([]);
    expect(await new SnapshotStore(t.store.db).list(bot.id)).toEqual([]);
  });

  it('refuses a delete while an operation runs', async () => {
    const slow = new FakeDriver({ images: [IMAGE], delayMs: { commitContainer: 300 } });
    await t.close();
    t = await startTestBerth({ driver: slow });
    driver = slow;
    const bot = await botWithContainer();
    await snap(bot.id, 'a');
    const pending = t.api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'b' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(await errorCode(t.api('DELETE', `/bots/${bot.id}/snapshots/a`), 409)).toBe('operation_in_progress');
    expect(await errorCode(t.api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'c' } }), 409)).toBe('operation_in_progress');
    expect((await pending).status).toBe(201);
  });

  async function waitIdle(botId: string): Promise<void> {
    for (;;) {
      const op = await t.store.runningOperationFor(botId);
      if (!op) return;
      await t.berth.operations.settled(op.id);
    }
  }
});
