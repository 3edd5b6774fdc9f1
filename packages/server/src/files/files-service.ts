import { isUtf8 } from 'node:buffer';
import type { DirectoryListing, FileEditResult, FileInfo } from '@berth/contract';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { BotRow, Store } from '../store/store.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { BotWorkLimiter } from '../core/bot-work-limiter.js';
import { ContainerFiles, type OpenedFile, type ReadResult } from './container-files.js';
import { containerPath, relativeTo } from '../core/container-path.js';
import { containerName } from '../core/labels.js';
import { DataDirFiles } from './data-dir-files.js';
import { type DiskLimits, withinRoom } from '../lifecycle/index.js';
import { type ByteRange, type FileStat, countOccurrences, octal, planRead } from './file-format.js';
import { PAUSE_WAIT_MS, waitWhilePaused } from '../core/pause-wait.js';
import { compileGlob } from './glob-pattern.js';

export interface FilesServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  paths: BotPaths;
  logger: Logger;
  containerDataPath: string;
  /** Most bytes one read answers with (BERTH_FILES_READ_LIMIT). */
  readLimit: number;
  /** How long a call waits for a paused container (a snapshot's commit) to run again; PAUSE_WAIT_MS by default. */
  pauseWaitMs?: number;
  /** Per-bot places for engine work, shared with exec and tasks; none: unlimited. */
  limiter?: BotWorkLimiter;
  /** Refuses writes of a bot at or over its disk limit (507 `disk_limit_exceeded`). */
  diskLimits?: Pick<DiskLimits, 'assertRoom'>;
}

/** Most bytes of paths a glob reads from the walk in the container (about 100k paths). */
const MAX_GLOB_WALK_BYTES = 8 * 1024 * 1024;
/** Most entries a glob walks in the data dir from the host. */
const MAX_GLOB_WALK_ENTRIES = 200_000;

/** Largest file `edit` reads into memory. */
export const MAX_EDIT_BYTES = 16 * 1024 * 1024;

/** A file read, ready to stream: which bytes (`offset`, `length` of `size`) and whether that is all of it. */
export interface FileRead {
  kind: 'file';
  path: string;
  size: number;
  mode: string;
  mtime: Date;
  offset: number;
  length: number;
  /** The answer is a part of the file (a range was asked for, or the read cap cut it). */
  partial: boolean;
  /** The read cap cut what was asked for. */
  truncated: boolean;
  body: AsyncIterable<Buffer>;
  cancel(): Promise<void>;
}

type Backend = { kind: 'container'; files: ContainerFiles } | { kind: 'data-dir'; files: DataDirFiles; why: 'stopped' | 'none' };

/**
 * The files API over the bot's container. While the container runs, every operation happens inside
 * it (container-files.ts): its kernel resolves paths within its own root. While it does not, only
 * the data dir is reachable, from the host (data-dir-files.ts), and no symlink leads out of it.
 * Either way, nothing outside the container's root is ever read or written. A paused container (a
 * snapshot's commit) counts as running: the call waits for it to resume.
 */
export class FilesService {
  constructor(private readonly deps: FilesServiceDeps) {}

  /** A file's bytes (`range`, capped at the read limit) or a directory's listing. */
  async read(idOrName: string, input: string, range?: ByteRange): Promise<FileRead | ({ kind: 'directory' } & DirectoryListing)> {
    const release = await this.place(idOrName);
    let read;
    try {
      read = await this.readIn(idOrName, input, range);
    } catch (err) {
      release();
      throw err;
    }
    if (read.kind === 'directory') {
      release();
      return read;
    }
    // The place is held while the file streams out: until its body ends or the read is cancelled.
    const { body, cancel } = read;
    return { ...read, body: releasing(body, release), cancel: () => cancel().finally(release) };
  }

  private async readIn(idOrName: string, input: string, range?: ByteRange): Promise<FileRead | ({ kind: 'directory' } & DirectoryListing)> {
    const { files, path, at } = await this.locate(idOrName, input);
    const limit = this.deps.readLimit;
    // Ask for one byte more than the cap, to learn whether the cap cut the read.
    const want = { offset: range?.offset ?? 0 };
    const ask = Math.min(range?.length ?? Number.MAX_SAFE_INTEGER, limit);
    const result: ReadResult = await files.read(at, want, ask);
    if (result.kind === 'directory') return { kind: 'directory', path, entries: result.entries, truncated: result.truncated };
    const f: OpenedFile = result.file;
    let plan;
    try {
      plan = planRead(f.stat.size, range && { ...range, offset: range.offset < 0 ? f.offset - f.stat.size : f.offset }, limit);
    } catch (err) {
      await f.cancel();
      throw err;
    }
    return {
      kind: 'file',
      path,
      size: f.stat.size,
      mode: octal(f.stat.perm),
      mtime: f.stat.mtime,
      offset: plan.offset,
      length: plan.length,
      partial: plan.partial,
      truncated: plan.truncated,
      body: exactly(f.body, plan.length, path),
      cancel: () => f.cancel(),
    };
  }

  /** Writes the body to `path` atomically (a temporary file renamed over it), making its parents. */
  async write(idOrName: string, input: string, body: AsyncIterable<Uint8Array>, options: { mode?: number } = {}): Promise<FileInfo> {
    return this.inPlace(idOrName, () => this.writeIn(idOrName, input, body, options));
  }

  private async writeIn(idOrName: string, input: string, body: AsyncIterable<Uint8Array>, options: { mode?: number }): Promise<FileInfo> {
    const { files, path, at } = await this.locate(idOrName, input);
    if (path === '/') throw new AppError('validation_failed', { reason: 'the path names the root directory, not a file' });
    const room = (await this.deps.diskLimits?.assertRoom(idOrName)) ?? null;
    return info(path, await files.write(at, withinRoom(body, room), options));
  }

  async remove(idOrName: string, input: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.inPlace(idOrName, () => this.removeIn(idOrName, input, options));
  }

  private async removeIn(idOrName: string, input: string, options: { recursive?: boolean }): Promise<void> {
    const { files, path, at } = await this.locate(idOrName, input);
    if (path === '/' || path === this.deps.containerDataPath) {
      throw new AppError('validation_failed', { reason: `${path} cannot be removed${path === '/' ? '' : '; use POST /bots/{bot}/data/reset to empty the data dir'}` });
    }
    await files.remove(at, { recursive: options.recursive === true });
  }

  async move(idOrName: string, body: { from: string; to: string; overwrite?: boolean | undefined }): Promise<FileInfo> {
    return this.inPlace(idOrName, () => this.moveIn(idOrName, body));
  }

  private async moveIn(idOrName: string, body: { from: string; to: string; overwrite?: boolean | undefined }): Promise<FileInfo> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const backend = await this.backendFor(bot);
    const from = containerPath(body.from, this.deps.containerDataPath);
    const to = containerPath(body.to, this.deps.containerDataPath);
    for (const p of [from, to]) {
      if (p === '/' || p === this.deps.containerDataPath) throw new AppError('validation_failed', { reason: `${p} cannot be moved or replaced` });
    }
    const [fromAt, toAt] = [this.where(from, backend), this.where(to, backend)];
    return info(to, await backend.files.move(fromAt, toAt, { overwrite: body.overwrite === true }));
  }

  /** Makes a directory with its missing parents (`mkdir -p`); one that exists already is answered as it is. */
  async makeDirectory(idOrName: string, input: string): Promise<FileInfo> {
    return this.inPlace(idOrName, async () => {
      const { files, path, at } = await this.locate(idOrName, input);
      if (path !== '/') await this.deps.diskLimits?.assertRoom(idOrName);
      return info(path, await files.makeDirectory(at));
    });
  }

  /**
   * The paths below the directory `input` that match a glob pattern (glob-pattern.ts), sorted, at
   * most `limit` of them; `truncated` when there were more, or when the walk was cut short (it reads
   * at most MAX_GLOB_WALK_BYTES of paths from the container, MAX_GLOB_WALK_ENTRIES from the host).
   */
  async glob(idOrName: string, input: string, pattern: string, options: { limit: number; signal?: AbortSignal }): Promise<{ path: string; matches: string[]; truncated: boolean }> {
    const glob = compileGlob(pattern);
    return this.inPlace(idOrName, async () => {
      const { files, path, at } = await this.locate(idOrName, input);
      const walk =
        files instanceof ContainerFiles
          ? files.find(at, { name: glob.nameFilter, maxDepth: glob.maxDepth, maxBytes: MAX_GLOB_WALK_BYTES, ...(options.signal && { signal: options.signal }) })
          : files.find(at, { maxDepth: glob.maxDepth, maxEntries: MAX_GLOB_WALK_ENTRIES });
      const matches: string[] = [];
      let truncated = false;
      for (;;) {
        // The caller went away: nothing is left walking for no one.
        if (options.signal?.aborted) {
          await walk.return({ cut: true });
          options.signal.throwIfAborted();
        }
        const next = await walk.next();
        if (next.done) {
          truncated = next.value.cut;
          break;
        }
        if (!glob.matches(next.value)) continue;
        if (matches.length === options.limit) {
          truncated = true;
          await walk.return({ cut: true });
          break;
        }
        matches.push(next.value);
      }
      const base = path === '/' ? '' : path;
      return { path, matches: matches.sort().map((m) => `${base}/${m}`), truncated };
    });
  }

  /**
   * Replaces `oldText`, which must occur exactly once (counting overlapping occurrences), with
   * `newText`, and writes the file back atomically with its mode. Otherwise `edit_no_match` with
   * `details.occurrences`.
   */
  async edit(idOrName: string, body: { path: string; oldText: string; newText: string }): Promise<FileEditResult> {
    const read = await this.read(idOrName, body.path);
    if (read.kind === 'directory') throw new AppError('validation_failed', { reason: `${read.path} is a directory` });
    if (read.size > MAX_EDIT_BYTES) {
      await read.cancel();
      throw new AppError('validation_failed', { reason: `${read.path} is larger than ${MAX_EDIT_BYTES} bytes; edit needs it whole` });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of read.body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    if (!isUtf8(bytes)) throw new AppError('validation_failed', { reason: `${read.path} is not UTF-8 text` });
    const text = bytes.toString('utf8');
    const { count, first } = countOccurrences(text, body.oldText);
    if (count !== 1) {
      throw new AppError('edit_no_match', { count, path: read.path }, {
        details: { path: read.path, occurrences: count },
      });
    }
    const next = text.slice(0, first) + body.newText + text.slice(first + body.oldText.length);
    const written = await this.write(idOrName, read.path, oneChunk(Buffer.from(next, 'utf8')));
    return { ...written, replacements: 1 };
  }

  /** Waits for one of the bot's places for engine work (bot-work-limiter.ts); `edit` takes one for its read and one for its write. */
  private async place(idOrName: string): Promise<() => void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.deps.limiter ? this.deps.limiter.acquire(bot.id) : () => undefined;
  }

  /** Runs `work` in one of the bot's places for engine work, released when it settles. */
  private async inPlace<T>(idOrName: string, work: () => Promise<T>): Promise<T> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return this.deps.limiter ? this.deps.limiter.run(bot.id, work) : work();
  }

  /** The backend for the bot's container now, the path inside the container, and `at`: that path as the backend takes it. */
  private async locate(idOrName: string, input: string): Promise<{ files: Backend['files']; path: string; at: string }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const path = containerPath(input, this.deps.containerDataPath);
    const backend = await this.backendFor(bot);
    return { files: backend.files, path, at: this.where(path, backend) };
  }

  /** A container path as the backend takes it: itself inside the container, its place in the data dir from the host. */
  private where(path: string, backend: Backend): string {
    return backend.kind === 'container' ? path : this.dataRel(path, backend);
  }

  private async backendFor(bot: BotRow): Promise<Backend> {
    // Working on the data dir from the host while the container is paused would race the container
    // when it resumes, in the middle of the call; an exec cannot start in it before then.
    const pauseWaitMs = this.deps.pauseWaitMs ?? PAUSE_WAIT_MS;
    const state = await waitWhilePaused(this.deps.driver, containerName(bot.id), { timeoutMs: pauseWaitMs });
    if (state?.state === 'running') return { kind: 'container', files: new ContainerFiles(this.deps.driver, state.id, { botId: bot.id, pauseWaitMs }) };
    if (state?.state === 'paused') {
      throw new AppError('container_not_running', { target: `bot "${bot.name}"`, reason: 'it stayed paused; try again once it runs' }, {
        details: { status: 'paused' },
      });
    }
    return { kind: 'data-dir', files: new DataDirFiles(this.deps.paths.dataDir(bot.id), this.deps.containerDataPath), why: state ? 'stopped' : 'none' };
  }

  /** A path's place in the data dir, for a container that is not running; anything else cannot be reached now. */
  private dataRel(path: string, backend: { why: 'stopped' | 'none' }): string {
    const rel = relativeTo(this.deps.containerDataPath, path);
    if (rel !== null) return rel;
    const dataPath = this.deps.containerDataPath;
    if (backend.why === 'none') {
      throw new AppError('container_not_found', { target: 'the bot', reason: `${path} is outside the data dir (${dataPath}), the only place reachable without one` });
    }
    throw new AppError('container_not_running', { target: 'the bot', reason: `${path} is outside the data dir (${dataPath}), the only place reachable while it is not running` });
  }
}

function info(path: string, st: FileStat): FileInfo {
  return { path, type: st.type, size: st.size, mode: octal(st.perm), mtime: st.mtime.toISOString() };
}

/**
 * The body, checked to be exactly `length` bytes: a file that shrinks while it is read must not pass
 * for a whole answer (the client sees the transfer fail instead). Once `length` bytes are out the body
 * is read once more, so that a reader about to end ends by itself; whatever comes instead (a file that
 * grew, a helper printing more than asked, its failure) is not the client's, and stops the body.
 */
async function* exactly(body: AsyncIterable<Buffer>, length: number, path: string): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  let sent = 0;
  try {
    while (sent < length) {
      const next = await it.next();
      if (next.done) break;
      const chunk = next.value;
      const part = sent + chunk.length > length ? chunk.subarray(0, length - sent) : chunk;
      if (part.length > 0) yield part;
      sent += part.length;
    }
    if (sent < length) throw new AppError('internal', { reason: `${path} changed while it was read (${sent} of ${length} bytes)` });
    await it.next().catch(() => undefined);
  } finally {
    await it.return?.();
  }
}

async function* releasing(body: AsyncIterable<Buffer>, release: () => void): AsyncGenerator<Buffer> {
  try {
    yield* body;
  } finally {
    release();
  }
}

async function* oneChunk(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}
