import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { buildTar, listTree } from '../testing/tree.js';

const IMAGE = 'localhost/berth/test:busybox';

/**
 * Berth stopping in the middle of an import or reset (a crash, a kill) while the data dir is half
 * changed: the next start puts the data dir back as it was, and the old data moved aside is never
 * deleted while it may be the only copy.
 */
describe('an import or reset cut off by a crash', () => {
  let driver: FakeDriver;
  let t: TestBerth;
  let again: TestBerth | null = null;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await again?.close();
    again = null;
    await t.close();
  });

  function raw(berth: TestBerth, method: string, p: string, body?: Buffer): Promise<Response> {
    return Promise.resolve(berth.berth.app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, ...(body && { body }) }));
  }

  /** A bot with a running container and a data dir holding a bit of everything. */
  async function runningBot(): Promise<{ bot: Bot; container: Container; dataDir: string }> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'alpha' } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const container = await expectJson<Container>(t.api('GET', '/bots/alpha/container'), 200);
    const dataDir = t.berth.paths.dataDir(bot.id);
    fs.mkdirSync(path.join(dataDir, 'notes/old'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'notes/todo.md'), '- ship it\n');
    fs.writeFileSync(path.join(dataDir, 'notes/old/2023.md'), 'long ago\n');
    fs.writeFileSync(path.join(dataDir, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dataDir, 'model.bin'), randomBytes(100_000));
    fs.symlinkSync('/usr/bin', path.join(dataDir, 'bin'));
    fs.linkSync(path.join(dataDir, 'run.sh'), path.join(dataDir, 'run-again.sh'));
    return { bot, container, dataDir };
  }

  const archive = () =>
    buildTar(
      [
        { name: 'notes/', type: 'directory', mode: 0o700 },
        { name: 'notes/todo.md', body: '- new list\n' },
        { name: 'notes/new.md', body: 'new\n' },
        { name: 'run.sh', body: 'replaced' },
        { name: 'bin/', type: 'directory', mode: 0o755 },
        { name: 'bin/tool', body: 'tool', mode: 0o755 },
        { name: 'extra.txt', body: 'extra' },
      ],
      { gzip: true },
    );

  /**
   * Lets `renames` renames through, then hangs every later one for good: to the data dir, Berth
   * stopped right there. Resolves with the container's state at that moment.
   */
  function stopAfter(renames: number, containerId: string): Promise<string | undefined> {
    const rename = fsp.rename.bind(fsp);
    let calls = 0;
    return new Promise((resolve) => {
      vi.spyOn(fsp, 'rename').mockImplementation((from, to) => {
        if (++calls <= renames) return rename(from, to);
        void driver.inspectContainer(containerId).then((c) => resolve(c?.state));
        return new Promise<void>(() => undefined);
      });
    });
  }

  /** Berth starting again over the same BERTH_HOME and engine, as after a crash. */
  async function restart(): Promise<TestBerth> {
    vi.restoreAllMocks();
    await again?.close();
    again = await startTestBerth({ driver, home: t.home });
    return again;
  }

  function workDirs(botId: string): string[] {
    return fs.readdirSync(t.berth.paths.botDir(botId)).filter((n) => n !== 'data').sort();
  }

  // A merge of this archive renames two files aside while the container runs (their new versions
  // and the new files are hard-linked in), then, paused, moves the link `bin` aside and the
  // directory `bin` in; a replace only renames, all of it paused.
  it.each([
    ['merge', 1, 'running'],
    ['merge', 2, 'paused'],
    ['merge', 3, 'paused'],
    ['replace', 3, 'paused'],
    ['replace', 8, 'paused'],
  ] as const)('a %s cut off after %i renames (the container %s) is rolled back at the next start, byte for byte, and the container runs', async (mode, renames, state) => {
    const { bot, container, dataDir } = await runningBot();
    const before = listTree(dataDir);
    const inode = fs.statSync(dataDir).ino;
    const stopped = stopAfter(renames, container.id);
    void raw(t, 'POST', `/bots/alpha/data/import?mode=${mode}`, await archive());
    // Entries that replace or remove others move only while the container is paused.
    expect(await stopped).toBe(state);
    expect(listTree(dataDir)).not.toEqual(before);

    const b = await restart();
    expect(listTree(dataDir)).toEqual(before);
    expect(fs.statSync(dataDir).ino).toBe(inode);
    expect(workDirs(bot.id)).toEqual([]);
    expect((await driver.inspectContainer(container.id))?.state).toBe('running');
    expect((await b.berth.operations.recentFor(bot.id, 1))[0]).toMatchObject({ kind: 'import', status: 'failed' });
    // And the bot is fully usable again.
    await expectJson(raw(b, 'POST', `/bots/alpha/data/import?mode=${mode}`, await archive()), 200);
    expect(fs.readFileSync(path.join(dataDir, 'run.sh'), 'utf8')).toBe('replaced');
    expect(workDirs(bot.id)).toEqual([]);
  });

  it('a reset cut off half-way is rolled back at the next start', async () => {
    const { bot, container, dataDir } = await runningBot();
    const before = listTree(dataDir);
    const stopped = stopAfter(3, container.id);
    void raw(t, 'POST', '/bots/alpha/data/reset');
    await stopped;
    expect(listTree(dataDir)).not.toEqual(before);
    await restart();
    expect(listTree(dataDir)).toEqual(before);
    expect(workDirs(bot.id)).toEqual([]);
  });

  it('never deletes old data whose rollback cannot be completed: not at a restart, an import or a reset', async () => {
    const { bot, container, dataDir } = await runningBot();
    const stopped = stopAfter(4, container.id);
    void raw(t, 'POST', '/bots/alpha/data/import?mode=replace', await archive());
    await stopped;
    // The bot took the name of an entry that was moved aside before Berth started again.
    const [trash] = workDirs(bot.id).filter((n) => n.startsWith('.trash-') && !n.includes('.', 1));
    expect(trash).toBeDefined();
    const trashDir = path.join(t.berth.paths.botDir(bot.id), trash as string);
    const moved = fs.readdirSync(trashDir).sort();
    expect(moved.length).toBeGreaterThan(0);
    const blocked = moved[0] as string;
    fs.writeFileSync(path.join(dataDir, blocked), 'new');
    // What cannot go back stays in the trash; the rest goes back.
    const kept = listTree(trashDir).filter((l) => l.startsWith(`${blocked} `) || l.startsWith(`${blocked}/`));

    const b = await restart();
    expect(listTree(trashDir)).toEqual(kept);
    expect(fs.readFileSync(path.join(dataDir, blocked), 'utf8')).toBe('new');
    expect(workDirs(bot.id)).toContain(`${trash}.incomplete`);
    await expectJson(raw(b, 'POST', '/bots/alpha/data/import?mode=merge', await archive()), 200);
    await expectJson(raw(b, 'POST', '/bots/alpha/data/reset'), 200);
    await restart();
    expect(listTree(trashDir)).toEqual(kept);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('keeps a trash dir that has no journal but holds data', async () => {
    const { bot, dataDir } = await runningBot();
    const botDir = t.berth.paths.botDir(bot.id);
    fs.mkdirSync(path.join(botDir, '.trash-op_old/notes'), { recursive: true });
    fs.writeFileSync(path.join(botDir, '.trash-op_old/notes/only-copy.md'), 'precious');
    fs.mkdirSync(path.join(botDir, '.trash-op_empty'));
    fs.mkdirSync(path.join(botDir, '.import-op_cut'));
    fs.writeFileSync(path.join(botDir, '.import-op_cut/half.bin'), 'half an archive');
    await expectJson(raw(t, 'POST', '/bots/alpha/data/reset'), 200);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    expect(workDirs(bot.id)).toEqual(['.trash-op_old']);
    expect(fs.readFileSync(path.join(botDir, '.trash-op_old/notes/only-copy.md'), 'utf8')).toBe('precious');
  });
});
