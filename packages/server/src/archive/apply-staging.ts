import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Moves a fully extracted staging dir into a target dir that must keep its own inode (a running
 * container's bind mount points at it), all or nothing: every step is a rename on one file system,
 * recorded so that a failure moves everything back before the error is rethrown. `trash` must not
 * exist yet and must be on the target's file system; it is removed at the end.
 */
export interface ApplyOptions {
  staging: string;
  target: string;
  trash: string;
  /** Merged directories also take the staged owner (only root may give files away). */
  keepOwners?: boolean;
}

type Undo = () => Promise<void>;

/** `replace`: the target ends up holding exactly what the staging dir held. */
export async function replaceContents(options: ApplyOptions): Promise<void> {
  const { staging, target, trash } = options;
  await fs.mkdir(trash);
  await journaled(async (undo) => {
    for (const name of await fs.readdir(target)) {
      await moveAside(path.join(target, name), path.join(trash, name), undo);
    }
    for (const name of await fs.readdir(staging)) {
      await moveIn(path.join(staging, name), path.join(target, name), undo);
    }
  });
  await fs.rm(trash, { recursive: true, force: true });
}

/**
 * `merge`: staged entries replace entries of the same name, everything else stays. Directories on
 * both sides are merged (they take the staged mode, owner and time); anything else of the same name,
 * a symlink to a directory included, is replaced whole.
 */
export async function mergeContents(options: ApplyOptions): Promise<void> {
  const { staging, target, trash } = options;
  await fs.mkdir(trash);
  let aside = 0;
  const merge = async (from: string, into: string, undo: Undo[]): Promise<void> => {
    for (const name of await fs.readdir(from)) {
      const staged = path.join(from, name);
      const current = path.join(into, name);
      const s = await fs.lstat(staged);
      const c = await lstatOrNull(current);
      if (s.isDirectory() && c?.isDirectory()) {
        await merge(staged, current, undo);
        await adopt(current, c, s, options.keepOwners ?? false, undo);
        continue;
      }
      if (c) await moveAside(current, path.join(trash, String(aside++)), undo);
      await moveIn(staged, current, undo);
    }
  };
  await journaled((undo) => merge(staging, target, undo));
  await fs.rm(trash, { recursive: true, force: true });
}

/** Empties `target` in place: its entries go to `trash` (renames), then the trash is removed. */
export async function emptyContents(options: { target: string; trash: string }): Promise<number> {
  const { target, trash } = options;
  await fs.mkdir(trash);
  let moved = 0;
  await journaled(async (undo) => {
    for (const name of await fs.readdir(target)) {
      await moveAside(path.join(target, name), path.join(trash, name), undo);
      moved += 1;
    }
  });
  await fs.rm(trash, { recursive: true, force: true });
  return moved;
}

async function journaled(work: (undo: Undo[]) => Promise<void>): Promise<void> {
  const undo: Undo[] = [];
  try {
    await work(undo);
  } catch (err) {
    // Newest first, so that what was moved in leaves before what was moved aside comes back. A step
    // that fails does not stop the others.
    const failures: unknown[] = [];
    for (const step of undo.reverse()) await step().catch((e: unknown) => failures.push(e));
    if (failures.length > 0) throw new Error(`rolling back after a failure left ${failures.length} step(s) undone`, { cause: [err, ...failures] });
    throw err;
  }
}

async function moveAside(current: string, aside: string, undo: Undo[]): Promise<void> {
  await fs.rename(current, aside);
  undo.push(() => fs.rename(aside, current));
}

async function moveIn(staged: string, current: string, undo: Undo[]): Promise<void> {
  await fs.rename(staged, current);
  undo.push(() => fs.rename(current, staged));
}

/** Gives an existing directory the staged one's mode, owner and time; remembers the old ones. */
async function adopt(dir: string, before: Stats, staged: Stats, keepOwners: boolean, undo: Undo[]): Promise<void> {
  undo.push(async () => {
    if (keepOwners) await fs.chown(dir, before.uid, before.gid);
    await fs.chmod(dir, before.mode & 0o7777);
    await fs.utimes(dir, before.atime, before.mtime);
  });
  if (keepOwners && (before.uid !== staged.uid || before.gid !== staged.gid)) await fs.chown(dir, staged.uid, staged.gid);
  await fs.chmod(dir, staged.mode & 0o7777);
  await fs.utimes(dir, staged.atime, staged.mtime);
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
