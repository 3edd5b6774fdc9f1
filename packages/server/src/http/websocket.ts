import type { Server } from 'node:http';
import { createNodeWebSocket, type NodeWebSocketInit } from '@hono/node-ws';
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import type { WebSocket } from 'ws';

/**
 * WebSocket upgrades for Node: routes use `upgradeWebSocket`; the composition root hands the listening
 * server to `inject`, which sends each upgrade request through the app (authentication and all)
 * before completing it. `createApp` attaches itself, so it stays free of any server.
 */
export interface WebSocketSupport {
  readonly upgradeWebSocket: UpgradeWebSocket<WebSocket, { onError: (err: unknown) => void }>;
  attach(app: Hono<never, never, never> | { request: Hono['request'] }): void;
  inject(server: Server): void;
}

export function createWebSocketSupport(): WebSocketSupport {
  // node-ws reads `init.app` only when an upgrade arrives, by which time the app is attached.
  const init = {} as NodeWebSocketInit;
  const ws = createNodeWebSocket(init);
  return {
    upgradeWebSocket: ws.upgradeWebSocket,
    attach: (app) => {
      init.app = app as NodeWebSocketInit['app'];
    },
    inject: (server) => ws.injectWebSocket(server),
  };
}
