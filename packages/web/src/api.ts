import { BerthClient } from '@berth/sdk';

/**
 * The SDK's fetch, telling the app when the session is gone. (The SDK itself sends the session cookie
 * and, on state changes, the `X-Berth` header the server asks of cookie-authenticated requests.)
 */
const berthFetch: typeof fetch = (input, init = {}) => {
  return fetch(input, init).then((res) => {
    // The login itself answers 401 for a wrong token; anything else means the session is gone.
    if (res.status === 401 && !String(input instanceof Request ? input.url : input).endsWith('/api/v1/session')) {
      window.dispatchEvent(new Event('berth:unauthorized'));
    }
    return res;
  });
};

/** The one client the UI talks to the API through; the session cookie authenticates it. */
export const berth = new BerthClient({ baseUrl: window.location.origin, fetch: berthFetch });
