import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { deleteCookie, setCookie } from 'hono/cookie';
import { CreateSessionBody, Session } from '@berth/contract';
import { AppError } from '../../errors.js';
import { SESSION_COOKIE, type Authenticator } from '../auth.js';
import type { AppEnv } from '../context.js';
import { errorResponse, jsonContent } from './openapi.js';

/** Where the session cookie is sent: the API only, not the UI's static files. */
const SESSION_COOKIE_PATH = '/api';

/** The API path of the login route, which http/auth.ts lets through without a token. */
export const LOGIN_ROUTE = { method: 'POST', path: '/session' } as const;

/**
 * The web UI's login and logout. The cookie holds the admin token itself (the auth middleware reads
 * it like a bearer token); it is HttpOnly so page scripts never see it, SameSite=Strict, and Secure
 * when Berth is reached over HTTPS. It lasts as long as the browser session.
 */
export function sessionRoutes(deps: { auth: Authenticator }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: LOGIN_ROUTE.path,
      tags: ['session'],
      summary: 'Log the web UI in: trades the admin token for an HttpOnly session cookie',
      request: { body: { content: { 'application/json': { schema: CreateSessionBody } }, required: true } },
      responses: {
        200: jsonContent(Session, 'logged in; the berth_session cookie is set'),
        401: errorResponse('not a valid token'),
        403: errorResponse('a bot token: the web UI needs the admin token'),
      },
    }),
    async (c) => {
      const { token } = c.req.valid('json');
      const principal = await deps.auth.authenticate(token);
      if (!principal) throw new AppError('unauthorized', 'that token is not valid');
      if (principal.kind !== 'admin') throw new AppError('forbidden', 'the web UI needs the admin token; bot tokens are for the API');
      setCookie(c, SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'Strict',
        path: SESSION_COOKIE_PATH,
        secure: new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https',
      });
      c.get('logger').info('web session started');
      return c.json({ principal: 'admin' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/session',
      tags: ['session'],
      summary: 'Log the web UI out: clears the session cookie',
      responses: { 204: { description: 'logged out' } },
    }),
    (c) => {
      deleteCookie(c, SESSION_COOKIE, { path: SESSION_COOKIE_PATH });
      return c.body(null, 204);
    },
  );
}
