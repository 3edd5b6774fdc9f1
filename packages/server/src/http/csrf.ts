import type { Context } from 'hono';
import { CSRF_HEADER } from '@berth/contract';
import { AppError } from '../errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Guards requests authenticated by the web UI's session cookie against cross-site request forgery.
 * The cookie is `SameSite=Strict`, but "site" ignores the port, so a page served by another program on
 * the same host would still send it. Hence, for cookie-authenticated requests:
 * - the browser's own provenance headers must not name another origin (`Sec-Fetch-Site`, `Origin`),
 *   which also covers WebSocket upgrades, whose headers a page cannot set;
 * - a state-changing request must carry `X-Berth` or a JSON content type: both need a CORS preflight
 *   from another origin, and Berth answers no preflight.
 * Bearer-token requests are not affected: a browser never adds that header by itself.
 */
export function assertCookieRequestAllowed(c: Context): void {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') {
    throw new AppError('forbidden', { reason: `cross-site request refused (Sec-Fetch-Site: ${site}); the session cookie is for Berth's own pages` });
  }
  const origin = c.req.header('origin');
  if (origin !== undefined && !isSameOrigin(origin, c.req.header('host') ?? new URL(c.req.url).host)) {
    throw new AppError('forbidden', { reason: `cross-origin request refused (Origin: ${origin}); the session cookie is for Berth's own pages` });
  }
  if (SAFE_METHODS.has(c.req.method.toUpperCase())) return;
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (c.req.header(CSRF_HEADER) === undefined && type !== 'application/json') {
    throw new AppError('forbidden', { reason: `a request authenticated by the session cookie that changes state needs the ${CSRF_HEADER} header or a JSON body` });
  }
}

/** Whether a browser's `Origin` names this server (`host`); false without a host to compare. */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    // "null" (sandboxed frames, some redirects) and anything unparsable.
    return false;
  }
}
