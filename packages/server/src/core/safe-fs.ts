import { execFile } from 'node:child_process';
import { constants as fsConstants, readlinkSync } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { childEnv } from '../config/child-env.js';

/**
 * File system steps that a running bot cannot redirect. A bot controls its data dir and may swap any
 * directory in it for a symlink to a host directory (it can learn host paths from the API) between
 * Berth's look and Berth's use. O_NOFOLLOW protects only a path's last component, so Berth opens a
 * directory once, proves through the descriptor where it really is, and then reaches its entries
 * through `/proc/self/fd/N/<name>`: a path that starts at that very directory, whatever happens to
 * the names above it.
 */

const execFileAsync = promisify(execFile);

/** The path that reaches an open file or directory itself, never through a name that may change. */
export function fdPath(fh: FileHandle): string {
  return `/proc/self/fd/${fh.fd}`;
}

/**
 * Where the kernel says an open descriptor is; '' when it cannot tell (e.g. the file was deleted).
 * Synchronous on purpose: it reads no disk, and a thread-pool round trip per file would cost more
 * than the call itself.
 */
function realPathOf(fh: FileHandle): string {
  try {
    return readlinkSync(fdPath(fh));
  } catch {
    return '';
  }
}

/**
 * Opens the directory at `p` (never following a link in its last component) and checks that it is
 * really at `expected`; null when it is gone, is not a directory, or is somewhere else (a parent
 * was swapped for a link).
 */
export async function openDirAt(p: string, expected: string): Promise<FileHandle | null> {
  let fh: FileHandle;
  try {
    fh = await fs.open(p, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (changedUnderfoot(err)) return null;
    throw err;
  }
  if (realPathOf(fh) === expected) return fh;
  await fh.close();
  return null;
}

/** Linux's O_PATH (the same on every architecture Node runs on but alpha, parisc and sparc); Node does not export it. */
const O_PATH = 0o10000000;

/**
 * Pins the entry at `p` without opening it for I/O (O_PATH: a device is not opened, a FIFO does not
 * block, a symlink is pinned itself) and checks that it is really at `expected`; null when it is
 * gone or somewhere else. Its `stat()` tells what it is; `reopen` opens a pinned regular file.
 */
export async function pinAt(p: string, expected: string): Promise<FileHandle | null> {
  let fh: FileHandle;
  try {
    fh = await fs.open(p, O_PATH | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (changedUnderfoot(err)) return null;
    throw err;
  }
  if (realPathOf(fh) === expected) return fh;
  await fh.close();
  return null;
}

/** Opens the very file a pinned handle holds, for reading; only ever call it on a regular file. */
export function reopen(pinned: FileHandle): Promise<FileHandle> {
  return fs.open(fdPath(pinned), fsConstants.O_RDONLY);
}

/**
 * Removes a tree that a bot may still be changing (a process of it can keep a directory moved out
 * of its data dir open): GNU rm walks with openat and O_NOFOLLOW and checks each directory it enters,
 * so it never follows a swapped-in link, and stays on the tree's own file system. A missing path is
 * fine.
 */
export async function removeTree(p: string): Promise<void> {
  try {
    await execFileAsync('rm', ['-rf', '--one-file-system', '--', p], { env: childEnv() });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`could not remove ${p}${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
}

/** The errors of an entry that vanished, or was replaced by something else, between a look and a use. */
export function changedUnderfoot(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // ELOOP: a link where O_NOFOLLOW met it; EINVAL: readlink of what is no longer a link.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EINVAL';
}

/** Whether anything (a link included, never followed) is at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}
