import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { AppError } from '../errors.js';
import { expectJson, startTestBerth, TEST_ADMIN_TOKEN, writeTestCdiSpec, type TestBerth } from '../testing/harness.js';
import { buildTar, listTree } from '../testing/tree.js';

const IMAGE = 'localhost/berth/test:busybox';

/**
 * A recreate or restore that fails at any step leaves the bot exactly as it was: the same container,
 * running, the same data, version and head. Over the fake driver, with failures injected by
 * BERTH_FAILPOINTS (`error`) or by the engine refusing a CDI device the host's specs list.
 */
describe('recreate and restore are all or nothing', () => {
  let t: TestBerth | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setUp(failpoints = '', driver = new FakeDriver({ images: [IMAGE] })): Promise<{ t: TestBerth; driver: FakeDriver; bot: Bot; before: Container }> {
    t = await startTestBerth({ driver, config: { failpoints } });
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'alpha' } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const dataDir = t.berth.paths.dataDir(bot.id);
    fs.writeFileSync(path.join(dataDir, 'one'), 'one');
    fs.mkdirSync(path.join(dataDir, 'dir'));
    fs.writeFileSync(path.join(dataDir, 'dir', 'two'), 'two');
    const before = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
    return { t, driver, bot, before };
  }

  async function failedOperation(t: TestBerth, res: Response): Promise<Operation> {
    const { operation } = (await res.json()) as { operation: Operation };
    await t.berth.operations.settled(operation.id);
    return t.berth.operations.get(operation.id);
  }

  async function expectAsBefore(t: TestBerth, driver: FakeDriver, bot: Bot, before: Container, tree: string[]): Promise<void> {
    const now = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
    expect(now).toMatchObject({ id: before.id, status: 'running', version: before.version, name: `berth-${bot.id}` });
    expect((await driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).map((c) => c.name)).toEqual([`berth-${bot.id}`]);
    expect(listTree(t.berth.paths.dataDir(bot.id))).toEqual(tree);
    expect(fs.readdirSync(t.berth.paths.botDir(bot.id)).sort()).toEqual(['data', 'snapshots'].filter((n) => fs.existsSync(path.join(t.berth.paths.botDir(bot.id), n))));
    expect((await t.store.listVersions(bot.id)).map((v) => v.version)).toEqual([before.version]);
  }

  for (const point of ['recreate.created', 'recreate.stopped', 'recreate.started']) {
    it(`a recreate failing at ${point} keeps the old container running`, async () => {
      const { t, driver, bot, before } = await setUp(`${point}:error`);
      const tree = listTree(t.berth.paths.dataDir(bot.id));
      const op = await failedOperation(t, await t.api('POST', '/bots/alpha/container', { body: { recreate: true } }));
      expect(op).toMatchObject({ status: 'failed', error: { code: 'internal' } });
      await expectAsBefore(t, driver, bot, before, tree);
      // The journal is cleared: nothing is left for the next start to undo.
      expect((await t.store.findOperation(op.id))?.journal).toBeNull();
    });
  }

  it('a recreate failing after its commit succeeds; the next start removes the old container and renames the new one', async () => {
    const { t: first, driver, bot, before } = await setUp('recreate.committed:error');
    const op = await failedOperation(first, await first.api('POST', '/bots/alpha/container', { body: { recreate: true } }));
    expect(op.status).toBe('succeeded');
    const now = await expectJson<Container>(first.api('GET', '/bots/alpha/container'), 200);
    expect(now).toMatchObject({ status: 'running', version: before.version + 1 });
    expect(now.id).not.toBe(before.id);
    expect((await first.store.findOperation(op.id))?.journal).not.toBeNull();

    await first.store.close();
    // The next start on the same home; it removes the home when it closes.
    t = await startTestBerth({ driver, home: first.home });
    const closeSecond = t.close.bind(t);
    t.close = async () => {
      await closeSecond();
      fs.rmSync(first.home, { recursive: true, force: true });
    };
    const names = (await driver.listContainers({ labels: [`berth.bot=${bot.id}`] })).map((c) => [c.id, c.name]);
    expect(names).toEqual([[now.id, `berth-${bot.id}`]]);
    expect((await t.store.findOperation(op.id))?.journal).toBeNull();
    expect(await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200)).toMatchObject({ id: now.id, name: `berth-${bot.id}`, status: 'running' });
  });

  it('a recreate whose commit the database refuses is undone: the old container runs on', async () => {
    const { t, driver, bot, before } = await setUp();
    const tree = listTree(t.berth.paths.dataDir(bot.id));
    const commit = t.store.commitVersion.bind(t.store);
    t.store.commitVersion = () => Promise.reject(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    try {
      const op = await failedOperation(t, await t.api('POST', '/bots/alpha/container', { body: { recreate: true } }));
      expect(op.status).toBe('failed');
    } finally {
      t.store.commitVersion = commit;
    }
    await expectAsBefore(t, driver, bot, before, tree);
  });

  it('a merge import whose pause the engine refuses for a while waits for it, then completes', async () => {
    const { t, driver, bot } = await setUp();
    const dataDir = t.berth.paths.dataDir(bot.id);
    // A new directory is moved in by the paused step; the rest before it, while the container runs.
    const archive = await buildTar([{ name: 'dir/', type: 'directory' }, { name: 'dir/new', body: 'new' }, { name: 'one', body: 'replaced' }, { name: 'fresh/', type: 'directory' }, { name: 'fresh/x', body: 'x' }]);
    const pause = driver.pauseContainer.bind(driver);
    let refused = 0;
    driver.pauseContainer = (id) => (++refused <= 2 ? Promise.reject(new AppError('runtime_unavailable', { reason: 'fake: the engine is gone' })) : pause(id));
    const res = await t.berth.app.request('/api/v1/bots/alpha/data/import?mode=merge', { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: archive });
    expect(res.status).toBe(200);
    expect(refused).toBe(3);
    expect(fs.readFileSync(path.join(dataDir, 'one'), 'utf8')).toBe('replaced');
    expect(fs.readFileSync(path.join(dataDir, 'dir', 'two'), 'utf8')).toBe('two');
    expect(fs.readFileSync(path.join(dataDir, 'dir', 'new'), 'utf8')).toBe('new');
    expect(fs.readFileSync(path.join(dataDir, 'fresh', 'x'), 'utf8')).toBe('x');
    expect((await driver.inspectContainer(`berth-${bot.id}`))?.state).toBe('running');
  });

  it('a recreate with a CDI device the host lists but the engine cannot inject keeps the old container running', async () => {
    const { t, driver, bot, before } = await setUp('', new FakeDriver({ images: [IMAGE], cdiDevices: [] }));
    writeTestCdiSpec(t.config.cdiSpecDirs[0] ?? '', [{ name: 'gpu0', env: 'X=1' }]);
    await expectJson(t.api('PATCH', '/bots/alpha', { body: { cdiDevices: ['berth.test/device=gpu0'] } }), 200);
    const tree = listTree(t.berth.paths.dataDir(bot.id));
    const op = await failedOperation(t, await t.api('POST', '/bots/alpha/container', { body: { recreate: true } }));
    expect(op).toMatchObject({ status: 'failed', error: { code: 'cdi_unresolvable' } });
    await expectAsBefore(t, driver, bot, before, tree);
  });

  for (const point of ['restore.staged', 'restore.stopped', 'restore.midway', 'restore.data', 'restore.started']) {
    it(`a restore failing at ${point} leaves container, data, head and version as they were`, async () => {
      const { t, driver, bot, before } = await setUp(`${point}:error`);
      const a = await expectJson<{ id: string }>(t.api('POST', '/bots/alpha/snapshots', { body: { name: 'a' } }), 201);
      fs.writeFileSync(path.join(t.berth.paths.dataDir(bot.id), 'three'), 'three');
      fs.rmSync(path.join(t.berth.paths.dataDir(bot.id), 'one'));
      const tree = listTree(t.berth.paths.dataDir(bot.id));
      const res = await t.api('POST', `/bots/alpha/snapshots/a/restore`, { body: { keepCurrent: false } });
      expect(res.status).toBe(500);
      await expectAsBefore(t, driver, bot, before, tree);
      expect((await t.store.mustGetBot(bot.id)).head_snapshot_id).toBe(a.id);
    });
  }
});
