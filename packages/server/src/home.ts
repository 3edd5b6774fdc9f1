import fs from 'node:fs';

/**
 * Creates BERTH_HOME and makes it private to its owner. Bot data dirs below it hold files written by
 * root inside containers (set-uid binaries among them): no other host user may reach them.
 */
export function prepareHome(home: string): void {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  if ((fs.statSync(home).mode & 0o077) !== 0) fs.chmodSync(home, 0o700);
}
