import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { AppEnv, Principal } from './context.js';

/**
 * The only API routes a bot token reaches, all under `/bots/{bot}/…` of its own bot: its container's
 * info, and its tools. `tree` also opens the paths below (`/tasks/{task}`, `/tasks/{task}/wait`, `/tasks/{task}/output`,
 * `/files/edit`, `/files/mkdir`, `/files/glob`, …).
 * Everything else is admin-only: a new route stays closed to bots until it is added here.
 */
const BOT_ROUTES: Readonly<Record<string, { methods?: readonly string[]; tree?: boolean }>> = {
  container: { methods: ['GET', 'HEAD'] },
  exec: {},
  tasks: { tree: true },
  files: { tree: true },
  terminal: { methods: ['GET', 'HEAD'] },
  mcp: {},
};

/** Where the bot-scoped routes are (the path after the API's base), or null for any other route. */
function botScopedRoute(method: string, apiPath: string): { bot: string } | null {
  const segments = apiPath.split('/').slice(1);
  if (segments.length < 3 || segments[0] !== 'bots') return null;
  const [, bot, tool, ...rest] = segments;
  const rule = tool === undefined ? undefined : Object.hasOwn(BOT_ROUTES, tool) ? BOT_ROUTES[tool] : undefined;
  if (!rule || bot === undefined || bot === '') return null;
  if (rest.length > 0 && !rule.tree) return null;
  if (rule.methods && !rule.methods.includes(method.toUpperCase())) return null;
  return { bot: safeDecode(bot) };
}

export interface AuthorizeDeps {
  /** The API's mount point, e.g. `/api/v1`: request paths are matched below it. */
  basePath: string;
  /** The id and current name of a bot, by id (undefined once it is gone). */
  botNames(botId: string): Promise<{ id: string; name: string } | undefined>;
}

/**
 * Runs after authentication, before any route: the admin reaches everything; a bot token reaches
 * only the bot-scoped routes of its own bot (named by id or by name). Everything else answers 403,
 * whether or not the bot it names exists, so a bot token learns nothing about other bots.
 */
export function authorize(deps: AuthorizeDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal') as Principal | undefined;
    // No principal: the authentication step deliberately let a public route through.
    if (!principal || principal.kind === 'admin') return next();
    const apiPath = c.req.path.startsWith(`${deps.basePath}/`) ? c.req.path.slice(deps.basePath.length) : c.req.path;
    const route = botScopedRoute(c.req.method, apiPath);
    if (!route) throw new AppError('forbidden', { reason: 'a bot token reaches only its own bot’s container info, exec, tasks, files, terminal and MCP' });
    const own = await deps.botNames(principal.botId);
    if (!own || (route.bot !== own.id && route.bot !== own.name)) throw new AppError('forbidden', { reason: 'a bot token reaches only its own bot' });
    await next();
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
