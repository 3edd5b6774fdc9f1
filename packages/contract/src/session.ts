import { z } from 'zod';
import { Operation } from './schemas.js';

/** `POST /session`: the web UI trades the admin token for an HttpOnly session cookie. */
export const CreateSessionBody = z.object({ token: z.string().min(1).max(4096) }).strict().meta({ id: 'CreateSessionBody' });
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const Session = z.object({ principal: z.literal('admin') }).meta({ id: 'Session' });
export type Session = z.infer<typeof Session>;

/**
 * The header a browser request authenticated by the session cookie must carry to change state
 * (CSRF guard); a JSON content type is accepted instead.
 */
export const CSRF_HEADER = 'x-berth';

/** `GET /bots/{bot}/operations`: the bot's latest operations, newest first. */
export const OperationList = z.object({ operations: z.array(Operation) }).meta({ id: 'OperationList' });
export type OperationList = z.infer<typeof OperationList>;
