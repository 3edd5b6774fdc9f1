import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation, Snapshot, SnapshotList, VersionList } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { snapshotsDir } from './snapshot-service.js';

/** Snapshots and restore on the real Podman engine and real files, through Berth's API in-process. */
describe('snapshots on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
  });

  afterAll(async () => {
    await closeTestBerth(t);
    await podman?.close();
  });

  async function newBot(name: string): Promise<Bot> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `${name}-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect(await t.berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    return bot;
  }

  const container = (bot: Bot) => expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
  const snap = (bot: Bot, name: string) => expectJson<Snapshot>(t.api('POST', `/bots/${bot.id}/snapshots`, { body: { name } }), 201);
  const list = (bot: Bot) => expectJson<SnapshotList>(t.api('GET', `/bots/${bot.id}/snapshots`), 200);
  const restore = (bot: Bot, s: string, body: Record<string, unknown> = {}) => expectJson<Container>(t.api('POST', `/bots/${bot.id}/snapshots/${s}/restore`, { body }), 200);
  const dataDir = (bot: Bot) => path.join(t.home, 'bots', bot.id, 'data');

  async function sh(bot: Bot, script: string): Promise<string> {
    const c = await container(bot);
    const r = await podman.driver.exec(c.id, ['/bin/sh', '-c', script]);
    expect(r.exitCode, `${script}: ${r.stderr.toString()}`).toBe(0);
    return r.stdout.toString('utf8').trim();
  }

  /** What the root filesystem and the data dir hold, as seen from inside the container. */
  const state = (bot: Bot) => sh(bot, 'for f in /etc/berth-pkg /usr/local/berth-tool /data/notes.txt /data/later.txt; do printf "%s=%s;" "$f" "$(cat $f 2>/dev/null || echo -)"; done');

  it('keeps a running process running, with the same pid, through a snapshot', async () => {
    const bot = await newBot('pid');
    const before = await container(bot);
    // A counter that would start again from 1 if its process were restarted.
    const pid = await sh(bot, "setsid sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done' >/dev/null 2>&1 & echo $!");
    await sh(bot, 'while [ "$(cat /tmp/counter 2>/dev/null || echo 0)" -lt 5 ]; do sleep 0.05; done');
    const s = await snap(bot, 'live');
    const counted = Number(await sh(bot, 'cat /tmp/counter'));
    await sh(bot, `while [ "$(cat /tmp/counter)" -le ${counted} ]; do sleep 0.05; done`);
    expect(await sh(bot, `kill -0 ${pid} && cat /proc/${pid}/cmdline | tr '\\0' ' '`)).toContain('while');
    expect(Number(await sh(bot, 'cat /tmp/counter'))).toBeGreaterThan(counted);
    const after = await container(bot);
    expect(after).toMatchObject({ id: before.id, status: 'running', startedAt: before.startedAt });
    // The pause is reported in the snapshot operation's log.
    const op = (await t.store.db.selectFrom('operations').selectAll().where('bot_id', '=', bot.id).where('kind', '=', 'snapshot').execute())[0];
    const logs = (await t.store.listEvents(op?.id ?? '', 0)).filter((e) => e.event === 'log').map((e) => JSON.parse(e.data) as { message: string });
    expect(logs.map((l) => l.message).join('\n')).toMatch(/container paused for \d+ ms/);
    expect(s.sizeBytes).toBeGreaterThan(0);
  });

  it('restores rootfs and data: files written after A are gone after restoring A and back after restoring the automatic snapshot', async () => {
    const bot = await newBot('restore');
    await sh(bot, 'mkdir -p /usr/local && echo tool > /usr/local/berth-tool && echo notes > /data/notes.txt');
    const a = await snap(bot, 'a');
    await sh(bot, 'echo pkg > /etc/berth-pkg && echo later > /data/later.txt && echo edited > /data/notes.txt');
    const left = await state(bot);
    expect(left).toBe('/etc/berth-pkg=pkg;/usr/local/berth-tool=tool;/data/notes.txt=edited;/data/later.txt=later;');
    const inode = fs.statSync(dataDir(bot)).ino;

    const restored = await restore(bot, 'a');
    expect(restored).toMatchObject({ status: 'running', version: 2, pendingRecreate: false, image: a.image });
    expect(await state(bot)).toBe('/etc/berth-pkg=-;/usr/local/berth-tool=tool;/data/notes.txt=notes;/data/later.txt=-;');
    expect(fs.statSync(dataDir(bot)).ino).toBe(inode);

    const { snapshots, head } = await list(bot);
    expect(head).toBe(a.id);
    const auto = snapshots.find((s) => s.source === 'auto') as Snapshot;
    expect(auto).toMatchObject({ parentId: a.id, version: 1 });
    await restore(bot, auto.id);
    expect(await state(bot)).toBe(left);
    expect(fs.statSync(dataDir(bot)).ino).toBe(inode);
    // And A is still restorable after all that.
    await restore(bot, a.id, { keepCurrent: false });
    expect(await state(bot)).toBe('/etc/berth-pkg=-;/usr/local/berth-tool=tool;/data/notes.txt=notes;/data/later.txt=-;');

    const versions = await expectJson<VersionList>(t.api('GET', `/bots/${bot.id}/versions`), 200);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
    await t.berth.operations.settled(operation.id);
    const after = await expectJson<VersionList>(t.api('GET', `/bots/${bot.id}/versions`), 200);
    expect(after.current).toBe(versions.current + 1);
    expect(after.history.map((v) => [v.reason, v.snapshotId])).toEqual([
      ['create', null],
      ['restore', a.id],
      ['restore', auto.id],
      ['restore', a.id],
      ['recreate', null],
    ]);
    expect(after.history[1]).toMatchObject({ image: a.image });
    expect(after.history[4]).toMatchObject({ image: TEST_IMAGE });
    // A recreate is a new instance from the image: the rootfs change of A is gone, the data stays.
    expect(await state(bot)).toBe('/etc/berth-pkg=-;/usr/local/berth-tool=-;/data/notes.txt=notes;/data/later.txt=-;');
    expect((await list(bot)).head).toBeNull();
  });

  it('builds A→{B,C}; deleting a middle snapshot keeps its children restorable', async () => {
    const bot = await newBot('tree');
    await sh(bot, 'echo a > /etc/berth-pkg && echo a > /data/notes.txt');
    const a = await snap(bot, 'a');
    await sh(bot, 'echo b > /etc/berth-pkg && echo b > /data/notes.txt');
    const b = await snap(bot, 'b');
    await restore(bot, 'a', { keepCurrent: false });
    // C is committed from a container running A's image: its layer sits on A's.
    await sh(bot, 'echo c > /etc/berth-pkg && echo c > /data/notes.txt');
    const c = await snap(bot, 'c');
    await restore(bot, 'c', { keepCurrent: false });
    await sh(bot, 'mkdir -p /usr/local && echo d > /usr/local/berth-tool && echo d > /data/later.txt');
    const d = await snap(bot, 'd');
    let l = await list(bot);
    expect(l.snapshots.map((s) => [s.name, l.snapshots.find((p) => p.id === s.parentId)?.name ?? null])).toEqual([
      ['a', null],
      ['b', 'a'],
      ['c', 'a'],
      ['d', 'c'],
    ]);

    // Delete the middle snapshot C (its image is the base of D's, and the running container uses it).
    expect((await t.api('DELETE', `/bots/${bot.id}/snapshots/c`)).status).toBe(204);
    l = await list(bot);
    expect(l.snapshots.find((s) => s.id === d.id)?.parentId).toBe(a.id);
    expect(execFileSync('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' })).not.toContain(c.id);
    await restore(bot, 'b', { keepCurrent: false });
    expect(await state(bot)).toBe('/etc/berth-pkg=b;/usr/local/berth-tool=-;/data/notes.txt=b;/data/later.txt=-;');
    await restore(bot, d.id, { keepCurrent: false });
    expect(await state(bot)).toBe('/etc/berth-pkg=c;/usr/local/berth-tool=d;/data/notes.txt=c;/data/later.txt=d;');
    expect((await list(bot)).head).toBe(d.id);
    // With no container on it any more, C's released image is gone too.
    expect(execFileSync('podman', ['images', '-a', '--quiet', '--filter', `label=berth.snapshot=${c.id}`], { encoding: 'utf8' }).trim()).toBe('');
    void b;
  });

  it('stores unchanged data once: the second snapshot after a 1 MB change grows the store by about 1 MB', async () => {
    const bot = await newBot('incr');
    // 20 MB in 200 files of 100 KiB, written on the host into the bind-mounted data dir.
    const dir = path.join(dataDir(bot), 'blobs');
    fs.mkdirSync(dir);
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(dir, `f${i}`), randomBytes(100 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    const root = snapshotsDir(t.berth.paths, bot.id);
    const first = await snap(bot, 'one');
    const afterFirst = du(root);
    expect(afterFirst).toBeGreaterThan(200 * 100 * 1024);
    // Change 1 MB: ten files rewritten.
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `f${i}`), randomBytes(100 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    const second = await snap(bot, 'two');
    const growth = du(root) - afterFirst;
    const changed = 10 * 100 * 1024;
    expect(growth).toBeGreaterThanOrEqual(changed);
    expect(growth).toBeLessThan(changed * 1.2);
    // sizeBytes: its new data bytes plus its (small) root filesystem layer.
    expect(second.sizeBytes).toBeGreaterThanOrEqual(changed);
    expect(second.sizeBytes).toBeLessThan(changed * 1.2 + 64 * 1024);
    expect(first.sizeBytes).toBeGreaterThan(200 * 100 * 1024);
    // Restoring the first brings every byte back.
    const sum = () => execFileSync('sh', ['-c', `cd '${dir}' && cat f0 f5 f150 | sha256sum`], { encoding: 'utf8' });
    const now = sum();
    await restore(bot, 'one', { keepCurrent: false });
    expect(sum()).not.toBe(now);
    await restore(bot, 'two', { keepCurrent: false });
    expect(sum()).toBe(now);
  });

  it('keeps the data of a deleted container: restoring A saves it as a data-only snapshot, and restoring that brings it back', async () => {
    const bot = await newBot('nocontainer');
    await sh(bot, 'mkdir -p /usr/local && echo tool > /usr/local/berth-tool && echo notes > /data/notes.txt');
    const a = await snap(bot, 'a');
    await sh(bot, 'echo later > /data/later.txt && echo edited > /data/notes.txt');
    expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
    expect(execFileSync('podman', ['ps', '-a', '--quiet', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' }).trim()).toBe('');

    await restore(bot, 'a');
    expect(await state(bot)).toBe('/etc/berth-pkg=-;/usr/local/berth-tool=tool;/data/notes.txt=notes;/data/later.txt=-;');
    const auto = (await list(bot)).snapshots.find((s) => s.source === 'auto') as Snapshot;
    expect(auto).toMatchObject({ parentId: a.id, image: null, missing: [] });
    expect(execFileSync('podman', ['images', '-a', '--quiet', '--filter', `label=berth.snapshot=${auto.id}`], { encoding: 'utf8' }).trim()).toBe('');

    // The data comes back in a container made from the bot's image, as a create would make it.
    const restored = await restore(bot, auto.id, { keepCurrent: false });
    expect(restored).toMatchObject({ status: 'running', image: TEST_IMAGE });
    expect(await state(bot)).toBe('/etc/berth-pkg=-;/usr/local/berth-tool=-;/data/notes.txt=edited;/data/later.txt=later;');
    expect((await list(bot)).head).toBe(auto.id);
  });

  it('snapshots and restores a stopped container, which stays stopped', async () => {
    const bot = await newBot('stopped');
    await sh(bot, 'echo one > /etc/berth-pkg');
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: { timeoutSeconds: 1 } }), 200);
    await snap(bot, 'cold');
    expect((await container(bot)).status).toBe('stopped');
    expect((await restore(bot, 'cold')).status).toBe('stopped');
    await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/start`), 200);
    expect(await sh(bot, 'cat /etc/berth-pkg')).toBe('one');
  });

  it('deleting the bot removes its snapshot images and trees', async () => {
    const bot = await newBot('gone');
    await snap(bot, 'a');
    await restore(bot, 'a');
    const images = () => execFileSync('podman', ['images', '-a', '--quiet', '--filter', `label=berth.bot=${bot.id}`], { encoding: 'utf8' }).trim();
    expect(images()).not.toBe('');
    expect((await t.api('DELETE', `/bots/${bot.id}`)).status).toBe(204);
    expect(images()).toBe('');
    expect(fs.existsSync(path.join(t.home, 'bots', bot.id))).toBe(false);
  });
});

/** Disk bytes under a directory, counting each hard-linked inode once (as `du` does). */
function du(dir: string): number {
  return Number(execFileSync('du', ['-s', '--block-size=1', dir], { encoding: 'utf8' }).split(/\s+/)[0]);
}
