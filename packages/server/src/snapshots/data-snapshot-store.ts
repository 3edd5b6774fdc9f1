import { constants, createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathExists } from '../core/safe-fs.js';

/**
 * Copies of a bot's data dir kept as hard-linked trees, one per snapshot:
 *
 *   <root>/<snapId>/data/…        the stored tree (never written after it is complete)
 *   <root>/<snapId>/snapshot.json  what it holds; written last, so its presence marks a whole tree
 *   <root>/baseline.ndjson         which live files are known to equal a stored copy, and where
 *   <root>/.staging-<snapId>/      a capture under way
 *
 * A live file unchanged since the baseline was recorded is stored as a hard link to that stored
 * copy, so unchanged data is stored once across every snapshot; anything else is copied. "Unchanged"
 * means the same device, inode, size and ctime: ctime cannot be set from user space, and it moves on
 * every write, chmod, chown, utimes or rename. A file whose ctime is within RACY_MS of the moment it
 * was looked at is never trusted, because a later write in the same clock tick would leave ctime as
 * it was (git's "racily clean" problem).
 *
 * Stored copies are never hard-linked to the live data dir, and a restore copies files out of the
 * store, so nothing written later can reach a snapshot. Regular files, directories and symlinks are
 * kept (symlinks as symlinks, never followed) with owner, mode and mtime; sockets, FIFOs and device
 * nodes are skipped. Extended attributes are not kept.
 */

/** How close to "now" a ctime must be to be distrusted; more than a kernel clock tick (≤ 10 ms). */
export const RACY_MS = 50;

/** File copies in flight at once: each is a few syscalls on libuv's thread pool (4 threads by default). */
const COPY_CONCURRENCY = 4;

/** Entries of a directory whose lstat is asked for at once. */
const LSTAT_BATCH = 64;

type Kind = 'file' | 'dir' | 'symlink';

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atimeNs: bigint;
  mtimeNs: bigint;
}

/** What the store knows about a live file: its identity then, and where its stored copy is. */
interface Identity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  ctimeNs: bigint;
}

interface Staged {
  kind: Kind;
  meta: Meta;
  /** Files: the live file this copy or link was made from. */
  id?: Identity;
  /** Files: whether `id` may be trusted (unchanged since, and not racy). */
  trusted?: boolean;
  /** Files: a new copy (counted as new bytes), not a link to an older one. */
  copied?: boolean;
  /** Symlinks: the target. */
  target?: string;
}

export interface CaptureSummary {
  files: number;
  dirs: number;
  symlinks: number;
  /** Files stored as links to an older snapshot's copy. */
  linkedFiles: number;
  copiedFiles: number;
  /** Entries skipped: sockets, FIFOs, devices, and files that changed identity while being read. */
  skipped: number;
  /** Disk bytes this snapshot's tree added (new inodes only). */
  newBytes: number;
}

export interface DataSnapshotsOptions {
  /** Where a bot's snapshot trees live. */
  rootOf(botId: string): string;
  /** Told about entries that are skipped. */
  warn?(message: string, details: Record<string, unknown>): void;
}

/** A bot's data snapshots as hard-linked trees on the host. */
export class HardLinkedDataSnapshots {
  constructor(private readonly options: DataSnapshotsOptions) {}

  /** Starts capturing `dataDir` as snapshot `snapId`; see `DataCapture`. */
  async begin(botId: string, snapId: string, dataDir: string): Promise<DataCapture> {
    const root = this.options.rootOf(botId);
    const staging = path.join(root, `.staging-${snapId}`);
    await fs.rm(staging, { recursive: true, force: true });
    await fs.mkdir(path.join(staging, 'data'), { recursive: true, mode: 0o700 });
    const baseline = await readBaseline(root);
    return new DataCapture({ root, snapId, staging, dataDir: path.resolve(dataDir), realDataDir: await fs.realpath(dataDir), baseline, warn: this.options.warn });
  }

  /** Whether a complete tree for the snapshot is on disk. */
  async has(botId: string, snapId: string): Promise<boolean> {
    return pathExists(path.join(this.options.rootOf(botId), snapId, 'snapshot.json'));
  }

  /** Snapshot ids with a tree on disk (complete or not) and staging dirs left by an interrupted capture. */
  async onDisk(botId: string): Promise<{ snapshots: string[]; staging: string[] }> {
    let names: string[];
    try {
      names = await fs.readdir(this.options.rootOf(botId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { snapshots: [], staging: [] };
      throw err;
    }
    return {
      snapshots: names.filter((n) => n.startsWith('snap_')),
      staging: names.filter((n) => n.startsWith('.staging-')),
    };
  }

  /** Removes a staging dir an interrupted capture left behind. */
  async removeStaging(botId: string, name: string): Promise<void> {
    if (!name.startsWith('.staging-')) throw new Error(`not a staging dir: ${name}`);
    await fs.rm(path.join(this.options.rootOf(botId), name), { recursive: true, force: true });
  }

  /** Removes a snapshot's tree. Inodes other snapshots link to stay with them. */
  async remove(botId: string, snapId: string): Promise<void> {
    await fs.rm(path.join(this.options.rootOf(botId), snapId), { recursive: true, force: true });
  }

  /**
   * Makes `dataDir` hold exactly the snapshot's files, in place: the directory itself (its inode, so
   * a bind mount of it) stays; its contents are removed and the stored files copied in. Then the
   * baseline records the restored files as equal to this snapshot's copies, so the next capture
   * links them instead of copying them again.
   */
  async restore(botId: string, snapId: string, dataDir: string, options: { signal?: AbortSignal } = {}): Promise<{ files: number; bytes: number }> {
    await emptyDir(dataDir);
    const staged = await this.stage(botId, snapId, dataDir, options);
    await this.recordRestored(staged);
    return { files: staged.files, bytes: staged.bytes };
  }

  /**
   * Copies the snapshot's files into `dir` (new, or empty), with their metadata. The result names the
   * copies nobody touched since they were written: once they are in the data dir (moved there by
   * renames, which keep inodes) and the restore is committed, `recordRestored` makes them the baseline.
   */
  async stage(botId: string, snapId: string, dir: string, options: { signal?: AbortSignal } = {}): Promise<StagedRestore> {
    const root = this.options.rootOf(botId);
    const src = path.join(root, snapId, 'data');
    if (!(await pathExists(path.join(root, snapId, 'snapshot.json')))) throw new Error(`snapshot ${snapId} has no complete data tree`);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const dirs: { rel: string; meta: Meta }[] = [];
    const written = new Map<string, Identity>();
    let files = 0;
    let bytes = 0;
    const pool = new TaskPool(COPY_CONCURRENCY);
    await walk(src, async (rel, st) => {
      options.signal?.throwIfAborted();
      const from = path.join(src, rel);
      const to = path.join(dir, rel);
      const meta = metaOf(st);
      if (st.isDirectory()) {
        if (rel !== '') await fs.mkdir(to, { mode: 0o700 });
        dirs.push({ rel, meta });
        return true;
      }
      if (st.isSymbolicLink()) {
        await fs.symlink(await fs.readlink(from), to);
        await applyMeta(to, meta, 'symlink');
      } else if (st.isFile()) {
        files++;
        bytes += Number(st.size);
        await pool.add(async () => {
          await fs.copyFile(from, to, constants.COPYFILE_EXCL);
          await applyMeta(to, meta, 'file');
          written.set(rel, identity(await fs.lstat(to, { bigint: true })));
        });
      }
      return false;
    });
    await pool.drain();
    for (const d of dirs.reverse()) await applyMeta(path.join(dir, d.rel), d.meta, 'dir');

    // Wait out the racy window, then keep only files nobody touched since we wrote them.
    await sleep(RACY_MS + 5);
    const entries: BaselineEntry[] = [];
    const lookedAt = nowNs();
    for (const [rel, id] of written) {
      const st = await fs.lstat(path.join(dir, rel), { bigint: true }).catch(() => null);
      if (st && st.isFile() && sameIdentity(identity(st), id) && notRacy(id.ctimeNs, lookedAt)) entries.push({ rel, ...id });
    }
    return { botId, snapId, files, bytes, entries };
  }

  /** Records a committed restore's copies as equal to the snapshot's (see `stage`). */
  async recordRestored(staged: StagedRestore): Promise<void> {
    await writeBaseline(this.options.rootOf(staged.botId), staged.snapId, staged.entries);
  }
}

/** A snapshot's data copied out by `stage`, waiting to be swapped in. */
export interface StagedRestore {
  botId: string;
  snapId: string;
  files: number;
  bytes: number;
  entries: BaselineEntry[];
}

interface BaselineEntry extends Identity {
  rel: string;
}

interface Baseline {
  /** The snapshot whose tree holds the copies. */
  store: string;
  entries: Map<string, Identity>;
}

/**
 * One capture of a live data dir into a staging tree. `precopy()` runs while the container runs and
 * does nearly all the copying; `catchUp()` runs while it is paused (or stopped) and copies only what
 * changed since; `commit()` fixes directory metadata, records the baseline and moves the tree into
 * place. `abort()` removes the staging tree.
 */
export class DataCapture {
  private readonly staged = new Map<string, Staged>();
  /** Entries the latest pass skipped; each is warned about once. */
  private skipped = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly c: {
      root: string;
      snapId: string;
      staging: string;
      dataDir: string;
      realDataDir: string;
      baseline: Baseline | null;
      warn?: ((message: string, details: Record<string, unknown>) => void) | undefined;
    },
  ) {}

  /** The first pass, while the container may still be writing. */
  async precopy(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.pass(options.signal);
  }

  /** The final pass, while nothing writes: copies what changed since `precopy` and drops what went away. */
  async catchUp(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.pass(options.signal);
  }

  async commit(): Promise<CaptureSummary> {
    const { staging, root, snapId } = this.c;
    const stagedRoot = path.join(staging, 'data');
    const summary: CaptureSummary = { files: 0, dirs: 0, symlinks: 0, linkedFiles: 0, copiedFiles: 0, skipped: this.skipped.size, newBytes: 0 };
    const dirs: [string, Meta][] = [];
    for (const [rel, s] of this.staged) {
      const at = path.join(stagedRoot, rel);
      if (s.kind === 'dir') {
        dirs.push([rel, s.meta]);
        summary.dirs++;
      } else if (s.kind === 'symlink') {
        await applyMeta(at, s.meta, 'symlink');
        summary.symlinks++;
        summary.newBytes += Number((await fs.lstat(at, { bigint: true })).blocks) * 512;
      } else {
        summary.files++;
        if (s.copied) {
          summary.copiedFiles++;
          summary.newBytes += Number((await fs.lstat(at, { bigint: true })).blocks) * 512;
        } else summary.linkedFiles++;
      }
    }
    // Deepest first: filling a directory changes its mtime.
    dirs.sort(([a], [b]) => b.length - a.length);
    for (const [rel, meta] of dirs) {
      await applyMeta(path.join(stagedRoot, rel), meta, 'dir');
      summary.newBytes += Number((await fs.lstat(path.join(stagedRoot, rel), { bigint: true })).blocks) * 512;
    }
    const marker = path.join(staging, 'snapshot.json');
    await fs.writeFile(marker, `${JSON.stringify({ id: snapId, createdAt: new Date().toISOString(), ...summary })}\n`, { mode: 0o600 });
    summary.newBytes += Number((await fs.lstat(marker, { bigint: true })).blocks) * 512;
    await fs.rename(staging, path.join(root, snapId));

    const entries: BaselineEntry[] = [];
    for (const [rel, s] of this.staged) if (s.kind === 'file' && s.trusted && s.id) entries.push({ rel, ...s.id });
    await writeBaseline(root, snapId, entries);
    return summary;
  }

  async abort(): Promise<void> {
    await fs.rm(this.c.staging, { recursive: true, force: true });
  }

  private async pass(signal: AbortSignal | undefined): Promise<void> {
    const { dataDir } = this.c;
    const stagedRoot = path.join(this.c.staging, 'data');
    const seen = new Set<string>();
    this.skipped = new Set();
    const pool = new TaskPool(COPY_CONCURRENCY);
    await walk(dataDir, async (rel, st, abs) => {
      signal?.throwIfAborted();
      const kind = kindOf(st);
      let prev = this.staged.get(rel);
      if (prev && prev.kind !== kind) {
        await this.drop(rel);
        prev = undefined;
      }
      if (!kind) {
        this.skip(rel, 'not a regular file, directory or symlink');
        return false;
      }
      const to = path.join(stagedRoot, rel);
      const meta = metaOf(st);
      if (kind === 'dir') {
        // Never descend through something that resolves outside the data dir (a swapped-in link).
        if ((await fs.realpath(abs).catch(() => '')) !== path.join(this.c.realDataDir, rel)) {
          this.skip(rel, 'directory moved while being read');
          return false;
        }
        if (!prev && rel !== '') await fs.mkdir(to, { mode: 0o700 });
        this.staged.set(rel, { kind, meta });
        seen.add(rel);
        return true;
      }
      if (kind === 'symlink') {
        const target = await fs.readlink(abs).catch(() => null);
        if (target === null) return false;
        if (!prev || prev.target !== target) {
          if (prev) await fs.rm(to, { force: true });
          await fs.symlink(target, to);
        }
        this.staged.set(rel, { kind, meta, target });
        seen.add(rel);
        return false;
      }
      // A regular file: unchanged since it was staged, linked from the baseline, or copied.
      const id = identity(st);
      seen.add(rel);
      if (prev?.trusted && prev.id && sameIdentity(prev.id, id)) return false;
      await pool.add(async () => {
        if (prev) await fs.rm(to, { force: true });
        const base = this.c.baseline?.entries.get(rel);
        if (base && this.c.baseline && sameIdentity(base, id)) {
          if (await linkOrNull(path.join(this.c.root, this.c.baseline.store, 'data', rel), to)) {
            this.staged.set(rel, { kind, meta, id, trusted: true, copied: false });
            return;
          }
        }
        const copied = await this.copyIn(abs, rel, to);
        if (copied) this.staged.set(rel, { kind, meta: copied.meta, id: copied.id, trusted: copied.trusted, copied: true });
        else this.staged.delete(rel);
      });
      return false;
    });
    await pool.drain();
    for (const rel of [...this.staged.keys()]) if (!seen.has(rel) && this.staged.has(rel)) await this.drop(rel);
  }

  /**
   * Copies one live file into the staging tree. The bot controls the data dir and may swap a path
   * for a link or a device between our look and our read, so the file is opened without following
   * links and must prove, through the descriptor itself, to be a regular file inside the data dir.
   */
  private async copyIn(abs: string, rel: string, to: string): Promise<{ id: Identity; meta: Meta; trusted: boolean } | null> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO')) {
        this.skip(rel, 'changed while being read');
        return null;
      }
      throw err;
    }
    try {
      const before = await fh.stat({ bigint: true });
      const real = await fs.readlink(`/proc/self/fd/${fh.fd}`).catch(() => '');
      if (!before.isFile() || real !== path.join(this.c.realDataDir, rel)) {
        this.skip(rel, 'changed while being read');
        return null;
      }
      // Copy from the very file we hold (the kernel's copy_file_range, no user-space buffer).
      await fs.copyFile(`/proc/self/fd/${fh.fd}`, to);
      const lookedAt = nowNs();
      const after = await fh.stat({ bigint: true });
      const meta = metaOf(before);
      await applyMeta(to, meta, 'file');
      const id = identity(before);
      return { id, meta, trusted: sameIdentity(id, identity(after)) && notRacy(after.ctimeNs, lookedAt) };
    } finally {
      await fh.close();
    }
  }

  /** Removes a staged entry and everything under it. */
  private async drop(rel: string): Promise<void> {
    await fs.rm(path.join(this.c.staging, 'data', rel), { recursive: true, force: true });
    const prefix = `${rel}/`;
    for (const k of [...this.staged.keys()]) if (k === rel || k.startsWith(prefix)) this.staged.delete(k);
  }

  private skip(rel: string, reason: string): void {
    this.skipped.add(rel);
    if (this.warned.has(rel)) return;
    this.warned.add(rel);
    this.c.warn?.('data snapshot skipped an entry', { path: rel, reason, snapshotId: this.c.snapId });
  }
}

// --- walking and metadata ---------------------------------------------------------------------

/**
 * Visits `root` and everything under it, parents before children, with each entry's lstat. The
 * visitor answers whether to descend into a directory.
 */
async function walk(root: string, visit: (rel: string, st: BigIntStats, abs: string) => Promise<boolean>): Promise<void> {
  const rootStat = await fs.lstat(root, { bigint: true });
  if (!(await visit('', rootStat, root))) return;
  const queue: string[] = [''];
  while (queue.length > 0) {
    const dirRel = queue.pop() as string;
    let names: string[];
    try {
      names = await fs.readdir(path.join(root, dirRel));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
      throw err;
    }
    names.sort();
    // Looked at a batch at a time: each lstat is a thread-pool round trip, and while a container is
    // paused for the final pass, these are most of the pause.
    for (let i = 0; i < names.length; i += LSTAT_BATCH) {
      const batch = names.slice(i, i + LSTAT_BATCH).map((name) => {
        const rel = dirRel === '' ? name : `${dirRel}/${name}`;
        const abs = path.join(root, rel);
        return { rel, abs, st: fs.lstat(abs, { bigint: true }).catch((err: unknown) => (isErrno(err, 'ENOENT') ? null : Promise.reject(err))) };
      });
      for (const { rel, abs, st } of batch) {
        const stat = await st;
        if (stat && (await visit(rel, stat, abs))) queue.push(rel);
      }
    }
  }
}

function kindOf(st: BigIntStats): Kind | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return null;
}

function identity(st: BigIntStats): Identity {
  return { dev: st.dev, ino: st.ino, size: st.size, ctimeNs: st.ctimeNs };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.ctimeNs === b.ctimeNs;
}

function metaOf(st: BigIntStats): Meta {
  return { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

/** Owner first (chown clears set-id bits), then mode, then times. Never follows a symlink. */
async function applyMeta(p: string, meta: Meta, kind: Kind): Promise<void> {
  const atime = nsToDate(meta.atimeNs);
  const mtime = nsToDate(meta.mtimeNs);
  if (kind === 'symlink') {
    await fs.lchown(p, meta.uid, meta.gid);
    await fs.lutimes(p, atime, mtime);
    return;
  }
  await fs.lchown(p, meta.uid, meta.gid);
  await fs.chmod(p, meta.mode);
  await fs.utimes(p, atime, mtime);
}

function nsToDate(ns: bigint): number {
  // Seconds as a double: sub-microsecond precision is lost, as with `touch -d`.
  return Number(ns / 1000n) / 1e6;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function notRacy(ctimeNs: bigint, lookedAtNs: bigint): boolean {
  return lookedAtNs - ctimeNs > BigInt(RACY_MS) * 1_000_000n;
}

async function linkOrNull(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (err) {
    // The older copy is gone (its snapshot was deleted) or has too many links: copy instead.
    if (isErrno(err, 'ENOENT') || isErrno(err, 'EMLINK')) return false;
    throw err;
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
}

// --- the baseline ------------------------------------------------------------------------------

const BASELINE = 'baseline.ndjson';

async function readBaseline(root: string): Promise<Baseline | null> {
  const file = path.join(root, BASELINE);
  if (!(await pathExists(file))) return null;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let store: string | null = null;
  const entries = new Map<string, Identity>();
  try {
    for await (const line of lines) {
      if (!line) continue;
      if (store === null) {
        store = (JSON.parse(line) as { store: string }).store;
        continue;
      }
      const [rel, dev, ino, size, ctimeNs] = JSON.parse(line) as [string, string, string, string, string];
      entries.set(rel, { dev: BigInt(dev), ino: BigInt(ino), size: BigInt(size), ctimeNs: BigInt(ctimeNs) });
    }
  } catch {
    // A damaged baseline only costs copies.
    return null;
  }
  return store ? { store, entries } : null;
}

async function writeBaseline(root: string, store: string, entries: BaselineEntry[]): Promise<void> {
  const file = path.join(root, BASELINE);
  const tmp = `${file}.tmp`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${JSON.stringify({ v: 1, store })}\n`);
  for (const e of entries) await write(`${JSON.stringify([e.rel, String(e.dev), String(e.ino), String(e.size), String(e.ctimeNs)])}\n`);
  out.end();
  await once(out, 'close');
  await fs.rename(tmp, file);
}

// --- small helpers -----------------------------------------------------------------------------

/** Runs tasks with at most `limit` in flight; `add` waits for room, `drain` for the rest and throws the first failure. */
class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failed: { err: unknown } | null = null;

  constructor(private readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    if (this.failed) throw this.failed.err;
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        this.failed ??= { err };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failed) throw this.failed.err;
  }
}


function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}
