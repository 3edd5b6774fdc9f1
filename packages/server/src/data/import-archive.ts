import { constants as fsConstants, readFileSync } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Extract, Header } from 'tar-stream';
import { AppError, dataDiskFull, isNoSpaceError } from '../errors.js';
import { drainedOrClosed } from './drained.js';

/** The limits every archive read by Berth is held to (SPEC §5). */
export interface ImportLimits {
  /** Largest uncompressed archive, i.e. the tar stream after gunzip, in bytes (BERTH_MAX_IMPORT_BYTES). */
  maxBytes: number;
  /** Most entries of any type. */
  maxEntries: number;
  /** Longest entry path and symlink target, in bytes (Linux's PATH_MAX). */
  maxPathLength: number;
  /** Longest path component, in bytes (Linux's NAME_MAX). */
  maxNameLength: number;
}

export const DEFAULT_IMPORT_LIMITS: Omit<ImportLimits, 'maxBytes'> = { maxEntries: 100_000, maxPathLength: 4096, maxNameLength: 255 };

export interface ExtractArchiveOptions {
  limits: ImportLimits;
  signal?: AbortSignal;
  /** Give entries the owner the archive records (only root may); otherwise they belong to Berth. */
  keepOwners?: boolean;
}

export interface ExtractResult {
  /** Entries of every type, directories included. */
  entries: number;
  /** Regular files, symlinks and hard links. */
  files: number;
  /** Bytes of regular file content. */
  bytes: number;
}

const BLOCK = 512;
const GUNZIP_CHUNK = 256 * 1024;
/** File content is written in batches of this size, one batch in flight while the next is parsed. */
const WRITE_BATCH = 1024 * 1024;
/** Files being created and written in the background at once; bounds memory to about this many batches. */
const MAX_PENDING = 8;

/**
 * Reads a tar or tar.gz (told apart by the gzip magic bytes, not by a header) from `source` into
 * `staging`, an empty directory, enforcing every archive rule of SPEC §5: no absolute paths, no `..`,
 * nothing written through a symlink (symlinks are created as symlinks and never followed), hard links
 * only to earlier files of the same archive, no devices or FIFOs, set-uid and set-gid bits cleared,
 * and limits on uncompressed bytes, entries, path and name length.
 *
 * The body is streamed, never held whole: the uncompressed byte count is checked chunk by chunk, so a
 * gzip bomb stops as soon as it passes the limit. Any violation throws `archive_invalid` or
 * `archive_too_large` naming the entry; whatever was written is left in `staging` for the caller to
 * discard.
 */
export async function extractArchive(source: AsyncIterable<Uint8Array>, staging: string, options: ExtractArchiveOptions): Promise<ExtractResult> {
  const { limits, signal } = options;
  const writer = new StagingWriter(staging, limits, options.keepOwners ?? false);
  const extract = tar.extract();
  const stream = { bytes: 0 };
  // An entry being read when the archive fails only reports that it was torn down; the reason is the
  // error `extract` itself ended with.
  let streamError: unknown = null;
  extract.on('error', (err: unknown) => {
    streamError ??= err;
  });
  // The feeding side stops by itself: on its own error it destroys `extract` with it, and when
  // `extract` is destroyed it stops at the next chunk. It is not awaited on failure, so an error is
  // answered at once even when the client is slow to send the rest of its body.
  const feeding = feed(inflate(source), extract, stream, limits, signal).catch((err: unknown) => {
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  let dataEnd = 0;
  try {
    for await (const entry of extract) {
      signal?.throwIfAborted();
      await writer.add(entry.header, entry as AsyncIterable<Buffer>);
      const offset = (entry.header as Header & { byteOffset?: number }).byteOffset;
      if (typeof offset === 'number') dataEnd = offset + Math.ceil((entry.header.size ?? 0) / BLOCK) * BLOCK;
    }
    await feeding;
    // tar ends with two zero blocks; without them a body cut exactly between two entries would pass.
    if (stream.bytes < dataEnd + 2 * BLOCK) {
      throw invalid(writer.entries === 0 ? 'the body is not a tar or tar.gz archive' : `the archive is truncated: it ends after entry "${show(writer.lastName)}" without tar's end-of-archive marker`);
    }
    await writer.finish();
    return { entries: writer.entries, files: writer.files, bytes: writer.bytes };
  } catch (err) {
    extract.destroy();
    await writer.abandon();
    throw archiveError(err instanceof AppError || streamError === null ? err : streamError, writer);
  }
}

/** The body's bytes, gunzipped when they start with gzip's magic bytes. */
async function* inflate(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const it = bodyChunks(source)[Symbol.asyncIterator]();
  try {
    let head: Buffer = Buffer.alloc(0);
    while (head.length < 2) {
      const next = await it.next();
      if (next.done) break;
      head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
    }
    if (head.length === 0) throw invalid('the body is empty: send a tar or tar.gz archive');
    async function* rest(): AsyncGenerator<Buffer> {
      yield head;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    }
    if (head[0] !== 0x1f || head[1] !== 0x8b) {
      yield* rest();
      return;
    }
    const gunzip = pipeline(Readable.from(rest()), createGunzip({ chunkSize: GUNZIP_CHUNK }), () => undefined);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw invalid(`the gzip stream is corrupt or truncated (${err instanceof Error ? err.message : String(err)})`, err);
    } finally {
      gunzip.destroy();
    }
  } finally {
    await it.return?.(undefined);
  }
}

async function* bodyChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) {
      if (chunk.byteLength > 0) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw invalid('the body ended before the archive did (the upload was cut off)', err);
  }
}

async function feed(chunks: AsyncIterable<Buffer>, extract: Extract, stream: { bytes: number }, limits: ImportLimits, signal: AbortSignal | undefined): Promise<void> {
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    stream.bytes += chunk.length;
    if (stream.bytes > limits.maxBytes) {
      throw new AppError('archive_too_large', { reason: `it is larger than the limit of ${limits.maxBytes} bytes uncompressed (BERTH_MAX_IMPORT_BYTES)` }, {
        details: { limitBytes: limits.maxBytes },
      });
    }
    if (extract.destroyed) return;
    if (!extract.write(chunk)) await drainedOrClosed(extract);
  }
  if (!extract.destroyed) extract.end(null);
}

type Kind = 'dir' | 'file' | 'symlink';

/**
 * What the archive has made so far, as a tree of path components: each node holds only its own name,
 * so memory grows with the entries, not with their path lengths (a map of full paths would let deep
 * paths cost quadratic memory).
 */
interface TreeNode {
  kind: Kind;
  children: Map<string, TreeNode> | null;
  /** A directory's final mode and time, applied at the end so that a read-only one can be filled. */
  mode?: number;
  mtime?: Date | null;
}

/** Creates entries in the staging dir, keeping what it made so far to judge the next entry. */
class StagingWriter {
  entries = 0;
  files = 0;
  bytes = 0;
  lastName = '';
  /** The entry being read, until its content is written. */
  current: string | null = null;
  private readonly tree: TreeNode = { kind: 'dir', children: new Map() };
  /** Directories made for paths whose parents the archive does not list; they count as entries too. */
  private implied = 0;

  /** File system work running in the background, and the first error it hit. */
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown = null;
  private readonly uid = process.getuid?.() ?? -1;
  private readonly gid = process.getgid?.() ?? -1;

  constructor(
    private readonly root: string,
    private readonly limits: ImportLimits,
    private readonly keepOwners: boolean,
  ) {}

  /** Waits for all background work; throws the first error it hit. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    if (this.failure) throw this.failure;
  }

  /** Waits for background work to stop, whatever its outcome (before the staging dir is removed). */
  async abandon(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled(this.pending);
  }

  private async background(task: () => Promise<void>): Promise<void> {
    while (this.pending.size >= MAX_PENDING) await Promise.race(this.pending);
    if (this.failure) throw this.failure;
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async add(header: Header, body: AsyncIterable<Buffer>): Promise<void> {
    this.entries += 1;
    this.checkCount();
    this.current = header.name;
    const name = this.checkPath(header.name);
    // Null for a type tar-stream does not name (GNU sparse files and other extensions): never a file.
    const type = header.type as Header['type'] | null;
    // POSIX-format sparse files look like regular files whose content is a sparse map: taken as a
    // file, they would be imported wrong without a word.
    if (header.pax && typeof header.pax === 'object' && Object.keys(header.pax).some((k) => k.startsWith('GNU.sparse.'))) {
      throw invalid(`entry "${show(header.name)}" is a sparse file in GNU's format; Berth does not import sparse files (create the archive without --sparse)`);
    }
    if (name === null) {
      // `./` itself: the data dir keeps its own mode and owner.
      if (type !== 'directory') throw invalid(`entry "${show(header.name)}" names the archive's root but is not a directory`);
      await drain(body);
      this.done(header.name);
      return;
    }
    switch (type) {
      case 'file':
      case 'contiguous-file':
        await this.prepare(name, 'file');
        await this.writeFile(name, header, body);
        break;
      case 'directory':
        await this.prepare(name, 'dir');
        await drain(body);
        await this.makeDir(name, header);
        break;
      case 'symlink':
        await this.prepare(name, 'symlink');
        await drain(body);
        await this.makeSymlink(name, header);
        break;
      case 'link':
        await this.prepare(name, 'file');
        await drain(body);
        await this.makeHardLink(name, header);
        break;
      case 'character-device':
      case 'block-device':
        throw invalid(`entry "${show(name)}" is a device node; devices are never imported`);
      case 'fifo':
        throw invalid(`entry "${show(name)}" is a FIFO; FIFOs are never imported`);
      default:
        // tar-stream names the POSIX types and leaves GNU extensions (sparse files, volume labels,
        // multi-volume parts) unnamed.
        throw invalid(`entry "${show(name)}" has a type Berth does not import, such as a GNU sparse file (only files, directories, symlinks and hard links are)`);
    }
    this.done(name);
  }

  /** Applies directory modes and times, children before their parents. */
  async finish(): Promise<void> {
    await this.settle();
    const visit = async (node: TreeNode, rel: string): Promise<void> => {
      for (const [name, child] of node.children ?? []) {
        if (child.kind === 'dir') await visit(child, rel ? `${rel}/${name}` : name);
      }
      if (rel && node.mode !== undefined) {
        await fs.chmod(this.abs(rel), node.mode);
        if (node.mtime) await fs.utimes(this.abs(rel), node.mtime, node.mtime);
      }
    };
    await visit(this.tree, '');
  }

  private checkCount(): void {
    if (this.entries + this.implied > this.limits.maxEntries) {
      throw new AppError('archive_too_large', { reason: `it has more than ${this.limits.maxEntries} entries (directories its paths imply included)` }, {
        details: { limitEntries: this.limits.maxEntries },
      });
    }
  }

  /** The node at `name`, if the archive made one there. */
  private lookup(name: string): TreeNode | undefined {
    let node: TreeNode | undefined = this.tree;
    for (const part of name.split('/')) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /** Records a node at `name`, whose parent `prepare` has made. */
  private record(name: string, node: TreeNode): void {
    const slash = name.lastIndexOf('/');
    const parent = slash < 0 ? this.tree : this.lookup(name.slice(0, slash));
    parent?.children?.set(name.slice(slash + 1), node);
  }

  private done(name: string): void {
    this.lastName = name;
    this.current = null;
  }

  /** The entry's path relative to the root, or null for the root itself. */
  private checkPath(raw: string): string | null {
    if (raw.includes('\0')) throw invalid(`entry "${show(raw)}" has a NUL byte in its path`);
    if (raw.startsWith('/')) throw invalid(`entry "${show(raw)}" has an absolute path`);
    if (Buffer.byteLength(raw) > this.limits.maxPathLength) throw invalid(`entry "${show(raw)}" has a path longer than ${this.limits.maxPathLength} bytes`);
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw invalid(`entry "${show(raw)}" has a ".." component`);
    for (const part of parts) {
      if (Buffer.byteLength(part) > this.limits.maxNameLength) throw invalid(`entry "${show(raw)}" has a name longer than ${this.limits.maxNameLength} bytes`);
    }
    return parts.length > 0 ? parts.join('/') : null;
  }

  /**
   * Makes the entry's parent directories and clears its place. Only what this archive created is
   * consulted, so a symlink in a parent or in the entry's own place can only come from the archive.
   */
  private async prepare(name: string, kind: Kind): Promise<void> {
    const parts = name.split('/');
    const leaf = parts.pop() as string;
    let node = this.tree;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      let child = node.children?.get(part);
      const prefix = () => parts.slice(0, i + 1).join('/');
      if (child?.kind === 'symlink') throw invalid(`entry "${show(name)}" would be written through the symlink "${show(prefix())}"`);
      if (child?.kind === 'file') throw invalid(`entry "${show(name)}" is inside "${show(prefix())}", which is a file`);
      if (child === undefined) {
        this.implied += 1;
        this.checkCount();
        await fs.mkdir(this.abs(prefix()), { mode: 0o700 });
        child = { kind: 'dir', children: new Map(), mode: 0o755, mtime: null };
        node.children?.set(part, child);
      }
      node = child;
    }
    const existing = node.children?.get(leaf)?.kind;
    if (existing === undefined) return;
    if (existing === 'symlink') throw invalid(`entry "${show(name)}" would be written through the symlink of the same name earlier in the archive`);
    if (existing === 'dir' && kind !== 'dir') throw invalid(`entry "${show(name)}" would replace the directory of the same name`);
    if (existing === 'file' && kind === 'dir') throw invalid(`entry "${show(name)}" would replace the file of the same name with a directory`);
    // A later file of the same name replaces the earlier one, as with tar.
    if (existing === 'file') {
      await this.settle();
      await fs.unlink(this.abs(name));
      node.children?.delete(leaf);
    }
  }

  private async writeFile(name: string, header: Header, body: AsyncIterable<Buffer>): Promise<void> {
    const size = header.size ?? 0;
    if (this.bytes + size > this.limits.maxBytes) {
      throw new AppError('archive_too_large', { reason: `entry "${show(name)}" (${size} bytes) takes it past the limit of ${this.limits.maxBytes} bytes (BERTH_MAX_IMPORT_BYTES)` }, {
        details: { entry: name, limitBytes: this.limits.maxBytes },
      });
    }
    const abs = this.abs(name);
    this.record(name, { kind: 'file', children: null });
    this.files += 1;
    this.bytes += size;
    const mode = safeMode(header.mode, 0o644);
    const finish = async (fh: FileHandle) => {
      if (this.keepOwners && (header.uid !== this.uid || header.gid !== this.gid)) await fh.chown(header.uid ?? 0, header.gid ?? 0);
      // The file was created with its mode, unless the umask took bits away.
      if ((mode & processUmask()) !== 0 || mode > 0o777) await fh.chmod(mode);
      if (header.mtime) await fh.utimes(header.mtime, header.mtime);
    };

    // A small file is read whole, then created, written and closed in the background while the next
    // entries are parsed: most entries are small, and waiting on their half-dozen file system calls
    // one after another would leave the parser idle.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const it = body[Symbol.asyncIterator]();
    for (;;) {
      const next = await it.next();
      if (next.done) {
        const parts = batch;
        await this.background(async () => {
          const fh = await openNew(abs, mode);
          try {
            if (parts.length > 0) await writeAll(fh, parts);
            await finish(fh);
          } finally {
            await fh.close();
          }
        });
        return;
      }
      batch.push(next.value);
      batchBytes += next.value.length;
      if (batchBytes >= WRITE_BATCH) break;
    }

    // A large one is written as it arrives, one batch in flight while the next is gathered.
    const fh = await openNew(abs, mode);
    let closing = false;
    try {
      let failed: unknown = null;
      let inFlight: Promise<void> = Promise.resolve();
      const flush = async () => {
        await inFlight;
        if (failed) throw failed;
        const parts = batch;
        batch = [];
        batchBytes = 0;
        inFlight = writeAll(fh, parts).catch((err: unknown) => {
          failed = err;
        });
      };
      await flush();
      for (;;) {
        const next = await it.next();
        if (next.done) break;
        batch.push(next.value);
        batchBytes += next.value.length;
        if (batchBytes >= WRITE_BATCH) await flush();
      }
      if (batchBytes > 0) await flush();
      await inFlight;
      if (failed) throw failed;
      await this.background(async () => {
        try {
          await finish(fh);
        } finally {
          await fh.close();
        }
      });
      // From here on the background task owns the handle.
      closing = true;
    } finally {
      if (!closing) await fh.close();
    }
  }

  private async makeDir(name: string, header: Header): Promise<void> {
    let node = this.lookup(name);
    if (node?.kind !== 'dir') {
      await fs.mkdir(this.abs(name), { mode: 0o700 });
      node = { kind: 'dir', children: new Map() };
      this.record(name, node);
      if (this.keepOwners) await fs.chown(this.abs(name), header.uid ?? 0, header.gid ?? 0);
    }
    node.mode = safeMode(header.mode, 0o755);
    node.mtime = header.mtime ?? null;
  }

  private async makeSymlink(name: string, header: Header): Promise<void> {
    const target = header.linkname ?? '';
    if (!target) throw invalid(`entry "${show(name)}" is a symlink with an empty target`);
    if (target.includes('\0') || Buffer.byteLength(target) > this.limits.maxPathLength) throw invalid(`entry "${show(name)}" is a symlink whose target is not a valid path`);
    const abs = this.abs(name);
    this.record(name, { kind: 'symlink', children: null });
    this.files += 1;
    // Stored as given, absolute or not: it is never followed here, and inside the container it
    // resolves against the container's own root.
    await this.background(async () => {
      await fs.symlink(target, abs);
      if (this.keepOwners && (header.uid !== this.uid || header.gid !== this.gid)) await fs.lchown(abs, header.uid ?? 0, header.gid ?? 0);
      if (header.mtime) await fs.lutimes(abs, header.mtime, header.mtime);
    });
  }

  private async makeHardLink(name: string, header: Header): Promise<void> {
    const raw = header.linkname ?? '';
    let target: string | null = null;
    try {
      target = raw ? this.checkPath(raw) : null;
    } catch {
      target = null;
    }
    if (target === null || target === name || this.lookup(target)?.kind !== 'file') {
      throw invalid(`entry "${show(name)}" is a hard link to "${show(raw)}", which is not a file earlier in the same archive`);
    }
    // The target may still be being written in the background.
    await this.settle();
    await fs.link(this.abs(target), this.abs(name));
    this.record(name, { kind: 'file', children: null });
    this.files += 1;
  }

  private abs(name: string): string {
    return path.join(this.root, name);
  }
}

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of body) void chunk;
}

/** Creates a file that must not exist yet, never through a symlink. */
function openNew(abs: string, mode: number): Promise<FileHandle> {
  return fs.open(abs, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode & 0o777);
}

let umask: number | null = null;

/**
 * The process's umask, read once from /proc (reading it through `process.umask()` is deprecated);
 * all bits when it cannot be read, so that every file gets an explicit chmod.
 */
function processUmask(): number {
  if (umask === null) {
    try {
      const m = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      umask = m?.[1] ? parseInt(m[1], 8) : 0o777;
    } catch {
      umask = 0o777;
    }
  }
  return umask;
}

async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  let { bytesWritten } = await fh.writev(parts);
  // A short write (a signal, a nearly full disk): write what is left, which then fails properly.
  for (const part of parts) {
    if (bytesWritten >= part.length) {
      bytesWritten -= part.length;
      continue;
    }
    let rest = part.subarray(bytesWritten);
    bytesWritten = 0;
    while (rest.length > 0) {
      const r = await fh.write(rest);
      rest = rest.subarray(r.bytesWritten);
    }
  }
}

/** Permission bits and the sticky bit; set-uid and set-gid are always cleared (SPEC §5). */
function safeMode(mode: number | undefined, fallback: number): number {
  return (mode ?? fallback) & 0o1777;
}

function invalid(message: string, cause?: unknown): AppError {
  return new AppError('archive_invalid', { reason: message }, cause === undefined ? {} : { cause });
}

/** An entry name fit for a message: control characters escaped, long names shortened. */
function show(name: string): string {
  const safe = JSON.stringify(name).slice(1, -1);
  return safe.length > 160 ? `${safe.slice(0, 100)}…${safe.slice(-40)}` : safe;
}

/** Turns what the tar and gzip libraries and the file system throw into Berth's archive errors. */
function archiveError(err: unknown, writer: StagingWriter): unknown {
  if (err instanceof AppError) return err;
  // Within Berth's limits but not on the disk: a full disk, not an archive too large.
  if (isNoSpaceError(err)) return dataDiskFull(err, 'the import');
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'Unexpected end of data') {
    const where = writer.current !== null ? `inside entry "${show(writer.current)}"` : writer.lastName ? `after entry "${show(writer.lastName)}"` : 'in its first header';
    return invalid(writer.entries === 0 && writer.current === null ? 'the body is not a tar or tar.gz archive (it is shorter than a tar header)' : `the archive is truncated: it ends ${where}`, err);
  }
  if (message.startsWith('Invalid tar header')) {
    return invalid(writer.entries === 0 ? 'the body is not a tar or tar.gz archive' : `the archive is corrupt: the header after entry "${show(writer.lastName)}" is not a valid tar header`, err);
  }
  if (message === 'Header exceeds max size') return invalid('the archive has a pax or long-name header larger than 4 MiB', err);
  return err;
}
