import { randomBytes } from 'node:crypto';
import { type Stats, constants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileEntry } from '@berth/contract';
import { AppError } from '../errors.js';
import { relativeTo } from '../core/container-path.js';
import { fdPath, openDirAt } from '../core/safe-fs.js';
import type { ReadResult } from './container-files.js';
import { type ByteRange, type FileStat, MAX_LIST_ENTRIES, entryOf, typeOfMode } from './file-format.js';

const MAX_SYMLINKS = 40;

interface Resolved {
  /** The host path; every directory on the way to it is a real directory inside the data dir. */
  hostPath: string;
  /** Its path inside the container, for messages. */
  containerPath: string;
  /** lstat of the last component, or null when it does not exist. */
  stat: Stats | null;
}

/**
 * The files API on the data dir from the host, for a bot whose container is not running (nothing in
 * it can change the tree meanwhile). Paths are resolved one component at a time with `lstat`, the
 * way the container would see them: a symlink is followed only while it stays inside the data dir
 * (an absolute target must start with the mount path, e.g. `/data/`); one that leads out of it (to
 * `/`, to the rest of the container, or to anything on the host) is refused with
 * `path_outside_root`. Files are opened with O_NOFOLLOW, and a read checks where the opened
 * descriptor really is before answering a byte.
 */
export class DataDirFiles {
  constructor(
    /** The host data dir, BERTH_HOME/bots/<id>/data. */
    private readonly root: string,
    /** Where it is mounted in the container, e.g. /data. */
    private readonly mountPath: string,
  ) {}

  /** `rel` is the path below the mount path, normalised (no `.`/`..`). */
  async read(rel: string, range: ByteRange, length: number): Promise<ReadResult> {
    const r = await this.resolve(rel, { followLast: true });
    if (!r.stat) throw notFound(r.containerPath);
    if (r.stat.isDirectory()) return this.list(r);
    if (!r.stat.isFile()) throw new AppError('validation_failed', { reason: `${r.containerPath} is not a regular file or directory` });
    const handle = await fs.open(r.hostPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await this.assertInside(handle.fd, r.containerPath);
      const st = await handle.stat();
      const size = st.size;
      let offset = range.offset < 0 ? Math.max(0, size + range.offset) : range.offset;
      if (offset > size) offset = size;
      const body = (async function* body() {
        // The handle's own stream: a stream over the bare fd closes it when iteration ends, and the close below then fails with EBADF.
        const stream = length > 0 ? handle.createReadStream({ autoClose: false, start: offset, end: offset + length - 1 }) : null;
        try {
          if (stream) for await (const chunk of stream) yield chunk as Buffer;
        } finally {
          stream?.destroy();
          await handle.close();
        }
      })();
      return {
        kind: 'file',
        file: {
          stat: { type: 'file', size, perm: st.mode & 0o7777, mtime: st.mtime },
          offset,
          body,
          cancel: async () => {
            await body.return(undefined);
            // A body never started has not run its `finally`.
            await handle.close().catch(() => undefined);
          },
        },
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async write(rel: string, body: AsyncIterable<Uint8Array>, options: { mode?: number }): Promise<FileStat> {
    const { dir, name } = await this.parentOf(rel, { create: true });
    const target = path.join(dir.hostPath, name);
    const existing = await lstatOrNull(target);
    if (existing?.isDirectory()) throw new AppError('validation_failed', { reason: `${this.shown(rel)} is a directory` });
    const mode = options.mode ?? (existing?.isFile() ? existing.mode & 0o7777 : 0o644);
    const tmp = path.join(dir.hostPath, `.berth-upload-${randomBytes(6).toString('hex')}`);
    const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await this.assertInside(handle.fd, this.shown(rel));
      await pipeline(Readable.from(body), createWriteStream('', { fd: handle.fd, autoClose: false }));
      await handle.chmod(mode);
      await handle.sync();
    } catch (err) {
      // A write stream destroyed by the failure may have closed the descriptor already.
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    // rename() replaces a symlink at the target rather than writing through it.
    await fs.rename(tmp, target);
    return statOf(await fs.lstat(target));
  }

  async remove(rel: string, options: { recursive: boolean }): Promise<void> {
    if (rel === '') throw new AppError('validation_failed', { reason: 'the data dir itself cannot be removed; use POST /bots/{bot}/data/reset to empty it' });
    const r = await this.resolve(rel, { followLast: false });
    if (!r.stat) throw notFound(r.containerPath);
    if (r.stat.isDirectory()) {
      if (options.recursive) await fs.rm(r.hostPath, { recursive: true, force: true });
      else {
        try {
          await fs.rmdir(r.hostPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY') {
            throw new AppError('validation_failed', { reason: `the directory ${r.containerPath} is not empty; pass recursive=true to remove it with its contents` });
          }
          throw err;
        }
      }
    } else {
      await fs.unlink(r.hostPath);
    }
  }

  async move(fromRel: string, toRel: string, options: { overwrite: boolean }): Promise<FileStat> {
    if (fromRel === '' || toRel === '') throw new AppError('validation_failed', { reason: 'the data dir itself cannot be moved or replaced' });
    const from = await this.resolve(fromRel, { followLast: false });
    if (!from.stat) throw notFound(from.containerPath);
    const { dir, name } = await this.parentOf(toRel, { create: true });
    const target = path.join(dir.hostPath, name);
    const existing = await lstatOrNull(target);
    if (existing && !options.overwrite) throw new AppError('file_exists', { path: this.shown(toRel), reason: 'set overwrite to replace it' }, { details: { to: this.shown(toRel) } });
    if (existing?.isDirectory() && !from.stat.isDirectory()) throw new AppError('validation_failed', { reason: `${this.shown(toRel)} is a directory` });
    if (from.stat.isDirectory() && (target === from.hostPath || target.startsWith(`${from.hostPath}/`))) {
      throw new AppError('validation_failed', { reason: `cannot move ${from.containerPath} into itself` });
    }
    try {
      await fs.rename(from.hostPath, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new AppError('validation_failed', { reason: `${this.shown(toRel)} is a directory that is not empty` });
      }
      throw err;
    }
    return statOf(await fs.lstat(target));
  }

  /** Makes a directory and its missing parents; one that exists already is answered as it is. */
  async makeDirectory(rel: string): Promise<FileStat> {
    const r = await this.resolve(rel, { followLast: true, createMissing: true });
    if (!r.stat?.isDirectory()) throw new AppError('file_exists', { path: r.containerPath, reason: 'it is not a directory' }, { details: { path: r.containerPath } });
    return statOf(r.stat);
  }

  /**
   * The paths below the directory `rel` (relative to it), walked without following symlinks, as
   * ContainerFiles.find does in the container: `maxDepth` bounds the depth, and the walk stops
   * (`cut`) after `maxEntries` entries.
   */
  async *find(rel: string, options: { maxDepth: number | null; maxEntries: number }): AsyncGenerator<string, { cut: boolean }> {
    const r = await this.resolve(rel, { followLast: true });
    if (!r.stat) throw notFound(r.containerPath);
    if (!r.stat.isDirectory()) throw new AppError('validation_failed', { reason: `${r.containerPath} is not a directory` }, { details: { path: r.containerPath } });
    // Each directory is opened as the place it must really be (openDirAt): the container may start
    // during the walk and swap a directory for a symlink; such a directory is skipped, never followed.
    const root = await fs.realpath(r.hostPath);
    let seen = 0;
    const stack: { real: string; rel: string; depth: number }[] = [{ real: root, rel: '', depth: 0 }];
    while (stack.length > 0) {
      const dir = stack.pop() as { real: string; rel: string; depth: number };
      const fh = await openDirAt(dir.real, dir.real).catch(() => null);
      // Gone, unreadable or moved meanwhile: as `find`, go on with the rest.
      if (!fh) continue;
      try {
        for await (const d of await fs.opendir(fdPath(fh))) {
          // Leaving the loop closes the listing.
          if (++seen > options.maxEntries) return { cut: true };
          const relPath = dir.rel === '' ? d.name : `${dir.rel}/${d.name}`;
          const depth = dir.depth + 1;
          yield relPath;
          if (d.isDirectory() && (options.maxDepth === null || depth < options.maxDepth)) stack.push({ real: `${dir.real}/${d.name}`, rel: relPath, depth });
        }
      } finally {
        await fh.close();
      }
    }
    return { cut: false };
  }

  private async list(r: Resolved): Promise<ReadResult> {
    const entries: FileEntry[] = [];
    let truncated = false;
    const dir = await fs.opendir(r.hostPath);
    for await (const d of dir) {
      if (entries.length >= MAX_LIST_ENTRIES) {
        truncated = true;
        break;
      }
      const p = path.join(r.hostPath, d.name);
      const st = await lstatOrNull(p);
      if (!st) continue;
      entries.push(entryOf(d.name, statOf(st), st.isSymbolicLink() ? await fs.readlink(p) : undefined));
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { kind: 'directory', entries, truncated };
  }

  private async parentOf(rel: string, options: { create: boolean }): Promise<{ dir: Resolved; name: string }> {
    const cut = rel.lastIndexOf('/');
    const parent = cut < 0 ? '' : rel.slice(0, cut);
    const name = cut < 0 ? rel : rel.slice(cut + 1);
    if (name === '') throw new AppError('validation_failed', { reason: 'the path names the data dir itself, not a file in it' });
    const dir = await this.resolve(parent, { followLast: true, createMissing: options.create });
    if (!dir.stat?.isDirectory()) throw new AppError('validation_failed', { reason: `a parent of ${this.shown(rel)} is not a directory` });
    return { dir, name };
  }

  /**
   * Walks `rel` below the data dir. `followLast`: a symlink as the last component is followed too.
   * `createMissing`: missing directories are made on the way (for writes).
   */
  private async resolve(rel: string, options: { followLast: boolean; createMissing?: boolean }): Promise<Resolved> {
    const rootStat = await fs.lstat(this.root).catch(() => null);
    if (!rootStat?.isDirectory()) throw new AppError('file_not_found', { path: `${this.mountPath} (the bot's data dir does not exist yet)` });
    const done: string[] = [];
    const todo = rel.split('/').filter((p) => p !== '' && p !== '.');
    let links = 0;
    let last: Stats | null = rootStat;
    while (todo.length > 0) {
      const name = todo.shift() as string;
      if (name === '..') {
        if (done.length === 0) throw outside(this.shown(rel), this.mountPath);
        done.pop();
        last = await fs.lstat(path.join(this.root, ...done));
        continue;
      }
      const p = path.join(this.root, ...done, name);
      let st = await lstatOrNull(p);
      if (!st) {
        if (!options.createMissing) {
          if (todo.length === 0) return { hostPath: p, containerPath: this.shown([...done, name].join('/')), stat: null };
          throw notFound(this.shown([...done, name, ...todo].join('/')));
        }
        await fs.mkdir(p, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        st = await fs.lstat(p);
      }
      if (st.isSymbolicLink() && (todo.length > 0 || options.followLast)) {
        if (++links > MAX_SYMLINKS) throw new AppError('validation_failed', { reason: `too many levels of symbolic links in ${this.shown(rel)}` });
        const target = await fs.readlink(p);
        if (target.startsWith('/')) {
          const below = relativeTo(this.mountPath, path.posix.normalize(target));
          // Anything but the data dir is out of reach of the host side, and may be the host's own path.
          if (below === null || /(^|\/)\.\.(\/|$)/.test(target)) throw outside(this.shown(rel), this.mountPath);
          done.length = 0;
          todo.unshift(...below.split('/').filter(Boolean));
        } else {
          todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
        }
        continue;
      }
      if (todo.length > 0 && !st.isDirectory()) throw new AppError('validation_failed', { reason: `a parent of ${this.shown(rel)} is not a directory` });
      done.push(name);
      last = st;
    }
    return { hostPath: path.join(this.root, ...done), containerPath: this.shown(done.join('/')), stat: last };
  }

  /** Defence in depth: where an opened descriptor really is, per the kernel. */
  private async assertInside(fd: number, shown: string): Promise<void> {
    const real = await fs.readlink(`/proc/self/fd/${fd}`);
    const root = await fs.realpath(this.root);
    if (real !== root && !real.startsWith(`${root}/`)) throw outside(shown, this.mountPath);
  }

  private shown(rel: string): string {
    return rel === '' ? this.mountPath : `${this.mountPath}/${rel}`;
  }
}

function statOf(st: Stats): FileStat {
  return { type: typeOfMode(st.mode), size: st.size, perm: st.mode & 0o7777, mtime: st.mtime };
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new AppError('validation_failed', { reason: 'a parent of the path is not a directory' }, { cause: err });
    throw err;
  }
}

function notFound(containerPath: string): AppError {
  return new AppError('file_not_found', { path: containerPath }, { details: { path: containerPath } });
}

function outside(p: string, mountPath: string): AppError {
  return new AppError('path_outside_root', { path: p, root: `the data dir (${mountPath}), which is all that can be reached while the container is not running` }, { details: { path: p } });
}
