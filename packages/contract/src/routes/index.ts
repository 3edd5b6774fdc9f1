import { data } from './data.js';
import { exec } from './exec.js';
import { files } from './files.js';
import { lifecycle } from './lifecycle.js';
import { mcp } from './mcp.js';
import { session } from './session.js';
import { snapshots } from './snapshots.js';
import { system } from './system.js';
import { terminal } from './terminal.js';
import { tokens } from './tokens.js';

export {
  defineRoute,
  type HeaderDefinition,
  type HttpMethod,
  type JsonSchema,
  type MediaType,
  type ResponseBody,
  type ResponseDefinition,
  type ResponseSchema,
  type RouteDefinition,
} from './define.js';
export { TERMINAL_IDLE_CLOSE_CODE, TERMINAL_REVOKED_CLOSE_CODE } from './terminal.js';
export { GLOB_DEFAULT_LIMIT, GLOB_MAX_LIMIT } from './files.js';
export { TASK_OUTPUT_MAX_LENGTH, TASK_WAIT_DEFAULT_SECONDS, TASK_WAIT_MAX_SECONDS } from './exec.js';

/**
 * Every API route, grouped by capability: `routes.snapshots.create`. Paths are relative to the
 * API's base, `/api/v1`.
 */
export const routes = { lifecycle, snapshots, data, exec, files, terminal, tokens, session, system, mcp } as const;

export type Routes = typeof routes;
