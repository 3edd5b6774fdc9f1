import fs from 'node:fs';
import path from 'node:path';
import { BerthApiError, BerthClient } from '@berth/sdk';
import type { GlobalOptions } from './global-options.js';

// The one place the CLI imports the client from.
export { BerthApiError, BerthClient };

export const DEFAULT_URL = 'http://127.0.0.1:7070';

/** The server the CLI talks to: `--url`, BERTH_URL, or the default. */
export function serverUrl(opts: Pick<GlobalOptions, 'url'>): string {
  return opts.url ?? process.env.BERTH_URL ?? DEFAULT_URL;
}

/**
 * The CLI reaches the server named by `--url` or BERTH_URL (default http://127.0.0.1:7070) with the
 * token from `--token`, BERTH_TOKEN, or the admin token file in BERTH_HOME (default ./.berth).
 */
export function resolveConnection(opts: Pick<GlobalOptions, 'url' | 'token'>): { baseUrl: string; token: string } {
  const baseUrl = serverUrl(opts);
  const token = opts.token ?? process.env.BERTH_TOKEN ?? readTokenFile();
  if (!token) throw new Error('no token: pass --token, set BERTH_TOKEN, or run where BERTH_HOME/admin-token exists');
  return { baseUrl, token };
}

export function connect(opts: Pick<GlobalOptions, 'url' | 'token'>): BerthClient {
  return new BerthClient(resolveConnection(opts));
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
