import type { Context, MiddlewareHandler } from 'hono';
import { botTokensKey, sessionKey, tokenKey, type LiveConnections } from '../bots/live-connections.js';
import type { AppEnv, Principal } from './context.js';

/**
 * Runs after authentication: watches the request's credential from then on, so that a revocation
 * that lands while a stream is being set up (a terminal waits for the engine before it registers)
 * is not missed: `endWhenRevoked` sees it.
 */
export function trackRevocation(connections: LiveConnections): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('connections', connections);
    const revoked = new AbortController();
    c.set('revoked', revoked.signal);
    const keys = principalKeys(c.get('principal') as Principal | undefined);
    const unregister = keys.length > 0 ? connections.add(keys, () => revoked.abort()) : () => undefined;
    try {
      await next();
    } finally {
      unregister();
    }
  };
}

/**
 * Registers a long-lived connection (terminal, MCP or SSE stream) under the credential of the
 * request that opened it: revoking the bot token, deleting its bot, or ending the web session calls
 * `end` (at once if that already happened). Returns the function that unregisters it, to call when
 * the connection ends by itself. The admin token itself cannot be revoked while Berth runs (changing
 * it needs a restart, which ends everything), so its streams register nowhere.
 */
export function endWhenRevoked(c: Context<AppEnv>, end: () => void): () => void {
  const connections = c.get('connections') as LiveConnections | undefined;
  const keys = principalKeys(c.get('principal') as Principal | undefined);
  if (!connections || keys.length === 0) return () => undefined;
  if ((c.get('revoked') as AbortSignal | undefined)?.aborted) {
    queueMicrotask(end);
    return () => undefined;
  }
  return connections.add(keys, end);
}

function principalKeys(principal: Principal | undefined): string[] {
  if (!principal) return [];
  if (principal.kind === 'bot') return [tokenKey(principal.tokenId), botTokensKey(principal.botId)];
  return principal.session ? [sessionKey(principal.session)] : [];
}
