import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  /** Where the file system is mounted; `home` is a directory on it for BERTH_HOME. */
  mountPoint: string;
  home: string;
  /** Fills the disk until at most `leaveBytes` are free (0: until no block is left). */
  fill(options?: { leaveBytes?: number }): void;
  /** Removes what `fill` wrote. */
  free(): void;
  freeBytes(): number;
  /** Unmounts it and deletes the image; safe to call more than once. */
  close(): void;
}

/**
 * A real, small ext4 file system in a loop-mounted image file (needs root), to run out of space on.
 * No journal, so blocks freed are free again at once, and no blocks reserved for root.
 */
export function mountSmallDisk(options: { sizeMb: number }): SmallDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-small-disk-'));
  const image = path.join(dir, 'disk.img');
  const mountPoint = path.join(dir, 'mnt');
  let mounted = false;
  const close = () => {
    if (mounted) {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      } catch {
        // Something still holds a file open on it: detach it now, the kernel finishes when it is let go.
        execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
      }
      mounted = false;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    fs.mkdirSync(mountPoint);
    execFileSync('truncate', ['-s', `${options.sizeMb}M`, image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', '-O', '^has_journal', image], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'loop', image, mountPoint]);
    mounted = true;
  } catch (err) {
    close();
    throw err;
  }
  const home = path.join(mountPoint, 'home');
  fs.mkdirSync(home);
  const fillers = path.join(mountPoint, 'fill');
  fs.mkdirSync(fillers);
  let n = 0;
  const freeBytes = () => {
    const st = fs.statfsSync(mountPoint);
    return st.bavail * st.bsize;
  };
  return {
    mountPoint,
    home,
    freeBytes,
    fill: ({ leaveBytes = 0 } = {}) => {
      // Big writes first, then single blocks, each in its own file so a short write leaves nothing half-counted.
      for (const chunk of [1024 * 1024, 4096]) {
        const buf = Buffer.alloc(chunk, 0x5a);
        for (;;) {
          if (freeBytes() - chunk < leaveBytes) break;
          try {
            fs.writeFileSync(path.join(fillers, `f${n++}`), buf);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      }
    },
    free: () => {
      for (const name of fs.readdirSync(fillers)) fs.rmSync(path.join(fillers, name), { force: true });
    },
    close,
  };
}
