import type { Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { changedUnderfoot, fdPath, openDirAt, removeTree } from '../core/safe-fs.js';

/**
 * Moves a fully extracted staging dir into a target dir that must keep its own inode (a running
 * container's bind mount points at it), all or nothing: every step is a rename (or a hard link) on
 * one file system, written to a journal beside the trash dir before it is taken, so that a failure,
 * or a crash recovered at the next start (`recoverApply`), undoes it. `trash` must not exist yet and
 * must be on the target's file system; it is removed once the apply is complete, and kept, with its
 * journal, as long as the old data it holds may still be needed.
 *
 * Changes inside the target go through directories opened and proven to be where they should be
 * (see safe-fs.ts), so a bot that swaps one of its directories for a link to a host directory
 * cannot make the apply write, move or change anything outside the target. That holds whether or
 * not the container is paused; it is not what the pause is for.
 *
 * What the pause (`exclusive`) is for: while it lasts nothing else changes the target, so a look at
 * an entry stays true until Berth acts on it. A rename onto a name replaces whatever is there, so
 * outside the pause a file the container wrote under that name between the look and the rename
 * would be lost with no copy in the trash; a rollback (look where an entry is, then move it) would
 * race with the container the same way; and a directory moved in whole could replace one the
 * container just made. So the pause covers: replace's and reset's top-level renames (the container
 * then sees the old entries go and the new ones come at once), merge's new directories (one rename
 * each), whatever the unpaused part left (a name taken again, a directory the container moved
 * meanwhile: looked at again, paused) and the metadata of the directories holding it, the commit,
 * and any rollback. Outside it, before: opening the journal and, for merge, walking both trees and
 * the per-file work, with steps that never replace anything the container wrote: an old file or
 * symlink is renamed into the trash (whatever is under its name by then, kept until the commit),
 * and the staged one is hard-linked under the free name (a name taken again meanwhile fails with
 * EEXIST); a link's rollback removes the name only while it still holds that very file; a merged
 * directory with nothing left takes the staged metadata through its proven descriptor. The
 * container may see a merge's files change one by one, as under `tar -x`. When nothing is left,
 * there is no pause at all. After the pause: syncing the commit, then removing the trash and the
 * staging dir, which the container cannot reach. A rollback after the container moved a directory
 * the unpaused part had changed cannot find it, and keeps the trash and journal (`incomplete`):
 * never less safe, only noisier.
 */
export interface ApplyOptions {
  staging: string;
  target: string;
  trash: string;
  /** Merged directories also take the staged owner (only root may give files away). */
  keepOwners?: boolean;
  /** Runs once the apply's commit is on disk, before its trash is removed (the caller records the commit). */
  onCommitted?: () => Promise<void>;
  /**
   * Keep the trash and the (committed) journal after a complete apply: the caller then either
   * `finishApply`s it or `undoApply`s it (a restore that fails later puts the old data back).
   */
  keepTrash?: boolean;
  /** Called once, after the first step is taken (a fault-injection point: a crash half way). */
  midway?: () => Promise<void>;
  /** Runs the steps that need the target to themselves (e.g. with its container paused); by default they just run. */
  exclusive?: Exclusive;
}

export type Exclusive = (step: () => Promise<void>) => Promise<void>;

/** The journal of the apply whose trash dir is `trash`. */
export function journalOf(trash: string): string {
  return `${trash}${JOURNAL_SUFFIX}`;
}
export const JOURNAL_SUFFIX = '.journal';

/**
 * The journal of an apply whose rollback could not be completed, renamed so: it is never retried on
 * its own (by then the target may hold newer data that old entries must not be mixed into), and its
 * trash and staging dirs are kept for a person to recover from (`recoverApply` takes it too).
 */
export function incompleteOf(trash: string): string {
  return `${trash}${INCOMPLETE_SUFFIX}`;
}
export const INCOMPLETE_SUFFIX = '.incomplete';

/**
 * One step of an apply, recorded before it is taken. Paths are relative to the target (`rel`) and,
 * for a moved-aside entry, to the trash (`to`); an entry moved in came from the same `rel` in the
 * staging dir.
 */
type Step =
  | { a: 'aside'; rel: string; to: string }
  | { a: 'in'; rel: string }
  /** A staged file hard-linked under a free name of the target (then unlinked from the staging dir); `ino` and `born` (ms) tell it from anything else later under that name. */
  | { a: 'add'; rel: string; ino: number; born: number }
  /** A merged directory's mode, owner (when merges set owners) and times before it took the staged ones; times in seconds. */
  | { a: 'meta'; rel: string; mode: number; uid?: number; gid?: number; atime: number; mtime: number }
  | { a: 'commit' };

interface JournalHeader {
  v: 1;
  target: string;
  staging: string | null;
  trash: string;
}

/** `replace`: the target ends up holding exactly what the staging dir held. Only the top-level renames are exclusive. */
export async function replaceContents(options: ApplyOptions): Promise<void> {
  const { staging, trash } = options;
  await applyJournaled(
    { ...options, staging },
    {
      swap: async ({ root, record }) => {
        const at = fdPath(root);
        for (const name of await fs.readdir(at)) {
          await record({ a: 'aside', rel: name, to: name });
          await fs.rename(`${at}/${name}`, path.join(trash, name));
        }
        for (const name of await fs.readdir(staging)) {
          await record({ a: 'in', rel: name });
          await fs.rename(path.join(staging, name), `${at}/${name}`);
        }
      },
    },
  );
}

/**
 * `merge`: staged entries replace entries of the same name, everything else stays. Directories on
 * both sides are merged (they take the staged mode, owner and time, never set-uid or set-gid);
 * anything else of the same name, a symlink to a directory included, is replaced whole.
 *
 * First, outside the exclusive step, every staged file or symlink in a directory that exists on
 * both sides goes in (what it replaces to the trash, then a hard link): the bulk of most imports.
 * What is left in the staging dir (new directories, each moved whole by one rename, and entries
 * where a directory meets something else) then goes in inside it, with the directories' metadata.
 */
export async function mergeContents(options: ApplyOptions): Promise<void> {
  const { staging, trash } = options;
  const keepOwners = options.keepOwners ?? false;
  let aside = 0;
  /**
   * The directories on both sides, merged one by one; `visit` gets the staged entries that are not.
   * A directory that moves away while it is opened is an error, or (`skipMoved`, while the container
   * runs) left for the exclusive step, which looks again.
   */
  const walk = async (
    { root, realTarget }: ApplyContext,
    visit: (at: string, rel: string, staged: Stats, current: Stats | null) => Promise<void>,
    after: (dir: FileHandle, rel: string, staged: Stats) => Promise<void>,
    skipMoved = false,
  ): Promise<void> => {
    const merge = async (fromRel: string, into: FileHandle): Promise<void> => {
      const at = fdPath(into);
      for (const name of await fs.readdir(path.join(staging, fromRel))) {
        const rel = fromRel ? `${fromRel}/${name}` : name;
        const s = await fs.lstat(path.join(staging, rel));
        const c = await lstatOrNull(`${at}/${name}`);
        if (!(s.isDirectory() && c?.isDirectory())) {
          await visit(at, rel, s, c);
          continue;
        }
        const dir = await openDirAt(`${at}/${name}`, `${realTarget}/${rel}`);
        if (!dir && skipMoved) continue;
        if (!dir) throw movedWhileApplied(rel);
        try {
          await merge(rel, dir);
          await after(dir, rel, s);
        } finally {
          await dir.close();
        }
      }
    };
    await merge('', root);
  };
  await applyJournaled(
    { ...options, staging },
    {
      before: (ctx) =>
        walk(
          ctx,
          async (at, rel, s, c) => {
            if (s.isDirectory() || c?.isDirectory()) return;
            const staged = path.join(staging, rel);
            const current = `${at}/${path.posix.basename(rel)}`;
            if (c) {
              // Whatever is under the name by now goes to the trash, where it is kept until the commit.
              const to = String(aside++);
              await ctx.record({ a: 'aside', rel, to });
              try {
                await fs.rename(current, path.join(trash, to));
              } catch (err) {
                if (changedUnderfoot(err)) return;
                throw err;
              }
            }
            await ctx.record({ a: 'add', rel, ino: s.ino, born: s.birthtimeMs });
            try {
              await fs.link(staged, current);
            } catch (err) {
              // Taken meanwhile, not ours to link, or the directory went: the exclusive step looks again.
              if (changedUnderfoot(err) || ['EEXIST', 'EPERM', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) return;
              throw err;
            }
            await fs.unlink(staged);
          },
          async (dir, rel, s) => {
            // A merged directory with nothing left to move in is finished here; its (empty) staged
            // counterpart goes, so the exclusive step does not visit it again.
            const stagedDir = path.join(staging, rel);
            if ((await fs.readdir(stagedDir)).length > 0) return;
            await adopt(dir, rel, s, keepOwners, ctx.record);
            await fs.rmdir(stagedDir);
          },
          true,
        ),
      // Nothing left in the staging dir: nothing the container might see change at once, no pause.
      needsSwap: async () => (await fs.readdir(staging)).length > 0,
      swap: (ctx) =>
        walk(
          ctx,
          async (at, rel, _s, c) => {
            const current = `${at}/${path.posix.basename(rel)}`;
            if (c) {
              const to = String(aside++);
              await ctx.record({ a: 'aside', rel, to });
              await fs.rename(current, path.join(trash, to));
            }
            await ctx.record({ a: 'in', rel });
            await fs.rename(path.join(staging, rel), current);
          },
          (dir, rel, s) => adopt(dir, rel, s, keepOwners, ctx.record),
        ),
    },
  );
}

/** Empties `target` in place: its entries go to `trash` (renames, the exclusive step), then the trash is removed. */
export async function emptyContents(options: Omit<ApplyOptions, 'staging' | 'keepOwners'>): Promise<number> {
  let moved = 0;
  await applyJournaled(
    { ...options, staging: null },
    {
      swap: async ({ root, record }) => {
        const at = fdPath(root);
        for (const name of await fs.readdir(at)) {
          await record({ a: 'aside', rel: name, to: name });
          await fs.rename(`${at}/${name}`, path.join(options.trash, name));
          moved += 1;
        }
      },
      // An empty data dir stays as it is, without a pause.
      needsSwap: async () => (await fs.readdir(options.target)).length > 0,
    },
  );
  return moved;
}

export interface RecoveryResult {
  /** `completed`: the apply had finished, its leftovers are gone; `rolled-back`: the target is as before it; `kept`: some steps could not be undone, and the journal (now `incompleteOf(trash)`), trash and staging dir stay. */
  outcome: 'completed' | 'rolled-back' | 'kept';
  failures: number;
}

/**
 * Finishes what an apply cut off by a crash left behind, from its journal: a complete apply only
 * loses its trash; an incomplete one is rolled back, its moved-aside entries moved back. The
 * journal, the trash and the staging dir are removed only when that succeeded in full.
 */
export async function recoverApply(journal: string): Promise<RecoveryResult> {
  let read: { header: JournalHeader; steps: Step[] };
  try {
    read = await readJournal(journal);
  } catch (err) {
    // A journal that cannot be read cannot be followed: keep it, and what it names, for a person.
    if (!journal.endsWith(JOURNAL_SUFFIX) || (err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    await fs.rename(journal, `${journal.slice(0, -JOURNAL_SUFFIX.length)}${INCOMPLETE_SUFFIX}`);
    return { outcome: 'kept', failures: 1 };
  }
  const { header, steps } = read;
  if (steps.at(-1)?.a === 'commit') {
    await finish(header, journal);
    return { outcome: 'completed', failures: 0 };
  }
  const failures = await rollBack(header, steps);
  if (failures.length > 0) {
    if (journal !== incompleteOf(header.trash)) await fs.rename(journal, incompleteOf(header.trash));
    return { outcome: 'kept', failures: failures.length };
  }
  await finish(header, journal);
  return { outcome: 'rolled-back', failures: 0 };
}

/** Removes what a complete apply kept (`keepTrash`): its trash, staging dir and journal. */
export async function finishApply(trash: string): Promise<void> {
  const { header } = await readJournal(journalOf(trash));
  await finish(header, journalOf(trash));
}

/**
 * Undoes an apply from its journal, complete or not: what was moved in goes back to the staging dir,
 * what was moved aside comes back. When a step cannot be undone, the journal becomes
 * `incompleteOf(trash)` and the trash is kept, as for a failed rollback.
 */
export async function undoApply(trash: string): Promise<void> {
  const { header, steps } = await readJournal(journalOf(trash));
  const failures = await rollBack(header, steps);
  if (failures.length > 0) {
    await fs.rename(journalOf(trash), incompleteOf(trash));
    throw new Error(`undoing the apply left ${failures.length} step(s) undone; the old entries are kept in ${trash} (see ${incompleteOf(trash)})`, { cause: failures });
  }
  await finish(header, journalOf(trash));
}

interface ApplyContext {
  /** The target, opened and proven to be at its real path. */
  root: FileHandle;
  realTarget: string;
  /** Writes a step to the journal; to be awaited before the step is taken. */
  record: (step: Step) => Promise<void>;
}

interface Phases {
  /** Steps that may overlap with the container's own changes (see ApplyOptions). */
  before?: (ctx: ApplyContext) => Promise<void>;
  /** The steps that need the target to themselves; the commit follows them in the same exclusive step. */
  swap: (ctx: ApplyContext) => Promise<void>;
  /** Whether `swap` has anything to do once `before` is done; when not, there is no exclusive step. */
  needsSwap?: () => Promise<boolean>;
}

async function applyJournaled(where: Omit<ApplyOptions, 'staging'> & { staging: string | null }, phases: Phases): Promise<void> {
  const exclusive: Exclusive = where.exclusive ?? ((step) => step());
  const realTarget = await fs.realpath(where.target);
  const root = await openDirAt(realTarget, realTarget);
  if (!root) throw new Error(`${where.target} is not a directory`);
  const header: JournalHeader = { v: 1, target: realTarget, staging: where.staging, trash: where.trash };
  const journalFile = journalOf(where.trash);
  let journal: FileHandle | null = null;
  const steps: Step[] = [];
  try {
    await fs.mkdir(where.trash);
    journal = await fs.open(journalFile, 'wx', 0o600);
    await journal.write(`${JSON.stringify(header)}\n`);
    // The journal exists for sure before anything moves; the steps themselves are not synced one by
    // one (a crash of the process keeps what was written, and a step is written before it is taken).
    await journal.sync();
    const handle = journal;
    const record = async (step: Step) => {
      // A step is recorded before it is taken: the second record follows the first step taken.
      if (steps.length === 1) await where.midway?.();
      steps.push(step);
      await handle.write(`${JSON.stringify(step)}\n`);
    };
    const ctx: ApplyContext = { root, realTarget, record };
    let failure: { err: unknown } | null = null;
    try {
      await phases.before?.(ctx);
    } catch (err) {
      failure = { err };
    }
    let rollbackFailures: unknown[] = [];
    if (!failure && phases.needsSwap && !(await phases.needsSwap())) {
      await record({ a: 'commit' });
    } else if (!failure || steps.length > 0) {
      // (A failure before anything was recorded has nothing to undo, and needs no exclusive step.)
      let began = false;
      await exclusive(async () => {
        began = true;
        if (!failure) {
          try {
            await phases.swap(ctx);
            await record({ a: 'commit' });
            return;
          } catch (err) {
            failure = { err };
          }
        }
        // Undoing checks where an entry is, then moves it: only while nothing else moves entries.
        rollbackFailures = await rollBack(header, steps);
      }).catch(async (err: unknown) => {
        if (began) throw err;
        // The exclusive step could not even begin (the container could not be paused): rather than
        // leave the target half changed, undo what was done without it.
        failure ??= { err };
        rollbackFailures = await rollBack(header, steps);
      });
    }
    if (failure) {
      if (rollbackFailures.length > 0) {
        await fs.rename(journalFile, incompleteOf(where.trash));
        throw new Error(`rolling back after a failure left ${rollbackFailures.length} step(s) undone; the old entries are kept in ${where.trash} (see ${incompleteOf(where.trash)})`, { cause: [failure.err, ...rollbackFailures] });
      }
      await journal.close();
      journal = null;
      await finish(header, journalFile);
      throw failure.err;
    }
    // Once the commit is on disk, the trash is no longer the only copy of anything needed. Until then
    // (this happens after the exclusive step), a crash of the machine rolls the apply back.
    await journal.sync();
    await where.onCommitted?.();
  } finally {
    await journal?.close();
    await root.close();
  }
  if (where.keepTrash) return;
  // The apply is done whatever happens here: what cannot be removed now is removed from the
  // (committed) journal by the next start or data operation.
  await finish(header, journalFile).catch(() => undefined);
}

/** Removes a finished or fully rolled-back apply's trash and staging dir, then its journal. */
async function finish(header: JournalHeader, journalFile: string): Promise<void> {
  await removeTree(header.trash);
  if (header.staging) await removeTree(header.staging);
  await fs.rm(journalFile, { force: true });
}

/**
 * Undoes recorded steps, newest first, so that what was moved in leaves before what was moved aside
 * comes back. A step recorded but never taken (the process stopped in between) is recognised by
 * where its entry is, and skipped. A step that fails does not stop the others; the failures are
 * returned.
 */
async function rollBack(header: JournalHeader, steps: Step[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const step of [...steps].reverse()) {
    if (step.a === 'commit') continue;
    await undo(header, step).catch((e: unknown) => failures.push(e));
  }
  return failures;
}

async function undo(header: JournalHeader, step: Exclude<Step, { a: 'commit' }>): Promise<void> {
  if (step.a === 'meta') {
    const dir = await openInTarget(header.target, step.rel);
    try {
      if (step.uid !== undefined && step.gid !== undefined) await dir.chown(step.uid, step.gid);
      await dir.chmod(step.mode & 0o7777);
      await dir.utimes(step.atime, step.mtime);
    } finally {
      await dir.close();
    }
    return;
  }
  const parent = await openInTarget(header.target, path.posix.dirname(step.rel) === '.' ? '' : path.posix.dirname(step.rel));
  try {
    const current = `${fdPath(parent)}/${path.posix.basename(step.rel)}`;
    if (step.a === 'add') {
      // Only while the name still holds the archive's file: whatever else is there now is not ours.
      const c = await lstatOrNull(current);
      if (c && c.ino === step.ino && c.birthtimeMs === step.born) await fs.unlink(current);
      return;
    }
    if (step.a === 'in') {
      if (!header.staging) return;
      const staged = path.join(header.staging, step.rel);
      // Not moved in yet, or already back.
      if ((await lstatOrNull(staged)) || !(await lstatOrNull(current))) return;
      // The staging dir (or a directory in it) may be gone by now; it only ever holds copies.
      await fs.mkdir(path.dirname(staged), { recursive: true });
      await fs.rename(current, staged);
      return;
    }
    const aside = path.join(header.trash, step.to);
    if (!(await lstatOrNull(aside))) return;
    if (await lstatOrNull(current)) throw new Error(`cannot move ${aside} back: ${path.join(header.target, step.rel)} exists again`);
    await fs.rename(aside, current);
  } finally {
    await parent.close();
  }
}

/**
 * A directory of the target, opened and proven to be at `target/rel`. A few tries: what moves it
 * away is another process, which may be done a moment later.
 */
async function openInTarget(target: string, rel: string): Promise<FileHandle> {
  const expected = rel ? `${target}/${rel}` : target;
  for (let attempt = 1; ; attempt++) {
    const dir = await openDirAt(expected, expected);
    if (dir) return dir;
    if (attempt >= 5) throw movedWhileApplied(rel);
    await new Promise((resolve) => setTimeout(resolve, 5 * attempt));
  }
}

/** Gives an existing directory the staged one's mode (without set-uid or set-gid), owner and time; records the old ones first. */
async function adopt(dir: FileHandle, rel: string, staged: Stats, keepOwners: boolean, record: (step: Step) => Promise<void>): Promise<void> {
  const before = await dir.stat();
  await record({
    a: 'meta',
    rel,
    mode: before.mode & 0o7777,
    ...(keepOwners && { uid: before.uid, gid: before.gid }),
    atime: before.atimeMs / 1000,
    mtime: before.mtimeMs / 1000,
  });
  if (keepOwners && (before.uid !== staged.uid || before.gid !== staged.gid)) await dir.chown(staged.uid, staged.gid);
  await dir.chmod(staged.mode & 0o1777);
  await dir.utimes(staged.atime, staged.mtime);
}

async function readJournal(file: string): Promise<{ header: JournalHeader; steps: Step[] }> {
  const lines = (await fs.readFile(file, 'utf8')).split('\n');
  const header = JSON.parse(lines[0] ?? '') as JournalHeader;
  if (header.v !== 1 || typeof header.target !== 'string' || typeof header.trash !== 'string') throw new Error(`${file} is not an apply journal Berth knows`);
  const steps: Step[] = [];
  for (const [i, line] of lines.entries()) {
    if (i === 0 || line === '') continue;
    try {
      steps.push(JSON.parse(line) as Step);
    } catch (err) {
      // Only the last line may be cut short (the process stopped while writing it; its step was not taken).
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l !== '')) throw new Error(`${file} is corrupt at line ${i + 1}`, { cause: err });
    }
  }
  return { header, steps };
}

function movedWhileApplied(rel: string): Error {
  return new Error(`the directory "${rel}" of the data dir moved or was replaced by a link while the import was applied`);
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if (changedUnderfoot(err)) return null;
    throw err;
  }
}
