/**
 * The long-lived connections (terminals, MCP and SSE streams) open under each credential, so that
 * revoking one ends what it opened at once instead of at the next request. A connection registers
 * under keys naming its credential (`tokenKey`, `botTokensKey`, `sessionKey`); `end(key)` calls the
 * `end` callback of every connection under it. Everything here is in memory: a restart ends every
 * connection anyway.
 */
export class LiveConnections {
  private readonly byKey = new Map<string, Set<Connection>>();

  /** Registers a connection under `keys`; the returned function unregisters it (call it when the connection ends). */
  add(keys: readonly string[], end: () => void): () => void {
    const connection: Connection = { end, keys };
    for (const key of keys) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(connection);
    }
    return () => this.remove(connection);
  }

  /** Ends every connection registered under `key`; returns how many there were. */
  end(key: string): number {
    const set = this.byKey.get(key);
    if (!set) return 0;
    const connections = [...set];
    for (const connection of connections) {
      this.remove(connection);
      try {
        connection.end();
      } catch {
        // One connection failing to end must not keep the others open.
      }
    }
    return connections.length;
  }

  /** Whether any connection is open under `key`. */
  has(key: string): boolean {
    return (this.byKey.get(key)?.size ?? 0) > 0;
  }

  private remove(connection: Connection): void {
    for (const key of connection.keys) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(connection);
      if (set.size === 0) this.byKey.delete(key);
    }
  }
}

interface Connection {
  end: () => void;
  keys: readonly string[];
}

/** Connections opened with one bot token. */
export function tokenKey(tokenId: string): string {
  return `token:${tokenId}`;
}

/** Connections opened with any token of one bot (they end when the bot is deleted). */
export function botTokensKey(botId: string): string {
  return `bot-tokens:${botId}`;
}

/** Connections opened through one web session (by the hash of its id). */
export function sessionKey(sessionHash: string): string {
  return `session:${sessionHash}`;
}
