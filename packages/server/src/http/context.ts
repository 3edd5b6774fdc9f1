import type { Logger } from '../logger.js';

/** Who is calling: the admin, or a bot through one of its tokens. */
export type Principal = { kind: 'admin' } | { kind: 'bot'; botId: string; tokenId: string };

export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
  };
}
