import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AppError } from '../../errors.js';
import type { AppEnv } from '../context.js';
import { isSameOrigin } from '../csrf.js';
import { endWhenRevoked } from '../live.js';

export interface McpRouteDeps {
  /** The bot a request names (id or name); `bot_not_found` when there is none. */
  resolveBot(idOrName: string): Promise<{ id: string }>;
  /** A fresh MCP server whose tools act on one bot (by id). */
  createMcpServer(botId: string): Promise<McpServer>;
}

/** The largest JSON-RPC request accepted; file contents travel inside it. */
export const MAX_MCP_BODY_BYTES = 32 * 1024 * 1024;

/**
 * `POST /bots/{bot}/mcp`: the Model Context Protocol over Streamable HTTP, stateless — every request
 * gets its own server and transport, so nothing is kept between calls and any number of agents can
 * use one bot at once. Authorised like the bot's other tools (its own bot token, or the admin).
 * There are no server-initiated messages, so the optional GET stream and the session DELETE are 405,
 * as the protocol allows.
 */
export function mcpRoutes(deps: McpRouteDeps, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.mcp.call,
    async (c) => {
      rejectForeignOrigin(c.req.header('origin'), c.req.header('host'));
      const bot = await deps.resolveBot(c.req.valid('param').bot);
      const server = await deps.createMcpServer(bot.id);
      // Loaded on first use: the MCP SDK would otherwise be a large share of an idle server's memory.
      const { WebStandardStreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js');
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: MAX_MCP_BODY_BYTES });
      // A client that goes away cancels what it asked for: closing the server aborts running tools.
      let unwatch: () => void = () => undefined;
      const close = () => {
        unwatch();
        void server.close().catch(() => undefined);
      };
      c.req.raw.signal.addEventListener('abort', close, { once: true });
      // Revoking the token ends the answer being streamed and aborts its running tools.
      let ending: TransformStreamDefaultController<Uint8Array> | undefined;
      unwatch = endWhenRevoked(c, () => {
        close();
        try {
          ending?.terminate();
        } catch {
          // Already ended.
        }
      });
      let res: Response;
      try {
        await server.connect(transport);
        res = await transport.handleRequest(c.req.raw);
      } catch (err) {
        // Nothing will stream: the server and the revocation watch end here.
        close();
        throw err;
      }
      if (c.get('revoked').aborted) {
        void res.body?.cancel().catch(() => undefined);
        close();
        throw new AppError('unauthorized', 'the token was revoked');
      }
      if (!res.body) {
        close();
        return res as never;
      }
      // Release the server once its answer has been sent.
      const body = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          start: (controller) => {
            ending = controller;
          },
          flush: close,
        }),
      );
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers }) as never;
    },
  );

  app.on(['GET', 'DELETE'], '/bots/:bot/mcp', (c) =>
    c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless; POST JSON-RPC messages to it' }, id: null }, 405, { allow: 'POST' }),
  );
}

/**
 * MCP's rule against DNS rebinding: a browser page may call only from the server's own origin.
 * Agents and other programs send no Origin header.
 */
function rejectForeignOrigin(origin: string | undefined, host: string | undefined): void {
  if (origin !== undefined && !isSameOrigin(origin, host)) throw new AppError('forbidden', `MCP requests from origin ${origin} are not allowed`);
}
