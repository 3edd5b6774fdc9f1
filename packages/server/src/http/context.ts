import type { LiveConnections } from '../core/live-connections.js';
import type { Logger } from '../logger.js';

/**
 * Who is calling: the admin (through the admin token, or through a web session, named by the hash
 * of its id), or a bot through one of its tokens.
 */
export type Principal = { kind: 'admin'; session?: string } | { kind: 'bot'; botId: string; tokenId: string };

export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
    /** Where streams register, so that revoking their credential ends them (http/live.ts). */
    connections: LiveConnections;
    /** Fires when the request's credential is revoked while it runs. */
    revoked: AbortSignal;
  };
}
