import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { AppError } from '../errors.js';
import type { AppEnv, Principal } from './context.js';
import { assertCookieRequestAllowed } from './csrf.js';

export const SESSION_COOKIE = 'berth_session';

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

/**
 * Every API route needs a token: `Authorization: Bearer …`, or the web UI's session cookie (with the
 * CSRF guard of csrf.ts). `publicRoutes` (exact method and path) go through without one: the login.
 */
export function requireAuth(auth: Authenticator, options: { publicRoutes?: readonly { method: string; path: string }[] } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    // A public route still checks a bearer token that is presented, so a bot token is refused there too.
    if (!header && options.publicRoutes?.some((r) => r.method === c.req.method.toUpperCase() && r.path === c.req.path)) return next();
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const token = bearer ?? getCookie(c, SESSION_COOKIE);
    if (!token) throw new AppError('unauthorized', 'missing bearer token');
    if (bearer === undefined) assertCookieRequestAllowed(c);
    const principal = await auth.authenticate(token);
    if (!principal) throw new AppError('unauthorized', 'invalid token');
    c.set('principal', principal);
    c.set('logger', c.get('logger').child({ principal: principal.kind === 'admin' ? 'admin' : `bot:${principal.botId}` }));
    await next();
  };
}
