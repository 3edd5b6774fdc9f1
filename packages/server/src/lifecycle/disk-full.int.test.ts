import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation, SnapshotList } from '@berth/contract';
import type { ImageInfo, RuntimeDriver } from '../runtime/driver.js';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { mountSmallDisk, type SmallDisk } from '../testing/small-disk.js';
import { buildTar, listTree } from '../testing/tree.js';

interface ErrorBody {
  error: { code: string; message: string; details?: { storage?: string } };
}

/**
 * Running out of space on a real, small file system used as BERTH_HOME (data dirs, snapshot trees and
 * the database all on it), with the real Podman engine: 507 insufficient_storage, nothing changed half
 * way, and the bot usable again as soon as space is freed, without a restart.
 */
describe('a full disk under BERTH_HOME', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let disk: SmallDisk | undefined;
  let t: TestBerth | undefined;
  const run = randomBytes(3).toString('hex');
  /** While set, the next image check of a create waits for it: the test fills the disk meanwhile. */
  let gate: { reached: () => void; release: Promise<void> } | null = null;

  beforeAll(async () => {
    podman = await realPodman();
    disk = mountSmallDisk({ sizeMb: 96 });
    // The real driver, with a pause point between an operation's first records and its next ones.
    const driver: RuntimeDriver = Object.create(podman.driver) as RuntimeDriver;
    driver.inspectImage = async (ref: string): Promise<ImageInfo | null> => {
      const g = gate;
      if (g) {
        gate = null;
        g.reached();
        await g.release;
      }
      return podman.driver.inspectImage(ref);
    };
    t = await startTestBerth({ driver, home: disk.home });
  });

  afterAll(async () => {
    try {
      disk?.free();
      await closeTestBerth(t);
    } finally {
      disk?.close();
      await podman?.close();
    }
  });

  const api = () => {
    if (!t) throw new Error('no Berth');
    return t;
  };

  async function runningBot(name: string): Promise<Bot> {
    const bot = await expectJson<Bot>(api().api('POST', '/bots', { body: { name: `${name}-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(api().api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await api().berth.operations.settled(operation.id);
    expect(await api().berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    return bot;
  }

  // Only snapshot images carry the bot's label (its container's image does not). One label filter:
  // the podman CLI does not AND several.
  const snapshotImages = (bot: Bot) => execFileSync('podman', ['images', '--all', '--quiet', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' }).trim();

  it('a snapshot that does not fit answers 507 and leaves no snapshot behind: no tree, no image, no record', async () => {
    const bot = await runningBot('snap');
    const botDir = api().berth.paths.botDir(bot.id);
    fs.writeFileSync(path.join(api().berth.paths.dataDir(bot.id), 'big.bin'), randomBytes(8 * 1024 * 1024));
    const before = await expectJson<SnapshotList>(api().api('GET', `/bots/${bot.id}/snapshots`), 200);
    // Room for the database's few records, not for a copy of the data dir.
    disk!.fill({ leaveBytes: 1024 * 1024 });
    try {
      const body = await expectJson<ErrorBody>(api().api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'full' } }), 507);
      expect(body.error).toMatchObject({ code: 'insufficient_storage', details: { storage: 'data' } });
      expect(body.error.message).toMatch(/BERTH_HOME is full/);
      expect(await expectJson<SnapshotList>(api().api('GET', `/bots/${bot.id}/snapshots`), 200)).toEqual(before);
      const trees = path.join(botDir, 'snapshots');
      expect(fs.existsSync(trees) ? fs.readdirSync(trees) : []).toEqual([]);
      expect(snapshotImages(bot)).toBe('');
      const ops = await expectJson<{ operations: Operation[] }>(api().api('GET', `/bots/${bot.id}/operations`), 200);
      expect(ops.operations[0]).toMatchObject({ kind: 'snapshot', status: 'failed', error: { code: 'insufficient_storage' } });
    } finally {
      disk!.free();
    }
    // With space again, the same snapshot is taken.
    await expectJson(api().api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'full' } }), 201);
  });

  it('an import that does not fit answers 507 (not 413) and leaves the data dir as it was', async () => {
    const bot = await runningBot('import');
    const dataDir = api().berth.paths.dataDir(bot.id);
    fs.mkdirSync(path.join(dataDir, 'docs'));
    fs.writeFileSync(path.join(dataDir, 'docs', 'keep.txt'), 'kept\n');
    fs.writeFileSync(path.join(dataDir, 'notes.txt'), 'before\n');
    const tree = listTree(dataDir);
    const archive = await buildTar([
      { name: 'notes.txt', body: 'after\n' },
      { name: 'big.bin', body: randomBytes(8 * 1024 * 1024) },
    ]);
    disk!.fill({ leaveBytes: 1024 * 1024 });
    try {
      const res = await api().berth.app.request(`/api/v1/bots/${bot.id}/data/import?mode=replace`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: archive });
      const body = await expectJson<ErrorBody>(res, 507);
      expect(body.error).toMatchObject({ code: 'insufficient_storage', details: { storage: 'data' } });
      expect(listTree(dataDir)).toEqual(tree);
      expect(fs.readdirSync(api().berth.paths.botDir(bot.id)).filter((n) => n.startsWith('.import-') || n.startsWith('.trash-'))).toEqual([]);
    } finally {
      disk!.free();
    }
    const ok = await api().berth.app.request(`/api/v1/bots/${bot.id}/data/import?mode=replace`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: archive });
    expect(ok.status).toBe(200);
  });

  it('a restore whose data does not fit answers 507 and leaves container, data, head and version as they were', async () => {
    const bot = await runningBot('restore');
    const dataDir = api().berth.paths.dataDir(bot.id);
    fs.writeFileSync(path.join(dataDir, 'big.bin'), randomBytes(8 * 1024 * 1024));
    const a = await expectJson<{ id: string }>(api().api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 'a' } }), 201);
    fs.writeFileSync(path.join(dataDir, 'later.txt'), 'after a\n');
    const tree = listTree(dataDir);
    const before = await expectJson<Container>(api().api('GET', `/bots/${bot.id}/container`), 200);
    disk!.fill({ leaveBytes: 1024 * 1024 });
    try {
      const body = await expectJson<ErrorBody>(api().api('POST', `/bots/${bot.id}/snapshots/a/restore`, { body: { keepCurrent: false } }), 507);
      expect(body.error).toMatchObject({ code: 'insufficient_storage', details: { storage: 'data' } });
      expect(listTree(dataDir)).toEqual(tree);
      expect(await expectJson<Container>(api().api('GET', `/bots/${bot.id}/container`), 200)).toMatchObject({ id: before.id, status: 'running', version: before.version });
      expect((await expectJson<SnapshotList>(api().api('GET', `/bots/${bot.id}/snapshots`), 200)).head).toBe(a.id);
      expect(fs.readdirSync(api().berth.paths.botDir(bot.id)).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      disk!.free();
    }
    await expectJson(api().api('POST', `/bots/${bot.id}/snapshots/a/restore`, { body: { keepCurrent: false } }), 200);
    expect(fs.existsSync(path.join(dataDir, 'later.txt'))).toBe(false);
  });

  it('a reset on a disk with no block left answers 507 and leaves the data dir as it was', async () => {
    const bot = await runningBot('reset');
    const dataDir = api().berth.paths.dataDir(bot.id);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dataDir, `f${i}.txt`), `file ${i}\n`);
    const tree = listTree(dataDir);
    disk!.fill();
    try {
      const body = await expectJson<ErrorBody>(api().api('POST', `/bots/${bot.id}/data/reset`), 507);
      expect(body.error.code).toBe('insufficient_storage');
      expect(['data', 'database']).toContain(body.error.details?.storage);
      expect(listTree(dataDir)).toEqual(tree);
    } finally {
      disk!.free();
    }
    await expectJson(api().api('POST', `/bots/${bot.id}/data/reset`), 200);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('an operation whose records the database cannot write fails, reads as failed, and the bot takes new operations once space is freed, without a restart', async () => {
    const bot = await expectJson<Bot>(api().api('POST', '/bots', { body: { name: `db-${run}`, image: TEST_IMAGE } }), 201);
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    gate = { reached, release: new Promise<void>((resolve) => (release = resolve)) };

    // The create is recorded, then waits at its image check while the disk fills up to the last block.
    const { operation } = await expectJson<{ operation: Operation }>(api().api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await atGate;
    disk!.fill();
    try {
      release();
      await api().berth.operations.settled(operation.id);
      const failed = await expectJson<Operation>(api().api('GET', `/operations/${operation.id}`), 200);
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'insufficient_storage', details: { storage: 'database' } } });
      expect(failed.finishedAt).not.toBeNull();
      // The database still says running: only Berth's memory knows it ended...
      expect((await api().store.findOperation(operation.id))?.status).toBe('running');
      // ...and the bot is not stuck behind it: a new operation says why it cannot start.
      const refused = await expectJson<ErrorBody>(api().api('POST', `/bots/${bot.id}/container`, { body: {} }), 507);
      expect(refused.error).toMatchObject({ code: 'insufficient_storage', details: { storage: 'database' } });
    } finally {
      gate = null;
      disk!.free();
    }

    const { operation: again } = await expectJson<{ operation: Operation }>(api().api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await api().berth.operations.settled(again.id);
    expect(await expectJson<Operation>(api().api('GET', `/operations/${again.id}`), 200)).toMatchObject({ status: 'succeeded' });
    expect(await expectJson<{ status: string }>(api().api('GET', `/bots/${bot.id}/container`), 200)).toMatchObject({ status: 'running' });
    // The first one's ending is in the database now, with its last event.
    const row = await api().store.findOperation(operation.id);
    expect(row).toMatchObject({ status: 'failed' });
    expect(JSON.parse(row?.error ?? '{}')).toMatchObject({ code: 'insufficient_storage' });
    expect((await api().store.listEvents(operation.id, 0)).at(-1)?.event).toBe('error');
  });
});
