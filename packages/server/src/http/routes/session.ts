import type { OpenAPIHono } from '@hono/zod-openapi';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { routes } from '@berth/contract';
import type { SessionService } from '../../bots/session-service.js';
import { AppError } from '../../errors.js';
import { SESSION_COOKIE, SESSION_COOKIE_PATH, type Authenticator } from '../auth.js';
import type { AppEnv } from '../context.js';
import { exemptFromRevocation } from '../live.js';
import { clientKey, type LoginLimiter } from '../login-limiter.js';

/** The API path of the login route, which http/auth.ts lets through without a token. */
export const LOGIN_ROUTE = { method: 'POST', path: routes.session.login.path } as const;

/**
 * The web UI's login and logout. The cookie holds a random session id (bots/session-service.ts),
 * never the admin token; it is HttpOnly so page scripts never see it, SameSite=Strict, and Secure
 * when Berth is reached over HTTPS. It lasts as long as the browser session, and the server ends the
 * session on logout, when idle or too old, and when the admin token changes. Failed logins are
 * limited per client address (http/login-limiter.ts).
 */
export function sessionRoutes(deps: { auth: Authenticator; sessions: SessionService; loginLimiter: LoginLimiter }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.session.login,
    async (c) => {
      const client = clientKey(remoteAddress(c));
      const wait = deps.loginLimiter.retryAfterSeconds(client);
      if (wait > 0) {
        c.header('Retry-After', String(wait));
        throw new AppError('too_many_requests', `too many failed logins; try again in ${wait} s`, { details: { retryAfterSeconds: wait } });
      }
      const { token } = c.req.valid('json');
      const principal = await deps.auth.authenticate(token);
      if (!principal) {
        deps.loginLimiter.recordFailure(client);
        c.get('logger').warn({ client }, 'failed web login');
        throw new AppError('unauthorized', 'that token is not valid');
      }
      if (principal.kind !== 'admin') {
        deps.loginLimiter.recordFailure(client);
        throw new AppError('forbidden', 'the web UI needs the admin token; bot tokens are for the API');
      }
      const { id } = await deps.sessions.create();
      setCookie(c, SESSION_COOKIE, id, {
        httpOnly: true,
        sameSite: 'Strict',
        path: SESSION_COOKIE_PATH,
        secure: new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https',
      });
      return c.json({ principal: 'admin' as const }, 200);
    },
  );

  app.openapi(
    routes.session.logout,
    async (c) => {
      const principal = c.get('principal');
      if (principal.kind === 'admin' && principal.session) {
        exemptFromRevocation(c);
        await deps.sessions.end(principal.session);
      }
      deleteCookie(c, SESSION_COOKIE, { path: SESSION_COOKIE_PATH });
      return c.body(null, 204);
    },
  );
}

/** The peer's address when Berth serves over Node's HTTP server; none for in-process requests. */
function remoteAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}
