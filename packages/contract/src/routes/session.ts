import { CreateSessionBody, Session } from '../session.js';
import { AUTH_ERRORS, defineRoute, empty, errors, json, JSON_BODY_ERRORS } from './define.js';

/** The web UI's login and logout (an HttpOnly session cookie, `berth_session`). */

export const login = defineRoute({
  method: 'post',
  path: '/session',
  operationId: 'login',
  summary: 'Log the web UI in: trades the admin token for an HttpOnly session cookie',
  tags: ['session'],
  // The one route open without a token: it is how a browser gets one.
  security: [],
  request: { body: { content: { 'application/json': { schema: CreateSessionBody } }, required: true } },
  responses: {
    200: {
      ...json(Session, 'logged in; the berth_session cookie is set'),
      headers: { 'Set-Cookie': { description: '`berth_session=<id>; HttpOnly; SameSite=Strict; Path=/api`', schema: { type: 'string' } } },
    },
    ...errors({
      ...JSON_BODY_ERRORS,
      401: 'unauthorized: not a valid token',
      403: 'forbidden: a bot token; the web UI needs the admin token',
      429: 'too_many_requests: too many failed logins from this client; try again after Retry-After seconds',
      500: AUTH_ERRORS[500],
    }),
  },
});

export const logout = defineRoute({
  method: 'delete',
  path: '/session',
  operationId: 'logout',
  summary: 'Log the web UI out: ends the session (and the streams opened through it) and clears the cookie',
  tags: ['session'],
  responses: { 204: empty('logged out'), ...errors(AUTH_ERRORS) },
});

export const session = { login, logout } as const;
