import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthApiError, type Bot, type Operation } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { realPodman } from '../packages/server/src/testing/podman.js';
import { buildTar, listTree } from '../packages/server/src/testing/tree.js';
import { startServer, type ServerProcess } from './server-process.js';

const TEST_IMAGE = 'localhost/berth/test:busybox';

/**
 * `kill -9` of the server at each named step of create, recreate, restore, snapshot, import and
 * reset (BERTH_FAILPOINTS=<step>:crash), then a restart on the same home: every operation is
 * all or nothing, and one whose effect was committed is reported as succeeded. Each case checks what
 * a user sees afterwards: the operation's outcome, the container (same id, running, its root
 * filesystem), the data dir's checksums, the version and the snapshot tree.
 */
describe('a kill -9 at each step of an operation', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let server: ServerProcess | undefined;
  let client: BerthClient;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-crash-'));
  const token = `berth_crash_${randomBytes(16).toString('hex')}`;
  const run = randomBytes(3).toString('hex');

  const start = async (env: Record<string, string> = {}) => {
    server = await startServer({ home, token, env: { BERTH_RUNTIME_SOCKET: podman.socketPath, BERTH_LOG_LEVEL: 'warn', ...env } });
    client = new BerthClient({ baseUrl: server.url, token });
  };

  beforeAll(async () => {
    podman = await realPodman();
    await start();
  });

  afterAll(async () => {
    try {
      if (server) {
        for (const b of await client.listBots().catch(() => [])) await client.deleteBot(b.id).catch(() => undefined);
        await server.kill();
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
      await podman?.close();
    }
  });

  /**
   * Restarts the server with `point` set to crash, runs `trigger` (which the crash cuts off), waits for
   * the kill, starts the server again without it, and answers the bot's newest operation.
   */
  async function crashAt(point: string, bot: Bot, trigger: (c: BerthClient) => Promise<unknown>): Promise<Operation> {
    await server?.kill();
    await start({ BERTH_FAILPOINTS: `${point}:crash` });
    const crashing = server as ServerProcess;
    const exited = new Promise<void>((resolve) => {
      if (crashing.child.exitCode !== null || crashing.child.signalCode !== null) resolve();
      else crashing.child.once('exit', () => resolve());
    });
    const triggered = trigger(client).catch(() => undefined);
    // An operation that ends without reaching the point fails the test instead of waiting forever.
    const missed = triggered.then(() => sleep(10_000)).then(() => Promise.reject(new Error(`the operation ended without reaching ${point}`)));
    await Promise.race([exited, missed]);
    missed.catch(() => undefined);
    expect(crashing.child.signalCode).toBe('SIGKILL');
    expect(crashing.output()).toContain(`failpoint ${point}: crash`);
    await start();
    const [op] = await client.listOperations(bot.id, { limit: 1 });
    if (!op) throw new Error('no operation recorded');
    return op;
  }

  async function newRunningBot(name: string): Promise<Bot> {
    const bot = await client.createBot({ name: `${name}-${run}`, image: TEST_IMAGE });
    await settle(client.createContainerStream(bot.id));
    return bot;
  }

  async function settle(stream: AsyncIterable<{ event: string }>): Promise<string | undefined> {
    let last: string | undefined;
    for await (const ev of stream) last = ev.event;
    return last;
  }

  async function sh(bot: Bot, command: string): Promise<string> {
    const r = await client.exec(bot.id, { command });
    return r.stdout;
  }

  /** Every container the engine has for the bot, by name. */
  function engineContainers(bot: Bot): { name: string; id: string; state: string }[] {
    const out = execFileSync('podman', ['ps', '-a', '--filter', `label=berth.bot=${bot.id}`, '--format', '{{.Names}} {{.ID}} {{.State}}'], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name = '', id = '', state = ''] = l.split(' ');
        return { name, id, state };
      });
  }

  const dataDir = (bot: Bot) => path.join(home, 'bots', bot.id, 'data');
  const botDirEntries = (bot: Bot) => fs.readdirSync(path.join(home, 'bots', bot.id)).filter((n) => n !== 'data' && n !== 'snapshots').sort();

  async function containerOrNull(bot: Bot) {
    return client.getContainer(bot.id).catch((err: unknown) => {
      if (err instanceof BerthApiError && err.code === 'container_not_found') return null;
      throw err;
    });
  }

  describe('create', () => {
    for (const point of ['create.created', 'create.started']) {
      it(`${point}: failed, and the bot has no container and no version`, async () => {
        const bot = await client.createBot({ name: `c-${point.split('.')[1]}-${run}`, image: TEST_IMAGE });
        const op = await crashAt(point, bot, (c) => c.createContainer(bot.id));
        expect(op).toMatchObject({ kind: 'create', status: 'failed' });
        expect(engineContainers(bot)).toEqual([]);
        expect(await containerOrNull(bot)).toBeNull();
        expect((await client.listVersions(bot.id)).current).toBe(0);
        // The bot is as new: a create works.
        expect(await settle(client.createContainerStream(bot.id))).toBe('done');
        expect((await client.getContainer(bot.id)).version).toBe(1);
      });
    }

    it('create.committed: succeeded, with the container running at version 1', async () => {
      const bot = await client.createBot({ name: `c-committed-${run}`, image: TEST_IMAGE });
      const op = await crashAt('create.committed', bot, (c) => c.createContainer(bot.id));
      expect(op).toMatchObject({ kind: 'create', status: 'succeeded' });
      const c = await client.getContainer(bot.id);
      expect(c).toMatchObject({ status: 'running', version: 1, name: `berth-${bot.id}` });
      expect(engineContainers(bot).map((e) => e.name)).toEqual([`berth-${bot.id}`]);
    });
  });

  describe('recreate', () => {
    let bot: Bot;
    let before: { id: string; version: number };

    beforeAll(async () => {
      bot = await newRunningBot('recreate');
      await sh(bot, 'echo kept > /etc/marker && echo data > /data/file');
      const c = await client.getContainer(bot.id);
      before = { id: c.id, version: c.version };
    });

    /** The bot as it was: the same container, running, its root filesystem change still there. */
    async function expectUnchanged(): Promise<void> {
      const c = await client.getContainer(bot.id);
      expect(c).toMatchObject({ id: before.id, status: 'running', version: before.version, name: `berth-${bot.id}` });
      expect(await sh(bot, 'cat /etc/marker /data/file')).toBe('kept\ndata\n');
      expect(engineContainers(bot).map((e) => e.id)).toEqual([before.id.slice(0, 12)]);
      expect((await client.listVersions(bot.id)).current).toBe(before.version);
    }

    for (const point of ['recreate.created', 'recreate.stopped', 'recreate.started']) {
      it(`${point}: failed, and the old container runs on with its root filesystem`, async () => {
        const op = await crashAt(point, bot, (c) => c.createContainer(bot.id, { recreate: true }));
        expect(op).toMatchObject({ kind: 'recreate', status: 'failed' });
        await expectUnchanged();
      });
    }

    it('a recreate whose image cannot be had fails and leaves the old container running', async () => {
      await client.updateBot(bot.id, { image: `localhost/berth/missing-${run}:nope` });
      try {
        const events = [];
        for await (const ev of client.createContainerStream(bot.id, { recreate: true })) events.push(ev);
        expect(events.at(-1)?.event).toBe('error');
        expect(['image_not_found', 'image_pull_failed']).toContain((events.at(-1)?.data as { code: string }).code);
        await expectUnchanged();
      } finally {
        await client.updateBot(bot.id, { image: TEST_IMAGE });
      }
    });

    it('recreate.committed: succeeded, with the new container under the bot’s name and the data kept', async () => {
      const op = await crashAt('recreate.committed', bot, (c) => c.createContainer(bot.id, { recreate: true }));
      expect(op).toMatchObject({ kind: 'recreate', status: 'succeeded' });
      const c = await client.getContainer(bot.id);
      expect(c.id).not.toBe(before.id);
      expect(c).toMatchObject({ status: 'running', version: before.version + 1, name: `berth-${bot.id}` });
      expect(engineContainers(bot).map((e) => e.name)).toEqual([`berth-${bot.id}`]);
      expect(await sh(bot, 'cat /data/file; test -e /etc/marker || echo gone')).toBe('data\ngone\n');
    });
  });

  describe('restore, snapshot, import and reset', () => {
    let bot: Bot;
    let snapA: string;
    let treeA: string[];
    let current: { id: string; version: number; head: string | null; tree: string[]; snapshots: string[] };

    beforeAll(async () => {
      bot = await newRunningBot('restore');
      await sh(bot, 'mkdir -p /data/notes && echo a > /data/notes/a && echo one > /data/one && echo A > /etc/marker');
      snapA = (await client.createSnapshot(bot.id, { name: 'a' })).id;
      treeA = listTree(dataDir(bot));
      await sh(bot, 'echo b > /data/notes/b && echo changed > /data/one && echo two > /data/two && echo B > /etc/marker');
      await remember();
    });

    async function remember(): Promise<void> {
      const c = await client.getContainer(bot.id);
      const list = await client.listSnapshots(bot.id);
      current = { id: c.id, version: c.version, head: list.head, tree: listTree(dataDir(bot)), snapshots: list.snapshots.map((s) => s.id).sort() };
    }

    /** Nothing changed: the same container running with its root filesystem, the same data, version, head and snapshots. */
    async function expectUnchanged(): Promise<void> {
      const c = await client.getContainer(bot.id);
      expect(c).toMatchObject({ id: current.id, status: 'running', version: current.version });
      expect(await sh(bot, 'cat /etc/marker')).toBe('B\n');
      expect(listTree(dataDir(bot))).toEqual(current.tree);
      const list = await client.listSnapshots(bot.id);
      expect(list.head).toBe(current.head);
      expect(list.snapshots.map((s) => s.id).sort()).toEqual(current.snapshots);
      expect(engineContainers(bot).map((e) => e.id)).toEqual([current.id.slice(0, 12)]);
      // No work dirs left beside the data dir.
      expect(botDirEntries(bot)).toEqual([]);
      // No snapshot image without a snapshot.
      const images = execFileSync('podman', ['images', '--filter', `label=berth.bot=${bot.id}`, '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(images.map((i) => i.split(':').at(-1)).sort()).toEqual(list.snapshots.filter((s) => s.image).map((s) => s.id).sort());
    }

    for (const point of ['restore.staged', 'restore.stopped', 'restore.midway', 'restore.data', 'restore.started']) {
      it(`${point}: failed, and the bot is exactly as before`, async () => {
        const op = await crashAt(point, bot, (c) => c.restoreSnapshot(bot.id, snapA, { keepCurrent: false }));
        expect(op).toMatchObject({ kind: 'restore', status: 'failed' });
        await expectUnchanged();
      });
    }

    it('restore.snapshot: failed; the automatic snapshot it took stays, as the head', async () => {
      const op = await crashAt('restore.snapshot', bot, (c) => c.restoreSnapshot(bot.id, snapA));
      expect(op).toMatchObject({ kind: 'restore', status: 'failed' });
      const list = await client.listSnapshots(bot.id);
      const auto = list.snapshots.find((s) => s.source === 'auto');
      expect(auto).toBeDefined();
      expect(list.head).toBe(auto?.id);
      current.head = auto?.id ?? null;
      current.snapshots = list.snapshots.map((s) => s.id).sort();
      await expectUnchanged();
    });

    for (const point of ['snapshot.precopy', 'snapshot.commit']) {
      it(`${point}: failed, with no snapshot, image or tree left and the container not paused`, async () => {
        const op = await crashAt(point, bot, (c) => c.createSnapshot(bot.id, { name: `cut-${point.split('.')[1]}` }));
        expect(op).toMatchObject({ kind: 'snapshot', status: 'failed' });
        expect(fs.readdirSync(path.join(home, 'bots', bot.id, 'snapshots')).filter((n) => !n.startsWith('.') && n.startsWith('snap_')).sort()).toEqual(current.snapshots);
        await expectUnchanged();
      });
    }

    const archive = () => buildTar([{ name: 'imported.txt', body: 'imported\n' }, { name: 'notes/', type: 'directory' }, { name: 'notes/c', body: 'c\n' }]);

    for (const [point, mode] of [['import.received', 'replace'], ['import.midway', 'replace'], ['import.midway', 'merge']] as const) {
      it(`${point} (${mode}): failed, and the data dir is as before`, async () => {
        const body = await archive();
        const op = await crashAt(point, bot, (c) => c.importData(bot.id, body, { mode }));
        expect(op).toMatchObject({ kind: 'import', status: 'failed' });
        await expectUnchanged();
      });
    }

    it('reset.midway: failed, and the data dir is as before', async () => {
      const op = await crashAt('reset.midway', bot, (c) => c.resetData(bot.id));
      expect(op).toMatchObject({ kind: 'reset', status: 'failed' });
      await expectUnchanged();
    });

    it('restore.committed: succeeded; data, root filesystem, head and version are the snapshot’s, and the next snapshot descends from it', async () => {
      const op = await crashAt('restore.committed', bot, (c) => c.restoreSnapshot(bot.id, snapA, { keepCurrent: false }));
      expect(op).toMatchObject({ kind: 'restore', status: 'succeeded' });
      const c = await client.getContainer(bot.id);
      expect(c).toMatchObject({ status: 'running', version: current.version + 1, name: `berth-${bot.id}` });
      expect(await sh(bot, 'cat /etc/marker')).toBe('A\n');
      expect(listTree(dataDir(bot))).toEqual(treeA);
      expect((await client.listSnapshots(bot.id)).head).toBe(snapA);
      expect((await client.listVersions(bot.id)).history.at(-1)).toMatchObject({ reason: 'restore', snapshotId: snapA });
      expect(botDirEntries(bot)).toEqual([]);
      const next = await client.createSnapshot(bot.id, { name: 'after' });
      expect(next.parentId).toBe(snapA);
      await remember();
    });

    it('import.applied: succeeded, with the archive in the data dir', async () => {
      const body = await archive();
      const op = await crashAt('import.applied', bot, (c) => c.importData(bot.id, body, { mode: 'replace' }));
      expect(op).toMatchObject({ kind: 'import', status: 'succeeded' });
      expect(fs.readFileSync(path.join(dataDir(bot), 'imported.txt'), 'utf8')).toBe('imported\n');
      expect(fs.readdirSync(dataDir(bot)).sort()).toEqual(['imported.txt', 'notes']);
      expect(botDirEntries(bot)).toEqual([]);
    });

    it('reset.applied: succeeded, with the data dir empty', async () => {
      const op = await crashAt('reset.applied', bot, (c) => c.resetData(bot.id));
      expect(op).toMatchObject({ kind: 'reset', status: 'succeeded' });
      expect(fs.readdirSync(dataDir(bot))).toEqual([]);
      expect(botDirEntries(bot)).toEqual([]);
    });
  });
});
