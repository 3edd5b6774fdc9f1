import { z } from 'zod';
import type { ERROR_STATUS, ErrorCode } from '../errors.js';
import { ErrorEnvelope } from '../schemas.js';

/**
 * Route definitions: plain objects (zod schemas plus OpenAPI words) that the server registers its
 * handlers on, the OpenAPI document is generated from, and a client types its calls with. They have
 * the shape @hono/zod-openapi's `createRoute` takes, without depending on it.
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * A JSON Schema written out, for what zod does not describe: raw bytes, an event stream. (Type
 * aliases, not interfaces, so that they fit OpenAPI's objects with `x-` extension keys.)
 */
export type JsonSchema = {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  format?: string;
  description?: string;
  pattern?: string;
  enum?: string[];
};

export type MediaType = {
  schema: z.ZodType | JsonSchema;
};

export type HeaderDefinition = {
  description: string;
  required?: boolean;
  schema: JsonSchema;
};

export type ResponseDefinition = {
  description: string;
  headers?: Record<string, HeaderDefinition>;
  content?: Record<string, MediaType>;
};

export type RouteDefinition = {
  method: HttpMethod;
  /** OpenAPI style, relative to the API's base (`/api/v1`): `/bots/{bot}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Only to open a route to callers without a token (`[]`); otherwise the document's global schemes apply. */
  security?: Record<string, string[]>[];
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    body?: { description?: string; required: boolean; content: Record<string, MediaType> };
  };
  responses: Record<number, ResponseDefinition>;
};

/** Keeps the literal types (method, path, statuses, schemas) a handler and a client are typed by. */
export function defineRoute<P extends string, R extends RouteDefinition & { path: P }>(route: R): R {
  return route;
}

/** The zod schema of a route's JSON answer for a status, when it has one. */
export type ResponseSchema<R extends RouteDefinition, S extends keyof R['responses']> = R['responses'][S] extends {
  content: { 'application/json': { schema: infer T extends z.ZodType } };
}
  ? T
  : never;

/** What a route's JSON answer for a status holds once parsed. */
export type ResponseBody<R extends RouteDefinition, S extends keyof R['responses']> = z.output<ResponseSchema<R, S>>;

// --- pieces shared by the definitions ------------------------------------------------------------

export function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A body of raw bytes (a file, an archive). */
export const binary = { schema: { type: 'string', format: 'binary' } } as const satisfies MediaType;

/** A Server-Sent Events stream (SPEC §4): `event:`, `id:` and `data:` lines, the data being JSON. */
export const eventStream = {
  schema: { type: 'string', description: 'text/event-stream frames; each `data:` holds one JSON payload' },
} as const satisfies MediaType;

export function sse(description: string) {
  return { description, content: { 'text/event-stream': eventStream } };
}

export const empty = (description: string) => ({ description });

/** Statuses the error table (errors.ts) answers with. */
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode] | 405 | 415 | 416;

const RETRY_AFTER: HeaderDefinition = { description: 'seconds to wait before trying again', schema: { type: 'integer' } };

/** Headers an error answer carries for its status. */
function errorHeaders(status: number): Record<string, HeaderDefinition> | undefined {
  if (status === 401) return { 'WWW-Authenticate': { description: '`Bearer`: how to authenticate', schema: { type: 'string' } } };
  if (status === 429) return { 'Retry-After': RETRY_AFTER };
  if (status === 416) return { 'Content-Range': { description: '`bytes */<size>`: the file’s size', schema: { type: 'string' } } };
  return undefined;
}

type ErrorResponse = { description: string; headers?: Record<string, HeaderDefinition>; content: { 'application/json': { schema: typeof ErrorEnvelope } } };

/** Error answers (the envelope of SPEC §7), one per status with what it means for this route. */
export function errors<const M extends Partial<Record<ErrorStatus, string>>>(descriptions: M): { [K in keyof M]: ErrorResponse } {
  const out: Record<number, ErrorResponse> = {};
  for (const [status, description] of Object.entries(descriptions) as [string, string][]) {
    const headers = errorHeaders(Number(status));
    out[Number(status)] = { description, ...(headers && { headers }), content: { 'application/json': { schema: ErrorEnvelope } } };
  }
  return out as { [K in keyof M]: ErrorResponse };
}

/** Every route behind a token: who may call it. */
export const AUTH_ERRORS = {
  401: 'unauthorized: no token, an invalid one, or a web session that has ended',
  403: 'forbidden: a bot token on a route it does not reach (another bot’s, or an admin route), or a cookie request without the CSRF guard',
  500: 'internal: an unexpected failure (its details are in the server log under the requestId)',
} as const;

/** Routes that ask the container engine. */
export const ENGINE_ERRORS = {
  503: 'runtime_unavailable: the container engine does not answer',
  504: 'runtime_timeout: the container engine took too long to answer',
} as const;

/** Routes taking a JSON body. */
export const JSON_BODY_ERRORS = {
  400: 'validation_failed: a parameter or the body does not match the schema (`details.issues`)',
  413: 'body_too_large: the body is past the route’s limit',
  415: 'unsupported_media_type: a body that is not `application/json`',
} as const;

export const VALIDATION_ERROR = { 400: 'validation_failed: a parameter does not match the schema (`details.issues`)' } as const;

export const BOT_NOT_FOUND = { 404: 'bot_not_found: no bot by that id or name' } as const;

export const BUSY = { 429: 'too_many_requests: the bot has as many calls running and queued as it may' } as const;

/** The bot a route acts on, by id or name. */
export const BotParam = z.object({ bot: z.string().min(1).max(128).describe('the bot’s id or name') });

/** Headers of a file read's answer; a client finds its way with them (`X-Berth-*`). */
export const FILE_READ_HEADERS = {
  'Accept-Ranges': { description: '`bytes`: a `Range` request header is honoured', schema: { type: 'string' } },
  'Last-Modified': { description: 'the file’s modification time', schema: { type: 'string' } },
  'X-Berth-File-Type': { description: '`file` or `directory`: what the path is', schema: { type: 'string', enum: ['file', 'directory'] } },
  'X-Berth-File-Size': { description: 'the whole file’s size in bytes (a part may be answered)', schema: { type: 'integer' } },
  'X-Berth-File-Mode': { description: 'permission bits in octal, e.g. `0644`', schema: { type: 'string' } },
  'X-Berth-Truncated': { description: '`true` when the file is larger than one read answers: only its first part is here', schema: { type: 'string' } },
} as const satisfies Record<string, HeaderDefinition>;
