import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { AppEnv } from './context.js';

/**
 * How a route's request body is judged:
 * - `buffer`: read here, at most `limit` bytes, before the route sees it (JSON bodies, whose
 *   validators read the body whole); the route then reads the bytes kept here.
 * - `stream`: left to the route, which streams it and applies its own limit as it goes (uploads,
 *   imports); only a declared `Content-Length` past `limit` is refused here, before anything is read.
 */
export type BodyRule = { kind: 'buffer'; limit: number } | { kind: 'stream'; limit: number | null; code: 'body_too_large' | 'archive_too_large' };

/** Largest JSON body of an ordinary API call. */
export const JSON_BODY_LIMIT = 1024 * 1024;
/** Exec (its stdin) and file edits (their texts) carry data in JSON: their schemas' sizes, with room for escapes. */
export const LARGE_JSON_BODY_LIMIT = 20 * 1024 * 1024;
/** The login body holds one token; it is read before anyone is authenticated, so it stays small. */
export const LOGIN_BODY_LIMIT = 16 * 1024;

/**
 * Judges the request body by the route's rule (`ruleFor`), after authentication: a declared
 * Content-Length past the limit answers 413 at once, and a body sent without one (chunked) is
 * refused as soon as the bytes read pass it. The rest is never read: the app closes the connection
 * (see `closeIfBodyUnread`).
 */
export function bodyLimit(ruleFor: (method: string, path: string) => BodyRule): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const method = c.req.method.toUpperCase();
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    const rule = ruleFor(method, c.req.path);
    const code = rule.kind === 'stream' ? rule.code : 'body_too_large';
    const declared = declaredLength(c);
    if (rule.limit !== null && declared !== null && declared > rule.limit) throw tooLarge(code, rule.limit, declared);
    if (rule.kind === 'buffer') {
      const body = await readAtMost(c, rule.limit);
      // The route (its validator, the MCP transport) reads these bytes instead of the connection.
      c.req.raw = new Request(c.req.raw, { body });
    }
    await next();
  };
}

/**
 * After the answer: a request whose body was not read to its end (refused before or while it was
 * read) has its connection closed instead of the rest being read. The server ends its side at once,
 * so the client learns the answer is all there is. Closing the socket outright with unread data
 * would make the kernel reset the connection, which can destroy the answer before the client reads
 * it; so what still arrives is dropped for a moment before the socket closes (a "lingering close":
 * @hono/node-server's own, at most 500 ms or 64 MiB, nothing kept).
 */
export function closeIfBodyUnread(c: Context<AppEnv>): void {
  const env = c.env as Partial<HttpBindings> | undefined;
  const incoming = env?.incoming;
  const outgoing = env?.outgoing;
  if (!incoming || !outgoing || incoming.readableEnded || incoming.complete) return;
  const declared = declaredLength(c);
  if (declared === 0 || (declared === null && c.req.header('transfer-encoding') === undefined)) return;
  outgoing.once('finish', () => {
    if (!incoming.socket.destroyed) incoming.socket.end();
  });
}

function declaredLength(c: Context<AppEnv>): number | null {
  const header = c.req.header('content-length');
  if (header === undefined || !/^\d{1,16}$/.test(header.trim())) return null;
  return Number(header.trim());
}

function tooLarge(code: 'body_too_large' | 'archive_too_large', limit: number, declared?: number): AppError {
  return new AppError(code, `the request body is larger than this route's limit of ${limit} bytes`, {
    details: { limitBytes: limit, ...(declared !== undefined && { contentLength: declared }) },
  });
}

/** The body, read to its end but never past `limit` bytes. */
async function readAtMost(c: Context<AppEnv>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming && typeof incoming.iterator === 'function' && !incoming.readableDidRead) {
    // On the Node server, the request itself; stopping early leaves it open for the error answer.
    for await (const chunk of incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) throw tooLarge('body_too_large', limit);
      chunks.push(chunk);
    }
  } else if (c.req.raw.body) {
    const reader = c.req.raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge('body_too_large', limit);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}
