import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import { buildTar, listTree, type TarEntry } from '../testing/tree.js';
import { emptyContents, incompleteOf, journalOf, mergeContents, recoverApply, replaceContents } from '../core/apply-staging.js';
import { exportArchive } from './export-archive.js';
import { DEFAULT_IMPORT_LIMITS, extractArchive, type ImportLimits } from './import-archive.js';

const LIMITS: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, maxBytes: 256 * 1024 * 1024 };

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function dir(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** A tree with what a bot's data dir holds: odd modes, symlinks of every kind, hard links, long and non-ASCII names. */
function sampleTree(root: string): void {
  const w = (rel: string, data: string | Buffer, mode?: number) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
    if (mode !== undefined) fs.chmodSync(path.join(root, rel), mode);
  };
  w('hello.txt', 'hello\n');
  w('empty', '');
  w('bin/run.sh', '#!/bin/sh\necho hi\n', 0o755);
  w('secret', 'no one may read me', 0o000);
  w('big.bin', randomBytes(3 * 1024 * 1024 + 17));
  w(`deep/${'d'.repeat(120)}/${'n'.repeat(200)}.txt`, 'long path');
  w('ünïcödé/日本語.txt', 'utf-8 names');
  fs.mkdirSync(path.join(root, 'empty-dir'));
  fs.mkdirSync(path.join(root, 'shared'), { mode: 0o777 });
  fs.chmodSync(path.join(root, 'shared'), 0o1777);
  w('readonly/inside.txt', 'in a read-only dir');
  fs.chmodSync(path.join(root, 'readonly'), 0o555);
  fs.symlinkSync('hello.txt', path.join(root, 'rel-link'));
  fs.symlinkSync('/etc/hostname', path.join(root, 'abs-link'));
  fs.symlinkSync('does/not/exist', path.join(root, 'dangling'));
  fs.symlinkSync('bin', path.join(root, 'dir-link'));
  fs.linkSync(path.join(root, 'hello.txt'), path.join(root, 'bin/hello-hard'));
  w('owned', 'by someone else');
  fs.chownSync(path.join(root, 'owned'), 1234, 5678);
}

async function exportTo(src: string, file: string): Promise<void> {
  await pipeline(exportArchive(src), fs.createWriteStream(file));
}

async function extractTo(source: AsyncIterable<Uint8Array>, into: string, limits: ImportLimits = LIMITS) {
  return extractArchive(source, into, { limits, keepOwners: true });
}

async function* chunks(buf: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('export and extract', () => {
  it('round-trips files, modes, owners, symlinks and hard links byte for byte', async () => {
    const src = dir('src');
    sampleTree(src);
    const file = path.join(tmp, 'data.tar.gz');
    await exportTo(src, file);

    const out = dir('out');
    const result = await extractTo(fs.createReadStream(file), out);
    expect(listTree(out)).toEqual(listTree(src));
    const bytes = (['hello.txt', 'bin/run.sh', 'secret', 'big.bin', `deep/${'d'.repeat(120)}/${'n'.repeat(200)}.txt`, 'ünïcödé/日本語.txt', 'readonly/inside.txt', 'owned'] as const).reduce(
      (n, f) => n + fs.statSync(path.join(src, f)).size,
      0,
    );
    // Regular files, symlinks and the hard link; the file content bytes.
    expect(result).toMatchObject({ files: 14, bytes });
    // Times are kept to the second, as tar stores them.
    expect(Math.floor(fs.statSync(path.join(out, 'big.bin')).mtimeMs / 1000)).toBe(Math.floor(fs.statSync(path.join(src, 'big.bin')).mtimeMs / 1000));
    expect(fs.lstatSync(path.join(out, 'bin/hello-hard')).ino).toBe(fs.lstatSync(path.join(out, 'hello.txt')).ino);
  });

  it('writes archives GNU tar reads, and reads what GNU tar writes, gzipped or not', async () => {
    const src = dir('src');
    sampleTree(src);
    const ours = path.join(tmp, 'ours.tar.gz');
    await exportTo(src, ours);
    const byTar = dir('by-tar');
    execFileSync('tar', ['-xzf', ours, '-C', byTar]);
    expect(listTree(byTar)).toEqual(listTree(src));

    for (const flags of ['-czf', '-cf']) {
      const theirs = path.join(tmp, `theirs${flags}`);
      execFileSync('tar', [flags, theirs, '-C', src, '.']);
      const out = dir(`from-tar${flags}`);
      await extractTo(fs.createReadStream(theirs), out);
      expect(listTree(out)).toEqual(listTree(src));
    }
  });

  it('gives an empty archive for a missing directory', async () => {
    const file = path.join(tmp, 'none.tar.gz');
    await exportTo(path.join(tmp, 'missing'), file);
    expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })).toBe('');
  });

  it.each(['shrinks', 'grows'] as const)('stays a valid archive while a file %s as it is read, and skips entries that vanish', async (change) => {
    const src = dir('src');
    // Incompressible, and far larger than what backpressure lets the exporter read ahead.
    const size = 32 * 1024 * 1024;
    const original = randomBytes(size);
    fs.writeFileSync(path.join(src, 'a-changes'), original);
    fs.writeFileSync(path.join(src, 'c-vanishes'), 'gone soon');
    fs.writeFileSync(path.join(src, 'd-stays'), 'still here');
    const file = path.join(tmp, 'moving.tar.gz');

    const stream = exportArchive(src, { readChunkBytes: 64 * 1024 });
    let changed = false;
    stream.on('data', () => {
      if (changed) return;
      changed = true;
      if (change === 'shrinks') fs.truncateSync(path.join(src, 'a-changes'), 1000);
      else fs.appendFileSync(path.join(src, 'a-changes'), Buffer.alloc(1024 * 1024, 0xff));
      fs.rmSync(path.join(src, 'c-vanishes'));
    });
    await pipeline(stream, fs.createWriteStream(file));
    expect(changed).toBe(true);

    const listing = execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' });
    expect(listing).toContain('d-stays');
    expect(listing).not.toContain('c-vanishes');
    const into = dir('out');
    await extractTo(fs.createReadStream(file), into);
    // The header promised the size at open time: no more is read, and a file that shrank is padded.
    const read = fs.readFileSync(path.join(into, 'a-changes'));
    expect(read.length).toBe(size);
    if (change === 'grows') expect(read.equals(original)).toBe(true);
    else expect(read.subarray(-4096).every((b) => b === 0)).toBe(true);
    expect(fs.readFileSync(path.join(into, 'd-stays'), 'utf8')).toBe('still here');
  });
});

describe('extract: the archive rules of SPEC §5', () => {
  async function expectRejected(entries: TarEntry[], code: 'archive_invalid' | 'archive_too_large', message: RegExp, limits: ImportLimits = LIMITS) {
    const err = await rejection(extractTo(chunks(await buildTar(entries)), dir(`staging-${randomBytes(3).toString('hex')}`), limits));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  }

  it('rejects escapes: absolute paths, "..", writes through symlinks, foreign hard links', async () => {
    await expectRejected([{ name: '/etc/evil', body: 'x' }], 'archive_invalid', /entry "\/etc\/evil" has an absolute path/);
    await expectRejected([{ name: 'a/../../evil', body: 'x' }], 'archive_invalid', /entry "a\/..\/..\/evil" has a "\.\." component/);
    await expectRejected(
      [
        { name: 'link', type: 'symlink', linkname: '/tmp' },
        { name: 'link/evil', body: 'x' },
      ],
      'archive_invalid',
      /entry "link\/evil" would be written through the symlink "link"/,
    );
    await expectRejected(
      [
        { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'link', body: 'x' },
      ],
      'archive_invalid',
      /entry "link" would be written through the symlink/,
    );
    await expectRejected([{ name: 'hard', type: 'link', linkname: '/etc/passwd' }], 'archive_invalid', /hard link to "\/etc\/passwd", which is not a file earlier in the same archive/);
    await expectRejected(
      [
        { name: 'hard', type: 'link', linkname: 'later' },
        { name: 'later', body: 'x' },
      ],
      'archive_invalid',
      /hard link to "later"/,
    );
    await expectRejected(
      [
        { name: 'd', type: 'directory' },
        { name: 'hard', type: 'link', linkname: 'd' },
      ],
      'archive_invalid',
      /hard link to "d"/,
    );
  });

  it('rejects devices and FIFOs', async () => {
    await expectRejected([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], 'archive_invalid', /entry "null" is a device node/);
    await expectRejected([{ name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 }], 'archive_invalid', /entry "disk" is a device node/);
    await expectRejected([{ name: 'pipe', type: 'fifo' }], 'archive_invalid', /entry "pipe" is a FIFO/);
  });

  it('rejects GNU sparse files in both of GNU tar’s formats rather than import them wrong', async () => {
    const src = dir('sparse-src');
    fs.writeFileSync(path.join(src, 'disk.img'), 'head');
    fs.truncateSync(path.join(src, 'disk.img'), 8 * 1024 * 1024);
    fs.appendFileSync(path.join(src, 'disk.img'), 'tail');
    for (const format of ['gnu', 'posix']) {
      const file = path.join(tmp, `sparse-${format}.tar`);
      execFileSync('tar', ['--sparse', `--format=${format}`, '-cf', file, '-C', src, '.']);
      const err = await rejection(extractTo(fs.createReadStream(file), dir(`staging-${format}`)));
      expect(err.code).toBe('archive_invalid');
      expect(err.message).toMatch(/disk.img" (has a type Berth does not import, such as a GNU sparse file|is a sparse file in GNU's format)/);
    }
  });

  it('enforces the limits: bytes, entries, path and name length', async () => {
    const small = { ...LIMITS, maxBytes: 100_000, maxEntries: 5 };
    await expectRejected([{ name: 'big', body: Buffer.alloc(200_000) }], 'archive_too_large', /entry "big" \(200000 bytes\) takes it past the limit of 100000 bytes/, small);
    await expectRejected(
      Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, body: 'x' })),
      'archive_too_large',
      /more than 5 entries/,
      small,
    );
    // Directories a path implies count too: deep paths cannot make the importer hold more than the limit.
    await expectRejected([{ name: 'a/b/c/d/e/f', body: 'x' }], 'archive_too_large', /more than 5 entries \(directories its paths imply included\)/, small);
    await expectRejected([{ name: `${'a/'.repeat(2100)}f`, body: 'x' }], 'archive_invalid', /path longer than 4096 bytes/);
    await expectRejected([{ name: `${'n'.repeat(256)}`, body: 'x' }], 'archive_invalid', /name longer than 255 bytes/);
  });

  it('stops a gzip bomb as soon as it passes the limit, long before inflating it', async () => {
    // 512 MiB of zeros in about 500 kB: tar reads zero blocks as end-of-archive padding, forever.
    const bomb = path.join(tmp, 'bomb.gz');
    await pipeline(
      (async function* () {
        const zeros = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < 512; i++) yield zeros;
      })(),
      createGzip({ level: 9 }),
      fs.createWriteStream(bomb),
    );
    const compressed = fs.statSync(bomb).size;
    let read = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of fs.createReadStream(bomb, { highWaterMark: 4 * 1024 })) {
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    const err = await rejection(extractTo(counted(), dir('staging'), { ...LIMITS, maxBytes: 8 * 1024 * 1024 }));
    expect(err.code).toBe('archive_too_large');
    expect(err.message).toMatch(/larger than the limit of 8388608 bytes uncompressed/);
    // 8 MiB of 512 MiB inflated: well under a tenth of the compressed bytes were read.
    expect(read).toBeLessThan(compressed / 10);
  });

  it('rejects bodies that are empty, not archives, truncated or cut at an entry boundary', async () => {
    const tarball = await buildTar([
      { name: 'a', body: Buffer.alloc(5000, 1) },
      { name: 'b', body: 'bee' },
    ]);
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /the body is empty/],
      [Buffer.from('this is not an archive, just some text that is long enough to look like something'), /not a tar or tar.gz archive/],
      [randomBytes(4096), /not a tar or tar.gz archive/],
      [tarball.subarray(0, 3000), /truncated: it ends inside entry "a"/],
      [(await buildTar([{ name: 'a', body: 'x' }], { gzip: true })).subarray(0, 30), /gzip stream is corrupt or truncated/],
      [await buildTar([{ name: 'a', body: 'x' }], { endMarker: false }), /truncated: it ends after entry "a" without tar's end-of-archive marker/],
    ];
    for (const [body, message] of cases) {
      const err = await rejection(extractTo(chunks(body), dir(`staging-${randomBytes(3).toString('hex')}`)));
      expect(err.code).toBe('archive_invalid');
      expect(err.message).toMatch(message);
    }
  });

  it('clears set-uid and set-gid, keeps sticky, fills read-only directories, lets a later file win', async () => {
    const out = dir('out');
    await extractTo(
      chunks(
        await buildTar([
          { name: 'ro', type: 'directory', mode: 0o555 },
          { name: 'ro/file', body: 'in ro', mode: 0o644 },
          { name: 'suid', body: '#!/bin/sh\n', mode: 0o4755 },
          { name: 'sgid-dir', type: 'directory', mode: 0o2775 },
          { name: 'tmp', type: 'directory', mode: 0o1777 },
          { name: 'dup', body: 'first' },
          { name: 'dup', body: 'second' },
          { name: './', type: 'directory', mode: 0o700 },
        ], { gzip: true }),
      ),
      out,
    );
    const modeOf = (p: string) => (fs.lstatSync(path.join(out, p)).mode & 0o7777).toString(8);
    expect(modeOf('ro')).toBe('555');
    expect(fs.readFileSync(path.join(out, 'ro/file'), 'utf8')).toBe('in ro');
    expect(modeOf('suid')).toBe('755');
    expect(modeOf('sgid-dir')).toBe('775');
    expect(modeOf('tmp')).toBe('1777');
    expect(fs.readFileSync(path.join(out, 'dup'), 'utf8')).toBe('second');
  });

  it('makes no set-gid directory even inside a set-gid staging dir, whose new directories would inherit the bit', async () => {
    const out = dir('out');
    fs.chmodSync(out, 0o2700);
    await extractTo(chunks(await buildTar([{ name: 'listed', type: 'directory', mode: 0o775 }, { name: 'implied/deeper/file', body: 'x' }])), out);
    const modes = listTree(out).map((l) => l.split(' ').slice(0, 3).join(' '));
    expect(modes).toEqual(['implied dir mode=0755', 'implied/deeper dir mode=0755', 'implied/deeper/file file mode=0644', 'listed dir mode=0775']);
  });
});

describe('applying a staging dir', () => {
  function setUp() {
    const target = dir('target');
    const staging = dir('staging');
    fs.writeFileSync(path.join(target, 'keep'), 'kept');
    fs.writeFileSync(path.join(target, 'same'), 'old');
    fs.mkdirSync(path.join(target, 'd'));
    fs.writeFileSync(path.join(target, 'd/old-inner'), 'old inner');
    fs.symlinkSync('/etc', path.join(target, 'was-link'));
    fs.writeFileSync(path.join(staging, 'same'), 'new');
    fs.mkdirSync(path.join(staging, 'd'));
    fs.writeFileSync(path.join(staging, 'd/new-inner'), 'new inner');
    fs.mkdirSync(path.join(staging, 'was-link'));
    fs.writeFileSync(path.join(staging, 'was-link/file'), 'not in /etc');
    return { target, staging, trash: path.join(tmp, 'trash'), inode: fs.statSync(target).ino };
  }

  it('replace leaves exactly the staged entries, in the same directory', async () => {
    const s = setUp();
    const expected = listTree(s.staging);
    await replaceContents(s);
    expect(listTree(s.target)).toEqual(expected);
    expect(fs.statSync(s.target).ino).toBe(s.inode);
    expect(fs.existsSync(s.trash)).toBe(false);
  });

  it('merge replaces same-named entries, merges directories, keeps the rest, never follows a symlink', async () => {
    const s = setUp();
    await mergeContents(s);
    expect(listTree(s.target).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['d dir', 'd/new-inner file', 'd/old-inner file', 'keep file', 'same file', 'was-link dir', 'was-link/file file']);
    expect(fs.readFileSync(path.join(s.target, 'same'), 'utf8')).toBe('new');
    expect(fs.existsSync('/etc/file')).toBe(false);
    expect(fs.statSync(s.target).ino).toBe(s.inode);
  });

  it.each(['replace', 'merge'] as const)('%s moves everything back when a step fails half-way', async (mode) => {
    const s = setUp();
    // An immutable entry cannot be renamed, even by root: the apply fails after its first moves.
    fs.writeFileSync(path.join(s.target, 'zz-immutable'), 'stuck');
    fs.writeFileSync(path.join(s.staging, 'zz-immutable'), 'never');
    const before = listTree(s.target);
    execFileSync('chattr', ['+i', path.join(s.target, 'zz-immutable')]);
    try {
      await expect(mode === 'replace' ? replaceContents(s) : mergeContents(s)).rejects.toMatchObject({ code: 'EPERM' });
      expect(listTree(s.target)).toEqual(before);
      expect(fs.readFileSync(path.join(s.target, 'same'), 'utf8')).toBe('old');
    } finally {
      execFileSync('chattr', ['-i', path.join(s.target, 'zz-immutable')]);
    }
  });

  it('merge gives a merged directory the staged mode without set-uid or set-gid', async () => {
    const s = setUp();
    // As a staged directory could only have them by a mistake upstream.
    fs.chmodSync(path.join(s.staging, 'd'), 0o6750);
    await mergeContents(s);
    expect((fs.statSync(path.join(s.target, 'd')).mode & 0o7777).toString(8)).toBe('750');
  });

  /** A container that writes a file under `name` just before the merge links the staged one there. */
  function containerTakes(name: string) {
    const link = fsp.link.bind(fsp);
    vi.spyOn(fsp, 'link').mockImplementation((from, to) => {
      if (path.basename(String(to)) === name) fs.writeFileSync(to, 'written by the container');
      return link(from, to);
    });
  }

  it('merge never overwrites a file the container writes under a name it is about to take; the archive’s wins', async () => {
    const s = setUp();
    containerTakes('new-inner');
    await mergeContents(s);
    expect(fs.readFileSync(path.join(s.target, 'd/new-inner'), 'utf8')).toBe('new inner');
    expect(fs.readdirSync(tmp).sort()).toEqual(['target']);
  });

  it('keeps such a file on a rollback, and removes only the archive’s own files', async () => {
    const s = setUp();
    const before = listTree(s.target);
    containerTakes('new-inner');
    // The exclusive step (the pause) cannot start: what the unpaused part did is undone at once.
    await expect(mergeContents({ ...s, exclusive: () => Promise.reject(new Error('cannot pause')) })).rejects.toThrow('cannot pause');
    vi.restoreAllMocks();
    expect(fs.existsSync(journalOf(s.trash))).toBe(false);
    expect(fs.readFileSync(path.join(s.target, 'd/new-inner'), 'utf8')).toBe('written by the container');
    expect(listTree(s.target).filter((l) => !l.startsWith('d/new-inner '))).toEqual(before);
  });

  /** Lets `renames` renames through, then hangs every later one for good, as a process that stopped there would. */
  function stopAfter(renames: number) {
    const rename = fsp.rename.bind(fsp);
    let calls = 0;
    const stopped = new Promise<void>((resolve) => {
      vi.spyOn(fsp, 'rename').mockImplementation((from, to) => {
        if (++calls <= renames) return rename(from, to);
        resolve();
        return new Promise<void>(() => undefined);
      });
    });
    return stopped;
  }

  /** Hangs the first unlink for good: a merge stops after it linked a file in, before that file left the staging dir. */
  function stopAtFirstUnlink() {
    return new Promise<void>((resolve) => {
      vi.spyOn(fsp, 'unlink').mockImplementation(() => {
        resolve();
        return new Promise<void>(() => undefined);
      });
    });
  }

  it.each([
    ['replace', 2],
    ['replace', 5],
    // A merge of this tree takes three renames (entries moved aside and a directory moved in); the
    // files are added by hard links, the last case stops right after one.
    ['merge', 1],
    ['merge', 2],
    ['merge', 'link'],
    ['reset', 2],
  ] as const)('rolls back a %s cut off after %s renames from its journal, byte for byte', async (mode, renames) => {
    const s = setUp();
    fs.chmodSync(path.join(s.staging, 'd'), 0o700);
    const before = listTree(s.target);
    const stopped = renames === 'link' ? stopAtFirstUnlink() : stopAfter(renames);
    void (mode === 'replace' ? replaceContents(s) : mode === 'merge' ? mergeContents(s) : emptyContents(s));
    await stopped;
    vi.restoreAllMocks();
    expect(listTree(s.target)).not.toEqual(before);

    expect(await recoverApply(journalOf(s.trash))).toEqual({ outcome: 'rolled-back', failures: 0 });
    expect(listTree(s.target)).toEqual(before);
    expect(fs.statSync(s.target).ino).toBe(s.inode);
    // A reset has no staging dir of its own.
    expect(fs.readdirSync(tmp).sort()).toEqual(mode === 'reset' ? ['staging', 'target'] : ['target']);
  });

  it('keeps the trash and marks its journal incomplete when a step cannot be undone; rolls back in full once it can', async () => {
    const s = setUp();
    const before = listTree(s.target);
    const stopped = stopAfter(3);
    void replaceContents(s);
    await stopped;
    vi.restoreAllMocks();
    // Something took the name of an entry that was moved aside.
    const moved = fs.readdirSync(s.trash)[0] as string;
    fs.writeFileSync(path.join(s.target, moved), 'someone else');
    expect(await recoverApply(journalOf(s.trash))).toEqual({ outcome: 'kept', failures: 1 });
    expect(fs.existsSync(path.join(s.trash, moved))).toBe(true);
    expect(fs.existsSync(journalOf(s.trash))).toBe(false);
    expect(fs.existsSync(incompleteOf(s.trash))).toBe(true);

    fs.rmSync(path.join(s.target, moved));
    expect(await recoverApply(incompleteOf(s.trash))).toEqual({ outcome: 'rolled-back', failures: 0 });
    expect(listTree(s.target)).toEqual(before);
    expect(fs.readdirSync(tmp).sort()).toEqual(['target']);
  });

  it('keeps a journal it cannot read, and what it names', async () => {
    const s = setUp();
    fs.mkdirSync(s.trash);
    fs.writeFileSync(path.join(s.trash, 'old'), 'only copy');
    fs.writeFileSync(journalOf(s.trash), '{"v":1,"tar');
    expect(await recoverApply(journalOf(s.trash))).toEqual({ outcome: 'kept', failures: 1 });
    expect(fs.readFileSync(path.join(s.trash, 'old'), 'utf8')).toBe('only copy');
    expect(fs.existsSync(incompleteOf(s.trash))).toBe(true);
  });

  it('only clears what an apply that had finished left', async () => {
    const s = setUp();
    const expected = listTree(s.staging);
    // Stopped while its trash was removed: after the commit.
    const rm = vi.spyOn(fsp, 'rm').mockImplementation(() => new Promise<void>(() => undefined));
    const stopped = new Promise<void>((resolve) => {
      void replaceContents(s);
      const poll = setInterval(() => {
        if (fs.existsSync(journalOf(s.trash)) && fs.readFileSync(journalOf(s.trash), 'utf8').includes('"commit"') && !fs.existsSync(s.trash)) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    await stopped;
    rm.mockRestore();
    expect(await recoverApply(journalOf(s.trash))).toEqual({ outcome: 'completed', failures: 0 });
    expect(listTree(s.target)).toEqual(expected);
    expect(fs.readdirSync(tmp).sort()).toEqual(['target']);
  });

  it('empties a directory in place', async () => {
    const s = setUp();
    expect(await emptyContents(s)).toBe(4);
    expect(fs.readdirSync(s.target)).toEqual([]);
    expect(fs.statSync(s.target).ino).toBe(s.inode);
  });
});
