import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { routes } from '@berth/contract';
import { createNodeWebSocket, type NodeWebSocketInit } from '@hono/node-ws';
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import type { WebSocket } from 'ws';
import { AppError } from '../errors.js';
import { errorBody } from './errors.js';
import { API_BASE } from './openapi.js';

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

/** The one route a WebSocket upgrade may reach: the terminal. */
const UPGRADABLE_PATH = new RegExp(`^${API_BASE}${routes.terminal.open.path.replace('{bot}', '[^/]+')}$`);

/**
 * What node-ws gets for an upgrade request. node-ws sends every request that carries
 * `Upgrade: websocket`, whatever its path, through the app as a GET, and reads nothing of an answer
 * that does not upgrade: so only the terminal's path reaches the app (any other answer's body, a
 * file being read, say, would be left open and hold what it holds), and a refusal (401, 404, 409…)
 * is sent as the app made it, headers and error envelope (small: Berth's own JSON), by taking over
 * the socket's `end` for that one request, instead of node-ws's bare status line.
 */
function withRefusalBodies(request: AppRequest): AppRequest {
  return (async (input: Parameters<AppRequest>[0], init?: Parameters<AppRequest>[1], env?: { incoming?: IncomingMessage }) => {
    const pathname = new URL(input instanceof Request ? input.url : String(input), 'http://berth.invalid').pathname;
    const response = UPGRADABLE_PATH.test(pathname) ? await request(input, init, env) : notUpgradable(pathname);
    const socket = env?.incoming?.socket;
    if (response.status < 400 || !socket) {
      await response.body?.cancel();
      return response;
    }
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

function notUpgradable(pathname: string): Response {
  const err = new AppError('validation_failed', { reason: `${pathname} is not a WebSocket route; only ${API_BASE}${routes.terminal.open.path} takes an upgrade` });
  return Response.json(errorBody(err, randomUUID()), { status: err.status });
}
