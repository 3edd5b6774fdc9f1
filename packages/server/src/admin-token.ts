import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The admin token: BERTH_ADMIN_TOKEN when given; else the one kept in BERTH_HOME/admin-token (mode
 * 0600), generated on first start. `generated` tells the caller to say where it was saved, once.
 */
export function loadAdminToken(options: { home: string; configured: string | null }): { token: string; generated: boolean } {
  if (options.configured) return { token: options.configured, generated: false };
  const file = path.join(options.home, 'admin-token');
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token) {
      fs.chmodSync(file, 0o600);
      return { token, generated: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(options.home, { recursive: true, mode: 0o700 });
  const token = `berth_admin_${randomBytes(24).toString('base64url')}`;
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, generated: true };
}
