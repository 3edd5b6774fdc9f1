import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import { AppError } from '../errors.js';
import type { AppEnv, Principal } from './context.js';
import { assertCookieRequestAllowed } from './csrf.js';

export const SESSION_COOKIE = 'berth_session';
/** The cookie is sent to the API only. */
export const SESSION_COOKIE_PATH = '/api';

/** Resolves a bearer token to who holds it; null when it is not a valid token. */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | null>;
}

export class AdminTokenAuthenticator implements Authenticator {
  private readonly digest: Buffer;

  constructor(adminToken: string) {
    this.digest = sha256(adminToken);
  }

  authenticate(token: string): Promise<Principal | null> {
    // Compare digests so the comparison takes the same time whatever the token's length.
    return Promise.resolve(timingSafeEqual(sha256(token), this.digest) ? { kind: 'admin' } : null);
  }
}

/** The admin token, or a bot token (looked up by its hash); what a bot may reach is http/authorize.ts's job. */
export class AdminOrBotTokenAuthenticator implements Authenticator {
  constructor(
    private readonly admin: Authenticator,
    private readonly botTokens: { verify(token: string): Promise<{ botId: string; tokenId: string } | null> },
  ) {}

  async authenticate(token: string): Promise<Principal | null> {
    const admin = await this.admin.authenticate(token);
    if (admin) return admin;
    const holder = await this.botTokens.verify(token);
    return holder ? { kind: 'bot', botId: holder.botId, tokenId: holder.tokenId } : null;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Resolves the web UI's session cookie to its session; null when it names none that is current. */
export interface SessionAuthenticator {
  authenticate(sessionId: string): Promise<{ hash: string } | null>;
}

/**
 * Every API route needs a token: `Authorization: Bearer …`, or the web UI's session cookie (with the
 * CSRF guard of csrf.ts), which holds a session id, never a token. `publicRoutes` (exact method and
 * path) go through without one: the login.
 */
export function requireAuth(
  auth: Authenticator,
  sessions: SessionAuthenticator,
  options: { publicRoutes?: readonly { method: string; path: string }[] } = {},
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    // A public route still checks a bearer token that is presented, so a bot token is refused there too.
    if (!header && options.publicRoutes?.some((r) => r.method === c.req.method.toUpperCase() && r.path === c.req.path)) return next();
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const cookie = bearer === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    if (!bearer && !cookie) throw new AppError('unauthorized', { reason: 'missing bearer token' });
    let principal: Principal | null;
    if (bearer) {
      principal = await auth.authenticate(bearer);
      if (!principal) throw new AppError('unauthorized', { reason: 'invalid token' });
    } else {
      assertCookieRequestAllowed(c);
      const session = await sessions.authenticate(cookie ?? '');
      if (!session) {
        // Clear a cookie that can never work again (an ended session, or one from an earlier version holding the token itself).
        deleteCookie(c, SESSION_COOKIE, { path: SESSION_COOKIE_PATH });
        throw new AppError('unauthorized', { reason: 'the session has ended; log in again' });
      }
      principal = { kind: 'admin', session: session.hash };
    }
    c.set('principal', principal);
    c.set('logger', c.get('logger').child({ principal: principal.kind === 'admin' ? 'admin' : `bot:${principal.botId}` }));
    await next();
  };
}
