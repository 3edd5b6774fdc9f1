import { CSRF_HEADER } from '@berth/contract';
import { BerthClient } from '@berth/sdk';

/**
 * The server refuses a cookie-authenticated request that changes state unless it carries `X-Berth`
 * (a header a page on another origin cannot add without a CORS preflight, which Berth never grants).
 */
const berthFetch: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set(CSRF_HEADER, '1');
  return fetch(input, { ...init, headers, credentials: 'same-origin' }).then((res) => {
    // The login itself answers 401 for a wrong token; anything else means the session is gone.
    if (res.status === 401 && !String(input instanceof Request ? input.url : input).endsWith('/api/v1/session')) {
      window.dispatchEvent(new Event('berth:unauthorized'));
    }
    return res;
  });
};

/** The one client the UI talks to the API through; the session cookie authenticates it. */
export const berth = new BerthClient({ baseUrl: window.location.origin, fetch: berthFetch });
