import { fstatSync, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Pack } from 'tar-stream';
import { drainedOrClosed } from './drained.js';
import { changedUnderfoot, fdPath, openDirAt, pinAt, reopen } from '../core/safe-fs.js';

type EntryHeader = Parameters<Pack['entry']>[0];

const gzipAsync = promisify(gzip);

export interface ExportArchiveOptions {
  signal?: AbortSignal;
  /** zlib level; 6 is what `gzip` and `tar -z` use. */
  gzipLevel?: number;
  /** Largest read from a file at once. */
  readChunkBytes?: number;
  /** Blocks compressed at once (default: the cores, 2 to 4). */
  parallel?: number;
}

const DEFAULT_READ_CHUNK = 512 * 1024;
/** The unit of parallel compression: large enough that starting each member afresh costs nothing. */
const GZIP_BLOCK_BYTES = 1024 * 1024;
const ZEROS = Buffer.alloc(64 * 1024);

/**
 * A tar.gz of everything inside `dir` (the directory itself is not an entry), streamed with
 * backpressure and compressed on several cores (see `gzipMembers`). Entries are relative paths in sorted order: directories, regular files, symlinks
 * (never followed) and hard links between files of the tree. Sockets, FIFOs and devices are left out
 * because no import would accept them.
 *
 * The tree may change while it is read (a running container writes to it): a file's header records
 * its size when it is opened, at most that many bytes are read, and a file that shrank is padded with
 * zeros, so the archive is always valid; entries that vanish before they are opened are skipped. A
 * missing `dir` gives an empty archive.
 *
 * The bot may also swap a directory for a link to a host directory while it is read: every directory
 * and file is opened without following links and read only once its descriptor proves it lies at its
 * place inside `dir` (what moved is skipped), so nothing outside `dir` is ever read.
 */
export function exportArchive(dir: string, options: ExportArchiveOptions = {}): Readable {
  const pack = tar.pack();
  void packTree(pack, dir, options).then(
    () => {
      if (!pack.destroyed) pack.finalize();
    },
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  // Errors of any stage end up on the stream the caller reads; destroying it (the client went away)
  // ends the generators, which tears down the pack and so stops the tree walk.
  const blocks = coalesce(pack as AsyncIterable<Buffer>, GZIP_BLOCK_BYTES);
  return Readable.from(gzipMembers(blocks, options.gzipLevel ?? 6, options.parallel ?? defaultParallel()), { objectMode: false });
}

/**
 * Compresses each block as its own gzip member, several at once on the thread pool, and yields them
 * in order, as pigz does: concatenated members are one valid gzip stream (RFC 1952 §2.2) that gunzip,
 * tar and zlib read as a whole, while compression, the archive's bottleneck, uses every core. Each
 * member starts with an empty dictionary, which costs about 0.01% in size with 1 MiB blocks.
 */
async function* gzipMembers(blocks: AsyncIterable<Buffer>, level: number, parallel: number): AsyncGenerator<Buffer> {
  const queue: Promise<Buffer>[] = [];
  for await (const block of blocks) {
    const member = gzipAsync(block, { level });
    // Awaited in turn below; until then a failure must not count as unhandled.
    member.catch(() => undefined);
    queue.push(member);
    if (queue.length >= parallel) yield await (queue.shift() as Promise<Buffer>);
  }
  for (const member of queue) yield await member;
}

function defaultParallel(): number {
  return Math.max(2, Math.min(4, os.availableParallelism()));
}

async function* coalesce(source: AsyncIterable<Buffer>, minBytes: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= minBytes) {
      yield parts.length === 1 ? chunk : Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

async function packTree(pack: Pack, root: string, options: ExportArchiveOptions): Promise<void> {
  const chunk = options.readChunkBytes ?? DEFAULT_READ_CHUNK;
  // First name of each multiply-linked file, so later names become hard-link entries.
  const linked = new Map<string, string>();
  let realRoot: string;
  try {
    realRoot = await fs.realpath(root);
  } catch (err) {
    if (changedUnderfoot(err)) return;
    throw err;
  }
  const top = await openDirAt(realRoot, realRoot);
  if (!top) return;

  // Each directory is read through its own descriptor, proven to be inside the data dir, and its
  // entries are reached from it: a directory the bot swaps for a link meanwhile is never followed.
  const walk = async (dir: FileHandle, relDir: string): Promise<void> => {
    const at = fdPath(dir);
    let names: string[];
    try {
      names = await fs.readdir(at);
    } catch (err) {
      if (changedUnderfoot(err)) return;
      throw err;
    }
    names.sort();
    for (const name of names) {
      options.signal?.throwIfAborted();
      if (pack.destroyed) return;
      const rel = relDir ? `${relDir}/${name}` : name;
      const entry = `${at}/${name}`;
      const pinned = await pinAt(entry, `${realRoot}/${rel}`);
      if (!pinned) continue;
      try {
        // What the pinned entry is, not what was at its name a moment ago (synchronous: the inode
        // is in memory already, and a thread-pool round trip per entry would cost more).
        const st = fstatSync(pinned.fd);
        if (st.isDirectory()) {
          // A trailing slash, as tar writes directory names.
          await addEntry(pack, { ...common(`${rel}/`, st), type: 'directory' });
          await walk(pinned, rel);
        } else if (st.isSymbolicLink()) {
          let target: string;
          try {
            target = await fs.readlink(entry);
          } catch (err) {
            if (changedUnderfoot(err)) continue;
            throw err;
          }
          await addEntry(pack, { ...common(rel, st), type: 'symlink', linkname: target });
        } else if (st.isFile()) {
          const key = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1 ? linked.get(key) : undefined;
          if (first !== undefined) {
            await addEntry(pack, { ...common(rel, st), type: 'link', linkname: first });
            continue;
          }
          await addFile(pack, rel, pinned, st, chunk, options.signal);
          if (st.nlink > 1) linked.set(key, rel);
        }
        // Sockets, FIFOs and device nodes: nothing an import would take back, and never opened.
      } finally {
        await pinned.close();
      }
    }
  };
  try {
    await walk(top, '');
  } finally {
    await top.close();
  }
}

function common(name: string, st: Stats): EntryHeader {
  // The full st_mode, file type bits included: tar-stream replaces a mode of 0 with its default.
  return { name, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime };
}

/** Adds one pinned regular file, its header from `st` (the pinned file's own stat). */
async function addFile(pack: Pack, rel: string, pinned: FileHandle, st: Stats, chunk: number, signal: AbortSignal | undefined): Promise<void> {
  const fh = await reopen(pinned);
  try {
    const size = st.size;
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry({ ...common(rel, st), type: 'file', size }, (err) => (err ? reject(err) : resolve()));
      const write = async (buf: Buffer) => {
        if (!sink.write(buf)) await drainedOrClosed(sink);
      };
      void (async () => {
        let left = size;
        while (left > 0) {
          signal?.throwIfAborted();
          if (sink.destroyed) return;
          const buf = Buffer.allocUnsafe(Math.min(left, chunk));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          left -= bytesRead;
          await write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
        }
        // The file shrank while it was read: the header already promised `size` bytes.
        while (left > 0) {
          const n = Math.min(left, ZEROS.length);
          left -= n;
          await write(ZEROS.subarray(0, n));
        }
        sink.end(null);
      })().catch((err: unknown) => {
        sink.destroy(err instanceof Error ? err : new Error(String(err)));
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  } finally {
    await fh.close();
  }
}

function addEntry(pack: Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}
