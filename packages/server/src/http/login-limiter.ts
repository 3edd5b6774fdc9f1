import { ipv6Groups } from '../ipv6.js';

/** Failed logins a client may make in one window before it is refused. */
export const LOGIN_MAX_FAILURES = 10;
/** The window failed logins are counted in. */
export const LOGIN_WINDOW_MS = 60_000;
/** Clients remembered at most: the table's memory is bounded whatever the number of addresses. */
export const LOGIN_MAX_CLIENTS = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Counts failed logins per client in fixed windows: after `maxFailures` in one window, every login
 * of that client (right or wrong) is refused until the window ends. Successful logins are not
 * counted. When the table is full, windows that have ended are dropped first, then the oldest.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: { maxFailures?: number; windowMs?: number; maxClients?: number; now?: () => number } = {}) {
    this.maxFailures = options.maxFailures ?? LOGIN_MAX_FAILURES;
    this.windowMs = options.windowMs ?? LOGIN_WINDOW_MS;
    this.maxClients = options.maxClients ?? LOGIN_MAX_CLIENTS;
    this.now = options.now ?? Date.now;
  }

  /** Seconds the client must wait before it may try again; 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const w = this.current(client);
    if (!w || w.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.startedAt + this.windowMs - this.now()) / 1000));
  }

  recordFailure(client: string): void {
    let w = this.current(client);
    if (!w) {
      this.makeRoom();
      w = { startedAt: this.now(), failures: 0 };
    }
    w.failures++;
    // Re-inserted so the map's order is the order of last failure: the oldest is evicted first.
    this.windows.delete(client);
    this.windows.set(client, w);
  }

  /** How many clients are remembered (for tests). */
  get size(): number {
    return this.windows.size;
  }

  private current(client: string): Window | undefined {
    const w = this.windows.get(client);
    if (w && this.now() - w.startedAt >= this.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return w;
  }

  private makeRoom(): void {
    if (this.windows.size < this.maxClients) return;
    const at = this.now();
    for (const [client, w] of this.windows) if (at - w.startedAt >= this.windowMs) this.windows.delete(client);
    while (this.windows.size >= this.maxClients) {
      const oldest = this.windows.keys().next();
      if (oldest.done) break;
      this.windows.delete(oldest.value);
    }
  }
}

/**
 * The key a client's failures are counted under: its address, with IPv4-mapped IPv6 written as IPv4
 * and IPv6 cut to its /64 (one host usually holds a whole /64). No address (an in-process request):
 * one shared key.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4?.[1]) return v4[1];
  if (!address.includes(':')) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}
