import type { OpenAPIHono } from '@hono/zod-openapi';
import { CSRF_HEADER } from '@berth/contract';
import { SESSION_COOKIE } from './auth.js';
import type { AppEnv } from './context.js';

/** Where the API is mounted; every path in the document is relative to it (its `servers` entry). */
export const API_BASE = '/api/v1';

const TAGS = [
  { name: 'bots', description: 'Bots: a name, an image, settings, and a data dir that outlives containers' },
  { name: 'container', description: 'A bot’s one container: create, recreate, start, stop, remove' },
  { name: 'operations', description: 'Long work (create, restore, import, …) as operations with an event stream' },
  { name: 'snapshots', description: 'Snapshots of the root filesystem and data dir, restored in place; container versions' },
  { name: 'data', description: 'The data dir as a whole: export, import, reset' },
  { name: 'exec', description: 'Commands in the bot’s container, in the foreground or as background tasks' },
  { name: 'files', description: 'Read, write, list, edit, move and remove files in the bot’s container' },
  { name: 'terminal', description: 'An interactive shell over a WebSocket' },
  { name: 'tokens', description: 'Bot tokens: credentials that reach only one bot’s tools' },
  { name: 'session', description: 'The web UI’s login (a session cookie in exchange for the admin token)' },
  { name: 'mcp', description: 'The Model Context Protocol endpoint of a bot' },
  { name: 'system', description: 'The server, its engine, CDI devices and the change feed' },
];

type Doc = ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']>;

/**
 * The OpenAPI 3.1 document, generated from the route definitions the app registered (the contract's),
 * with what belongs to the whole API: the server it lives under, and how to authenticate.
 */
export function openApiDocument(api: OpenAPIHono<AppEnv>, version: string): Doc {
  // Components are added to the app's registry: build the document once, after every route is registered.
  const registry = api.openAPIRegistry;
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token (BERTH_ADMIN_TOKEN), or a bot token (`berth_bot_…`) that reaches only its own bot’s tools.',
  });
  registry.registerComponent('securitySchemes', 'cookieAuth', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description:
      `The web UI’s session, set by \`POST /session\`. A request that changes state with it needs the \`${headerName(CSRF_HEADER)}\` header ` +
      'or a JSON body, and must not come from another origin.',
  });
  registry.registerComponent('parameters', 'CsrfHeader', {
    name: headerName(CSRF_HEADER),
    in: 'header',
    required: false,
    description: 'Any value: with the session cookie, a state-changing request needs it (or a JSON body), which a page of another site cannot send',
    schema: { type: 'string' },
  });
  const doc = api.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Berth API',
      version,
      description: 'Every bot its own isolated, persistent container. Errors always have one shape: `{"error": {"code", "message", "details"?, "requestId"}}`.',
    },
    servers: [{ url: API_BASE, description: 'this Berth server' }],
    security: [{ bearerAuth: [] }, { cookieAuth: [] }],
    tags: TAGS,
  });
  addCsrfHeader(doc);
  return doc;
}

/** Operations that change state and take the session cookie say they need the CSRF header with it. */
function addCsrfHeader(doc: Doc): void {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const method of ['post', 'put', 'patch', 'delete'] as const) {
      const op = item[method];
      if (!op || (op.security && op.security.length === 0)) continue;
      op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/CsrfHeader' }];
    }
  }
}

/** `x-berth` → `X-Berth`: how the header is written in documentation. */
function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
}
