import type { OpenAPIHono } from '@hono/zod-openapi';
import type { WSContext, WSEvents } from 'hono/ws';
import type { WebSocket } from 'ws';
import { routes, TERMINAL_IDLE_CLOSE_CODE, TERMINAL_REVOKED_CLOSE_CODE, TerminalClientMessage, type TerminalServerMessage } from '@berth/contract';
import type { TerminalService } from '../../bots/terminal-service.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ExecSession } from '../../runtime/driver.js';
import type { AppEnv } from '../context.js';
import { isSameOrigin } from '../csrf.js';
import { endWhenRevoked } from '../live.js';
import type { WebSocketSupport } from '../websocket.js';

/** Output waits while this much is queued for a slow client: backpressure from the socket to the shell. */
const MAX_BUFFERED = 1024 * 1024;
/** A session opened for an upgrade that never completes is ended after this long. */
const UPGRADE_WAIT_MS = 30_000;
/** Close codes (4000–4999 are the application's own), named in the route's description. */
const IDLE_CLOSE_CODE = TERMINAL_IDLE_CLOSE_CODE;
const REVOKED_CLOSE_CODE = TERMINAL_REVOKED_CLOSE_CODE;

/**
 * `GET /bots/{bot}/terminal`: a WebSocket carrying an interactive PTY shell in the bot's running
 * container. Authenticated like every API route (Bearer header or the session cookie); the
 * `Origin`, when a browser sends one, must be this server's own.
 */
export function terminalRoutes(deps: { terminal: TerminalService; webSockets: WebSocketSupport }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.terminal.open,
    async (c) => {
      // All of a WebSocket handshake, checked before a shell is opened: without `Connection: Upgrade`
      // (or a key) the request is never upgraded, and the shell would hold a terminal place for nothing.
      const connection = (c.req.header('connection') ?? '').toLowerCase().split(',').map((t) => t.trim());
      if ((c.req.header('upgrade') ?? '').toLowerCase() !== 'websocket' || !connection.includes('upgrade') || !c.req.header('sec-websocket-key')) {
        throw new AppError('validation_failed', 'this route is a WebSocket: connect with a WebSocket handshake (Connection: Upgrade, Upgrade: websocket)');
      }
      const origin = c.req.header('origin');
      if (origin !== undefined && !isSameOrigin(origin, c.req.header('host'))) {
        throw new AppError('forbidden', `a terminal cannot be opened from another origin (Origin: ${origin})`);
      }
      const { bot } = c.req.valid('param');
      const { cols, rows } = c.req.valid('query');
      // Opened before the upgrade: a refusal (stopped container, ...) is an ordinary HTTP answer.
      const session = await deps.terminal.open(bot, { cols: cols ?? 80, rows: rows ?? 24 });
      if (c.get('revoked').aborted) {
        void session.kill();
        throw new AppError('unauthorized', 'the token was revoked');
      }
      const log = c.get('logger').child({ bot });
      const events = terminalEvents(session, { idleMs: deps.terminal.idleMs, logger: log, endWhenRevoked: (end) => endWhenRevoked(c, end) });
      return deps.webSockets.upgradeWebSocket(c, events, {
        onError: (err) => log.warn({ err }, 'terminal WebSocket error'),
      }) as never;
    },
  );
}

function terminalEvents(
  session: ExecSession,
  options: { idleMs: number; logger: Logger; endWhenRevoked: (end: () => void) => () => void },
): WSEvents<WebSocket> {
  let opened = false;
  let closed = false;
  let socket: WSContext<WebSocket> | undefined;
  let idle: NodeJS.Timeout | undefined;
  const notOpened = setTimeout(() => {
    if (opened) return;
    unwatch();
    void session.kill();
  }, UPGRADE_WAIT_MS);

  const end = (ws: WSContext<WebSocket>, message: TerminalServerMessage, code: number, reason: string) => {
    if (closed) return;
    closed = true;
    clearTimeout(idle);
    unwatch();
    try {
      ws.send(JSON.stringify(message));
      ws.close(code, reason);
    } catch {
      // The client is gone already.
    }
    void session.kill();
  };
  // Revocation: from now on input is dropped, and the shell is killed.
  const unwatch = options.endWhenRevoked(() => {
    if (socket) {
      end(socket, { type: 'exit', code: null, reason: 'revoked' }, REVOKED_CLOSE_CODE, 'access revoked');
    } else {
      // Not upgraded yet: onOpen closes the socket.
      closed = true;
      void session.kill();
    }
  });
  const touch = (ws: WSContext<WebSocket>) => {
    clearTimeout(idle);
    if (closed) return;
    idle = setTimeout(() => end(ws, { type: 'exit', code: null, reason: 'idle' }, IDLE_CLOSE_CODE, 'idle timeout'), options.idleMs);
  };

  return {
    onOpen: (_evt, ws) => {
      opened = true;
      socket = ws;
      clearTimeout(notOpened);
      if (closed) {
        ws.close(REVOKED_CLOSE_CODE, 'access revoked');
        return;
      }
      touch(ws);
      void (async () => {
        try {
          for await (const chunk of session.output) {
            if (closed) break;
            touch(ws);
            ws.send(chunk.data as Uint8Array<ArrayBuffer>);
            while (!closed && (ws.raw?.bufferedAmount ?? 0) > MAX_BUFFERED) await new Promise((r) => setTimeout(r, 10));
          }
          if (!closed) end(ws, { type: 'exit', code: await session.exitCode }, 1000, 'the shell ended');
        } catch (err) {
          options.logger.warn({ err }, 'terminal session failed');
          end(ws, { type: 'exit', code: null, reason: 'error' }, 1011, 'the terminal failed');
        }
      })();
    },
    onMessage: (evt, ws) => {
      if (closed) return;
      touch(ws);
      const data = evt.data;
      if (typeof data === 'string') {
        const control = controlMessage(data);
        if (control) void session.resize(control.cols, control.rows);
        else void session.write(data).catch(() => undefined);
      } else if (data instanceof ArrayBuffer) {
        void session.write(Buffer.from(data)).catch(() => undefined);
      }
    },
    onClose: () => {
      closed = true;
      unwatch();
      clearTimeout(idle);
      clearTimeout(notOpened);
      void session.kill();
    },
  };
}

/** A resize message, or null for text that is terminal input. */
function controlMessage(text: string): TerminalClientMessage | null {
  if (!text.startsWith('{')) return null;
  try {
    const parsed = TerminalClientMessage.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
