import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { SessionStore, type WebSessionRow } from '../store/session-store.js';
import { sessionKey, type LiveConnections } from '../core/live-connections.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number) => Promise<Buffer>;

/** A session unused (no request, no open stream) this long ends. */
export const SESSION_IDLE_SECONDS = 12 * 60 * 60;
/** A session ends this long after the login, however busy. */
export const SESSION_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;
/** `last_seen_at` is kept to the minute, and expired sessions are swept as often. */
const TOUCH_INTERVAL_MS = 60_000;
/** 32 random bytes in base64url: 43 characters. Anything else is not a session id and is not looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface SessionServiceDeps {
  store: Store;
  logger: Logger;
  /** The current admin token: sessions opened with another one are refused and removed. */
  adminToken: string;
  /** Salts the admin token's fingerprint, so equal tokens on two installs do not look alike. */
  instanceId: string;
  /** The streams open through each session, ended with it. */
  connections?: LiveConnections;
  idleSeconds?: number;
  maxAgeSeconds?: number;
  /** The clock, in ms (tests move it). */
  now?: () => number;
}

/** An authenticated session: `hash` names it in logs and in LiveConnections, never the id itself. */
export interface WebSession {
  hash: string;
  expiresAt: string;
}

/**
 * The web UI's sessions. The cookie holds a random session id; the database keeps only its SHA-256
 * and a fingerprint of the admin token it was opened with, so a leaked database gives no way in and
 * a new admin token (a restart with another BERTH_ADMIN_TOKEN or admin-token file) ends every old
 * session. Sessions expire after an idle time and, in any case, after a maximum age; ending one
 * (logout, expiry, another admin token) ends the streams opened through it.
 */
export class SessionService {
  private readonly sessions: SessionStore;
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private fingerprint: Promise<string> | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SessionServiceDeps) {
    this.sessions = new SessionStore(deps.store.db);
    this.idleMs = (deps.idleSeconds ?? SESSION_IDLE_SECONDS) * 1000;
    this.maxAgeMs = (deps.maxAgeSeconds ?? SESSION_MAX_AGE_SECONDS) * 1000;
    this.now = deps.now ?? Date.now;
  }

  /** Removes the sessions a start-up finds ended (another admin token, expired); then sweeps every minute until `stop`. */
  async start(): Promise<void> {
    await this.sweep();
    this.sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.logger.warn({ err }, 'could not sweep the web sessions'));
    }, TOUCH_INTERVAL_MS);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Opens a session; the id is returned only here (it goes into the cookie). */
  async create(): Promise<{ id: string; session: WebSession }> {
    const id = randomBytes(32).toString('base64url');
    const at = this.now();
    const row: WebSessionRow = {
      hash: hashSessionId(id),
      admin_fingerprint: await this.adminFingerprint(),
      created_at: new Date(at).toISOString(),
      last_seen_at: new Date(at).toISOString(),
      expires_at: new Date(at + this.maxAgeMs).toISOString(),
    };
    await this.sessions.insert(row);
    this.deps.logger.info({ session: shortHash(row.hash) }, 'web session started');
    return { id, session: { hash: row.hash, expiresAt: row.expires_at } };
  }

  /** The session a cookie names, or null when it is unknown or has ended (an ended one is removed). */
  async authenticate(id: string): Promise<WebSession | null> {
    if (!SESSION_ID.test(id)) return null;
    const row = await this.sessions.findByHash(hashSessionId(id));
    if (!row) return null;
    const at = this.now();
    const why = await this.endedBecause(row, at);
    if (why) {
      await this.endSession(row.hash, why);
      return null;
    }
    if (at - Date.parse(row.last_seen_at) >= TOUCH_INTERVAL_MS) await this.sessions.touch(row.hash, new Date(at).toISOString());
    return { hash: row.hash, expiresAt: row.expires_at };
  }

  /** Logs a session out (by its hash): the row goes and the streams opened through it end. */
  async end(hash: string): Promise<void> {
    await this.endSession(hash, 'logout');
  }

  /**
   * Removes every ended session and ends its streams. A session with a stream still open (the UI
   * watching `/events`, a terminal) counts as used.
   */
  async sweep(): Promise<void> {
    const at = this.now();
    for (const row of await this.sessions.all()) {
      const live = this.deps.connections?.has(sessionKey(row.hash)) ?? false;
      const why = await this.endedBecause(live ? { ...row, last_seen_at: new Date(at).toISOString() } : row, at);
      if (why) await this.endSession(row.hash, why);
      else if (live && at - Date.parse(row.last_seen_at) >= TOUCH_INTERVAL_MS) await this.sessions.touch(row.hash, new Date(at).toISOString());
    }
  }

  private async endedBecause(row: WebSessionRow, at: number): Promise<string | null> {
    if (!sameText(row.admin_fingerprint, await this.adminFingerprint())) return 'the admin token changed';
    if (at >= Date.parse(row.expires_at)) return 'maximum age reached';
    if (at - Date.parse(row.last_seen_at) >= this.idleMs) return 'idle';
    return null;
  }

  private async endSession(hash: string, why: string): Promise<void> {
    const removed = await this.sessions.delete(hash);
    const ended = this.deps.connections?.end(sessionKey(hash)) ?? 0;
    if (removed) this.deps.logger.info({ session: shortHash(hash), why, connections: ended }, 'web session ended');
  }

  /**
   * A slow, salted hash of the admin token: the database must not make a weak BERTH_ADMIN_TOKEN easy
   * to guess. Computed once per process.
   */
  private adminFingerprint(): Promise<string> {
    this.fingerprint ??= scryptAsync(this.deps.adminToken, `berth-web-session:${this.deps.instanceId}`, 32).then((b) => b.toString('hex'));
    return this.fingerprint;
  }
}

function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Enough of a session's hash to tell sessions apart in the log. */
function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
