import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { botTokensKey, sessionKey, tokenKey, type LiveConnections } from '../core/live-connections.js';
import type { AppEnv, Principal } from './context.js';

/**
 * Runs after authentication: watches the request's credential until its answer has been sent, so
 * that revoking the credential ends whatever the request is doing, a long exec or a download as
 * much as a stream. The `revoked` signal fires (handlers pass it on to the work they start), and the
 * connection is destroyed, so the holder gets nothing more and the handler sees its client gone.
 * A stream that ends itself in its own way (`endWhenRevoked`) keeps its connection for that, and so
 * does the request doing the revoking (`exemptFromRevocation`). Watching from here, before a stream
 * is set up, also means a revocation landing meanwhile (a terminal waits for the engine before it
 * registers) is not missed: `endWhenRevoked` sees it.
 */
export function trackRevocation(connections: LiveConnections): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('connections', connections);
    const revoked = new AbortController();
    c.set('revoked', revoked.signal);
    const keys = principalKeys(c.get('principal') as Principal | undefined);
    if (keys.length === 0) return next();
    const env = c.env as Partial<HttpBindings> | undefined;
    const unregister = connections.add(keys, () => {
      revoked.abort();
      if (!endsItself.has(c)) env?.incoming?.socket.destroy();
    });
    // A streamed answer (a download, an export) goes on after the handler returns: watch until it is sent.
    const outgoing = env?.outgoing;
    if (outgoing && !outgoing.writableFinished) outgoing.once('close', unregister);
    try {
      await next();
    } finally {
      if (!outgoing) unregister();
    }
  };
}

/** Requests whose revocation is handled without destroying their connection (see `trackRevocation`). */
const endsItself = new WeakSet<Context<AppEnv>>();

/** The request is the one revoking its own credential (a logout): it is answered, not cut off. */
export function exemptFromRevocation(c: Context<AppEnv>): void {
  endsItself.add(c);
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
  endsItself.add(c);
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
