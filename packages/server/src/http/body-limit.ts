import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { AppEnv, Principal } from './context.js';

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
 * Bodies read whole are held (buffered, parsed, turned into stdin) before a bot's work limiter sees
 * the call, so how many large ones are in memory at once is bounded here: a body over
 * JSON_BODY_LIMIT (declared, or once read that far) takes a place among its caller's
 * LARGE_BODIES_PER_CALLER and counts its size (declared, else the route's limit) against
 * LARGE_BODY_BYTES_IN_FLIGHT for the whole server, until its request has been answered. Past either,
 * 429 too_many_requests with Retry-After. Small bodies do not count: they are bounded by the limit
 * on connections anyway.
 */
export const LARGE_BODIES_PER_CALLER = 2;
export const LARGE_BODY_BYTES_IN_FLIGHT = 256 * 1024 * 1024;
const BODY_RETRY_AFTER_SECONDS = 2;

/** The large bodies being held now, per caller and in all (see LARGE_BODIES_PER_CALLER). */
export class BodyBudget {
  private readonly perCaller = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly limits: { perCaller: number; totalBytes: number } = { perCaller: LARGE_BODIES_PER_CALLER, totalBytes: LARGE_BODY_BYTES_IN_FLIGHT }) {}

  /** Takes a place for a body of `bytes` held by `caller`; the returned function gives it back (once). */
  take(caller: string, bytes: number): () => void {
    const held = this.perCaller.get(caller) ?? 0;
    if (held >= this.limits.perCaller) {
      throw busy(`${held} large request bodies of this caller are already being handled; retry later`);
    }
    if (this.bytes + bytes > this.limits.totalBytes) throw busy('the server is handling too many large request bodies; retry later');
    this.perCaller.set(caller, held + 1);
    this.bytes += bytes;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.bytes -= bytes;
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left > 0) this.perCaller.set(caller, left);
      else this.perCaller.delete(caller);
    };
  }
}

function busy(message: string): AppError {
  return new AppError('too_many_requests', { reason: message }, { details: { retryAfterSeconds: BODY_RETRY_AFTER_SECONDS } });
}

/** Whose bodies count together: a bot (all its tokens), or the admin. */
function callerOf(c: Context<AppEnv>): string {
  const principal = c.get('principal') as Principal | undefined;
  return principal?.kind === 'bot' ? `bot:${principal.botId}` : 'admin';
}

/**
 * Judges the request body by the route's rule (`ruleFor`), after authentication: a declared
 * Content-Length past the limit answers 413 at once, and a body sent without one (chunked) is
 * refused as soon as the bytes read pass it. The rest is never read: the app closes the connection
 * (see `closeIfBodyUnread`).
 */
export function bodyLimit(ruleFor: (method: string, path: string) => BodyRule, budget = new BodyBudget()): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const method = c.req.method.toUpperCase();
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    const rule = ruleFor(method, c.req.path);
    const code = rule.kind === 'stream' ? rule.code : 'body_too_large';
    const declared = declaredLength(c);
    if (rule.limit !== null && declared !== null && declared > rule.limit) throw tooLarge(code, rule.limit, declared);
    if (rule.kind !== 'buffer') return next();
    let release = () => undefined as void;
    const takePlace = (bytes: number) => (release = budget.take(callerOf(c), bytes));
    try {
      if (declared !== null && declared > JSON_BODY_LIMIT) takePlace(declared);
      const body = await readAtMost(c, rule.limit, declared === null && rule.limit > JSON_BODY_LIMIT ? () => takePlace(rule.limit) : undefined);
      // The route (its validator, the MCP transport) reads these bytes instead of the connection.
      c.req.raw = new Request(c.req.raw, { body });
      await next();
    } finally {
      release();
    }
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
  return new AppError(code, { reason: `the request body is larger than this route's limit of ${limit} bytes` }, {
    details: { limitBytes: limit, ...(declared !== undefined && { contentLength: declared }) },
  });
}

/** The body, read to its end but never past `limit` bytes; `onLarge` is called once when it passes JSON_BODY_LIMIT. */
async function readAtMost(c: Context<AppEnv>, limit: number, onLarge?: () => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const count = (n: number) => {
    const before = total;
    total += n;
    if (onLarge && before <= JSON_BODY_LIMIT && total > JSON_BODY_LIMIT) onLarge();
  };
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming && typeof incoming.iterator === 'function' && !incoming.readableDidRead) {
    // On the Node server, the request itself; stopping early leaves it open for the error answer.
    for await (const chunk of incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      count(chunk.length);
      if (total > limit) throw tooLarge('body_too_large', limit);
      chunks.push(chunk);
    }
  } else if (c.req.raw.body) {
    const reader = c.req.raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      try {
        count(value.length);
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        throw err;
      }
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge('body_too_large', limit);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}
