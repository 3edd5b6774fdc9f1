import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HardLinkedDataSnapshots, RACY_MS } from './data-snapshot-store.js';

/** The hard-linked data trees on real files in a temp dir. */
describe('hard-linked data snapshots', () => {
  let tmp: string;
  let data: string;
  let store: HardLinkedDataSnapshots;
  const bot = 'bot_test';
  const root = () => path.join(tmp, 'snapshots');
  const stored = (snap: string, rel: string) => path.join(root(), snap, 'data', rel);

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-data-snap-'));
    data = path.join(tmp, 'data');
    fs.mkdirSync(data);
    store = new HardLinkedDataSnapshots({ rootOf: () => root() });
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function capture(snap: string, between?: () => void) {
    const c = await store.begin(bot, snap, data);
    await c.precopy();
    between?.();
    await c.catchUp();
    return c.commit();
  }

  /** Lets the racy window pass, so files written so far count as settled. */
  const settle = () => new Promise((r) => setTimeout(r, RACY_MS + 20));

  function tree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const visit = (rel: string) => {
      const abs = path.join(dir, rel);
      const st = fs.lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(abs)}`;
      else if (st.isDirectory()) {
        if (rel) out[rel] = `dir ${mode} ${Math.floor(st.mtimeMs)}`;
        for (const n of fs.readdirSync(abs)) visit(rel ? `${rel}/${n}` : n);
      } else out[rel] = `file ${mode} ${Math.floor(st.mtimeMs)} ${fs.readFileSync(abs, 'utf8')}`;
    };
    visit('');
    return out;
  }

  function populate() {
    fs.mkdirSync(path.join(data, 'a/b'), { recursive: true });
    fs.mkdirSync(path.join(data, 'empty'), { mode: 0o750 });
    fs.writeFileSync(path.join(data, 'a/one.txt'), 'one');
    fs.writeFileSync(path.join(data, 'a/b/two.sh'), '#!/bin/sh\necho two\n', { mode: 0o755 });
    fs.chmodSync(path.join(data, 'a/b/two.sh'), 0o755);
    fs.writeFileSync(path.join(data, 'secret'), 's', { mode: 0o600 });
    fs.symlinkSync('a/one.txt', path.join(data, 'rel-link'));
    fs.symlinkSync('/etc/passwd', path.join(data, 'abs-link'));
    fs.utimesSync(path.join(data, 'a/one.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    fs.utimesSync(path.join(data, 'a'), new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'));
  }

  it('stores files, directories, symlinks (not followed), modes and mtimes, and restores them in place', async () => {
    populate();
    const before = tree(data);
    const summary = await capture('snap_1');
    expect(summary).toMatchObject({ files: 3, symlinks: 2, copiedFiles: 3, linkedFiles: 0 });
    expect(tree(path.join(root(), 'snap_1', 'data'))).toEqual(before);
    // The absolute link is kept as a link: /etc/passwd was not copied in.
    expect(fs.lstatSync(stored('snap_1', 'abs-link')).isSymbolicLink()).toBe(true);

    const inode = fs.statSync(data).ino;
    fs.writeFileSync(path.join(data, 'later.txt'), 'later');
    fs.rmSync(path.join(data, 'a'), { recursive: true });
    fs.writeFileSync(path.join(data, 'secret'), 'changed');
    await store.restore(bot, 'snap_1', data);
    expect(tree(data)).toEqual(before);
    expect(fs.statSync(data).ino).toBe(inode);
  });

  it('skips sockets, FIFOs and devices', async () => {
    fs.writeFileSync(path.join(data, 'f'), 'x');
    execFileSync('mkfifo', [path.join(data, 'fifo')]);
    const summary = await capture('snap_1');
    expect(summary).toMatchObject({ files: 1, skipped: 1 });
    expect(fs.existsSync(stored('snap_1', 'fifo'))).toBe(false);
  });

  it('links files unchanged since the previous snapshot and copies changed ones', async () => {
    populate();
    await settle();
    await capture('snap_1');
    fs.writeFileSync(path.join(data, 'secret'), 'changed');
    fs.writeFileSync(path.join(data, 'new.txt'), 'new');
    await settle();
    const second = await capture('snap_2');
    expect(second).toMatchObject({ files: 4, linkedFiles: 2, copiedFiles: 2 });
    const ino = (snap: string, rel: string) => fs.statSync(stored(snap, rel)).ino;
    expect(ino('snap_2', 'a/one.txt')).toBe(ino('snap_1', 'a/one.txt'));
    expect(ino('snap_2', 'secret')).not.toBe(ino('snap_1', 'secret'));
    expect(fs.readFileSync(stored('snap_1', 'secret'), 'utf8')).toBe('s');
    expect(fs.readFileSync(stored('snap_2', 'secret'), 'utf8')).toBe('changed');
    // Never linked to the live files.
    expect(ino('snap_2', 'a/one.txt')).not.toBe(fs.statSync(path.join(data, 'a/one.txt')).ino);
  });

  it('sees an in-place rewrite of the same size (same inode), also right after a snapshot', async () => {
    const f = path.join(data, 'f');
    fs.writeFileSync(f, 'aaaa');
    await settle();
    await capture('snap_1');
    const rewrite = (text: string) => {
      const fd = fs.openSync(f, 'r+');
      fs.writeSync(fd, text, 0);
      fs.closeSync(fd);
    };
    rewrite('bbbb');
    await capture('snap_2');
    // Rewritten within the racy window of snap_2's look: must not be trusted as unchanged.
    rewrite('cccc');
    await capture('snap_3');
    expect(['snap_1', 'snap_2', 'snap_3'].map((s) => fs.readFileSync(stored(s, 'f'), 'utf8'))).toEqual(['aaaa', 'bbbb', 'cccc']);
  });

  it('catches up with what changed between the pre-copy and the final pass', async () => {
    populate();
    await settle();
    await capture('snap_0');
    const summary = await capture('snap_1', () => {
      fs.writeFileSync(path.join(data, 'secret'), 'during');
      fs.rmSync(path.join(data, 'a/b'), { recursive: true });
      fs.writeFileSync(path.join(data, 'added'), 'added');
      fs.rmSync(path.join(data, 'rel-link'));
      fs.symlinkSync('elsewhere', path.join(data, 'rel-link'));
    });
    expect(tree(path.join(root(), 'snap_1', 'data'))).toEqual(tree(data));
    expect(summary.files).toBe(3);
  });

  it('keeps restored files away from the store: later writes never reach a snapshot', async () => {
    fs.writeFileSync(path.join(data, 'f'), 'original');
    await capture('snap_1');
    await store.restore(bot, 'snap_1', data);
    fs.appendFileSync(path.join(data, 'f'), ' and more');
    expect(fs.readFileSync(stored('snap_1', 'f'), 'utf8')).toBe('original');
    // The next snapshot after a restore links the files still as restored, and copies the rest.
    fs.writeFileSync(path.join(data, 'g'), 'g');
    await settle();
    const next = await capture('snap_2');
    expect(next).toMatchObject({ files: 2, copiedFiles: 2 });
    fs.writeFileSync(path.join(data, 'f'), 'original');
    await store.restore(bot, 'snap_1', data);
    await settle();
    expect(await capture('snap_3')).toMatchObject({ files: 1, linkedFiles: 1, copiedFiles: 0 });
    expect(fs.statSync(stored('snap_3', 'f')).ino).toBe(fs.statSync(stored('snap_1', 'f')).ino);
  });

  it('copies instead of linking when the snapshot holding the earlier copy was deleted', async () => {
    fs.writeFileSync(path.join(data, 'f'), 'x');
    await settle();
    await capture('snap_1');
    await store.remove(bot, 'snap_1');
    expect(await capture('snap_2')).toMatchObject({ files: 1, copiedFiles: 1, linkedFiles: 0 });
    expect(fs.readFileSync(stored('snap_2', 'f'), 'utf8')).toBe('x');
  });

  it('keeps shared data when a snapshot is deleted, and reports what is on disk', async () => {
    fs.writeFileSync(path.join(data, 'f'), 'shared');
    await settle();
    await capture('snap_1');
    await capture('snap_2');
    await store.remove(bot, 'snap_1');
    expect(await store.has(bot, 'snap_1')).toBe(false);
    expect(fs.readFileSync(stored('snap_2', 'f'), 'utf8')).toBe('shared');
    const c = await store.begin(bot, 'snap_3', data);
    await c.precopy();
    expect(await store.onDisk(bot)).toEqual({ snapshots: ['snap_2'], staging: ['.staging-snap_3'] });
    await c.abort();
    expect((await store.onDisk(bot)).staging).toEqual([]);
  });
});
