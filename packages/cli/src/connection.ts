import fs from 'node:fs';
import path from 'node:path';
import { BerthClient } from '@berth/sdk';

/**
 * The CLI reaches the server named by `--url` or BERTH_URL (default http://127.0.0.1:7070) with the
 * token from `--token`, BERTH_TOKEN, or the admin token file in BERTH_HOME (default ./.berth).
 */
export function connect(opts: { url?: string; token?: string }): BerthClient {
  const baseUrl = opts.url ?? process.env.BERTH_URL ?? 'http://127.0.0.1:7070';
  const token = opts.token ?? process.env.BERTH_TOKEN ?? readTokenFile();
  if (!token) throw new Error('no token: pass --token, set BERTH_TOKEN, or run where BERTH_HOME/admin-token exists');
  return new BerthClient({ baseUrl, token });
}

function readTokenFile(): string | undefined {
  const file = path.join(path.resolve(process.env.BERTH_HOME ?? './.berth'), 'admin-token');
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function print(value: unknown, asJson: boolean): void {
  if (asJson || typeof value !== 'object' || value === null) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    process.stdout.write(`${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
  }
}
