import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
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
      init.app = { request: withRefusalBodies(app.request.bind(app) as AppRequest) } as unknown as NodeWebSocketInit['app'];
    },
    inject: (server) => ws.injectWebSocket(server),
  };
}

type AppRequest = Hono['request'];

/**
 * node-ws answers an upgrade the app refused (401, 404, 409…) with its status line and no body;
 * clients then see a bare status. This sends the app's own answer instead: its headers and the
 * error envelope (small: Berth's own JSON), by taking over the socket's `end` for that one request.
 */
function withRefusalBodies(request: AppRequest): AppRequest {
  return (async (input: Parameters<AppRequest>[0], init?: Parameters<AppRequest>[1], env?: { incoming?: IncomingMessage }) => {
    const response = await request(input, init, env);
    const socket = env?.incoming?.socket;
    if (response.status < 400 || !socket) return response;
    const body = Buffer.from(await response.arrayBuffer());
    const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`];
    response.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'connection' && name !== 'transfer-encoding') head.push(`${name}: ${value}`);
    });
    const end = socket.end.bind(socket);
    socket.end = (() => end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]))) as typeof socket.end;
    return response;
  }) as AppRequest;
}
