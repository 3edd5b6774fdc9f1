import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { BotService } from '../bots/bot-service.js';
import type { ChangeFeed } from '../bots/change-feed.js';
import type { ContainerService } from '../bots/container-service.js';
import type { Operations } from '../bots/operations.js';
import type { UnmanagedContainer } from '../bots/reconciler.js';
import type { TokenService } from '../bots/token-service.js';
import type { CdiRegistry } from '../cdi/cdi-registry.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import { requireAuth, type Authenticator } from './auth.js';
import { authorize } from './authorize.js';
import { bodyLimit, closeIfBodyUnread, JSON_BODY_LIMIT, LARGE_JSON_BODY_LIMIT, LOGIN_BODY_LIMIT, type BodyRule } from './body-limit.js';
import type { AppEnv } from './context.js';
import { renderError } from './errors.js';
import { allowedMethods } from './allowed-methods.js';
import { API_BASE, openApiDocument } from './openapi.js';
import { botRoutes } from './routes/bots.js';
import { containerRoutes } from './routes/container.js';
import { engineHealth, systemRoutes } from './routes/system.js';
import { tokenRoutes } from './routes/tokens.js';
import { dataRoutes } from './routes/data.js';
import { snapshotRoutes } from './routes/snapshots.js';
import type { SnapshotService } from '../bots/snapshot-service.js';
import type { DataService } from '../bots/data-service.js';
import { botOperationRoutes } from './routes/bot-operations.js';
import { LOGIN_ROUTE, sessionRoutes } from './routes/session.js';
import { serveWebUi } from './static.js';
import type { ExecService } from '../bots/exec-service.js';
import type { TaskService } from '../bots/task-service.js';
import { execRoutes } from './routes/exec.js';
import type { FilesService } from '../bots/files-service.js';
import { fileRoutes } from './routes/files.js';
import type { TerminalService } from '../bots/terminal-service.js';
import { terminalRoutes } from './routes/terminal.js';
import { createWebSocketSupport, type WebSocketSupport } from './websocket.js';
import { MAX_MCP_BODY_BYTES, mcpRoutes, type McpRouteDeps } from './routes/mcp.js';
import type { LiveConnections } from '../bots/live-connections.js';
import type { SessionService } from '../bots/session-service.js';
import { trackRevocation } from './live.js';
import { LoginLimiter } from './login-limiter.js';

export interface AppDeps {
  version: string;
  logger: Logger;
  auth: Authenticator;
  /** The web UI's sessions, behind the session cookie. */
  sessions: SessionService;
  /** The streams open under each credential, ended when it is revoked. */
  connections: LiveConnections;
  /** Failed logins per client; one is made when not given. */
  loginLimiter?: LoginLimiter;
  driver: RuntimeDriver;
  bots: BotService;
  containers: ContainerService;
  operations: Operations;
  changes: ChangeFeed;
  cdi: CdiRegistry;
  unmanaged: () => UnmanagedContainer[];
  tokens: TokenService;
  data: DataService;
  snapshots: SnapshotService;
  exec: ExecService;
  tasks: TaskService;
  files: FilesService;
  terminal: TerminalService;
  /** WebSocket upgrades (the terminal); the composition root injects them into the server. */
  webSockets?: WebSocketSupport;
  /** The MCP endpoint: resolves the bot and makes one MCP server per request. */
  mcp: McpRouteDeps;
  /** The built web UI, served at `/`; none when absent (API only). */
  webDist?: string;
  /** BERTH_MAX_IMPORT_BYTES: an import body declared larger than any archive within it could be is refused unread. */
  maxImportBytes?: number;
}

/**
 * Each API route's body rule (http/body-limit.ts): uploads and imports stream under their own
 * limits; the MCP endpoint's JSON-RPC carries file contents; everything else is a small JSON body.
 */
function bodyRules(maxImportBytes: number | null): (method: string, path: string) => BodyRule {
  return (method, fullPath) => {
    const p = fullPath.startsWith(API_BASE) ? fullPath.slice(API_BASE.length) : fullPath;
    if (method === LOGIN_ROUTE.method && p === LOGIN_ROUTE.path) return { kind: 'buffer', limit: LOGIN_BODY_LIMIT };
    // A files write streams into the container; what it may fill is the disk limit's business.
    if (method === 'PUT' && /^\/bots\/[^/]+\/files$/.test(p)) return { kind: 'stream', limit: null, code: 'body_too_large' };
    if (method === 'POST' && /^\/bots\/[^/]+\/data\/import$/.test(p)) {
      return { kind: 'stream', limit: maxImportBytes === null ? null : importBodyLimit(maxImportBytes), code: 'archive_too_large' };
    }
    if (method === 'POST' && /^\/bots\/[^/]+\/mcp$/.test(p)) return { kind: 'buffer', limit: MAX_MCP_BODY_BYTES };
    // Their schemas take more than an ordinary call: exec's stdin (16 MiB), edit's two texts (8 MiB each).
    if (method === 'POST' && /^\/bots\/[^/]+\/(?:exec|files\/edit)$/.test(p)) return { kind: 'buffer', limit: LARGE_JSON_BODY_LIMIT };
    return { kind: 'buffer', limit: JSON_BODY_LIMIT };
  };
}

/**
 * The largest body an import within BERTH_MAX_IMPORT_BYTES (counted on the uncompressed tar) can
 * have: gzip can make incompressible data slightly larger (deflate's stored blocks add 5 bytes per
 * 64 KiB, plus a header and trailer), so allow for that rather than refuse a valid archive.
 */
export function importBodyLimit(maxImportBytes: number): number {
  return maxImportBytes + Math.ceil(maxImportBytes / 8192) + 64 * 1024;
}

/** Builds the HTTP app without listening, so tests drive it in-process with `app.request()`. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  app.use('*', async (c, next) => {
    const requestId = randomUUID();
    c.set('requestId', requestId);
    c.set('logger', deps.logger.child({ requestId }));
    c.header('X-Request-Id', requestId);
    await next();
    closeIfBodyUnread(c);
  });
  app.onError((err, c) => renderError(err, c));
  // A known path asked with another method is a 405 naming the methods it has (read once every route is registered).
  const methodsOf = allowedMethods(() => api.routes);
  app.notFound((c) => {
    const allow = c.req.path.startsWith(`${API_BASE}/`) ? methodsOf(c.req.path.slice(API_BASE.length)) : [];
    if (allow.length === 0) return renderError(new AppError('not_found', `no route ${c.req.method} ${c.req.path}`), c);
    c.header('Allow', allow.join(', '));
    return renderError(new AppError('method_not_allowed', `${c.req.path} does not take ${c.req.method}; it takes ${allow.join(', ')}`, { details: { allow } }), c);
  });

  app.get('/healthz', async (c) => {
    const health = await engineHealth(deps.driver);
    return c.json(health, health.status === 'ok' ? 200 : 503);
  });

  // Everything under /api needs a token, known route or not: without one, a caller learns nothing, not even which paths exist.
  app.use('/api/*', requireAuth(deps.auth, deps.sessions, { publicRoutes: [{ method: LOGIN_ROUTE.method, path: `${API_BASE}${LOGIN_ROUTE.path}` }] }));
  // Discovery documents (OAuth's among them) Berth does not have are a JSON 404, never the web UI's page.
  app.all('/.well-known/*', (c) => renderError(new AppError('not_found', `no route ${c.req.method} ${c.req.path}`), c));

  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new AppError('validation_failed', issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), { details: { issues } });
      }
    },
  });
  api.use('*', trackRevocation(deps.connections));
  // Deny by default: bot tokens reach only the routes authorize.ts opens to them.
  api.use('*', authorize({ basePath: API_BASE, botNames: (botId) => deps.tokens.botNames(botId) }));
  // Only now, with the caller known and allowed, is the body read (the login's is small).
  api.use('*', bodyLimit(bodyRules(deps.maxImportBytes ?? null)));
  botRoutes(deps, api);
  containerRoutes(deps, api);
  systemRoutes(deps, api);
  tokenRoutes(deps, api);
  dataRoutes(deps, api);
  snapshotRoutes(deps, api);
  sessionRoutes({ auth: deps.auth, sessions: deps.sessions, loginLimiter: deps.loginLimiter ?? new LoginLimiter() }, api);
  botOperationRoutes(deps, api);
  execRoutes(deps, api);
  fileRoutes(deps, api);
  const webSockets = deps.webSockets ?? createWebSocketSupport();
  webSockets.attach(app);
  terminalRoutes({ terminal: deps.terminal, webSockets }, api);
  mcpRoutes(deps.mcp, api);
  let document: ReturnType<typeof openApiDocument> | undefined;
  api.get('/openapi.json', (c) => c.json((document ??= openApiDocument(api, deps.version))));

  app.route(API_BASE, api);
  if (deps.webDist) app.use('*', serveWebUi({ root: deps.webDist }));
  return app;
}
