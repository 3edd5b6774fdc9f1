import { BerthApiError, CSRF_HEADER } from '@berth/contract';
import type { z } from 'zod';

/** The API's prefix; every route's path is relative to it. */
export const API_BASE = '/api/v1';

/**
 * What the SDK needs of a route definition (the contract's `routes.<capability>.<name>`): its method
 * and path template (`/bots/{bot}`); its request and answer schemas, when it has them, type the call.
 */
export interface RouteRef {
  readonly method: string;
  readonly path: string;
}

type JsonSchemaOf<M> = M extends { content: { 'application/json': { schema: infer S extends z.ZodType } } } ? S : never;

/** What a route answers as JSON on success (its 200/201/202 JSON schema's output); `unknown` for a route without one. */
export type AnswerOf<R> = R extends { responses: infer Rs } ? z.output<JsonSchemaOf<Rs[Extract<keyof Rs, 200 | 201 | 202>]>> : unknown;

/** The JSON body a route takes (its schema's input), `unknown` for a route without one. */
export type BodyOf<R> = R extends { request: { body: infer B } } ? ([JsonSchemaOf<B>] extends [never] ? unknown : z.input<JsonSchemaOf<B>>) : unknown;

/** The query a route takes (its schema's input); any string values for a route without one. */
export type QueryOf<R> = R extends { request: { query: infer Q extends z.ZodType } } ? z.input<Q> : Record<string, QueryValue>;

type ParamNames<P extends string> = P extends `${string}{${infer K}}${infer Rest}` ? K | ParamNames<Rest> : never;

/** The parameters a path template names: `/bots/{bot}/tasks/{task}` → `{ bot: string; task: string }`. */
export type PathParams<P extends string> = { [K in ParamNames<P>]: string };

/** What fetch accepts as a body (named here because Node's and the DOM's type libraries differ). */
type RequestBody = NonNullable<RequestInit['body']>;

export type QueryValue = string | number | boolean | undefined;

/** What a call sends: the path's parameters (required when it has any), a query, and a JSON body or raw bytes. */
export type CallInput<R extends RouteRef> = ([ParamNames<R['path']>] extends [never] ? { params?: Record<string, never> } : { params: PathParams<R['path']> }) & {
  query?: QueryOf<R>;
  /** Sent as JSON. */
  body?: BodyOf<R>;
  /** Sent as raw bytes (`application/octet-stream`); a stream is sent as it is read, never whole. */
  upload?: UploadData;
};

export interface CallOptions {
  /** The media type asked for (default `application/json`). */
  accept?: string;
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
}

/** Bytes to send: text, bytes, a Blob (a browser's File), a web ReadableStream, or any async iterable of chunks (a Node stream). */
export type UploadData = string | Uint8Array | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface BerthOptions {
  /** Where the server is, e.g. `http://127.0.0.1:7070`. Empty in a browser page served by Berth (same origin). */
  baseUrl: string;
  /** An admin or bot token. Omit in a browser that holds a session cookie. */
  token?: string | undefined;
  /** A `fetch` to use instead of the global one (tests, progress-reporting uploads, proxies). */
  fetch?: typeof fetch;
}

/**
 * Fills a path template's `{name}` slots with encoded parameters. A missing parameter is a
 * programming error and throws, rather than sending a request to the wrong path.
 */
export function fillPath(template: string, params: Record<string, string> = {}): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = template.indexOf('{', at);
    if (open < 0) return out + template.slice(at);
    const close = template.indexOf('}', open);
    if (close < 0) throw new TypeError(`unclosed parameter in path ${template}`);
    const name = template.slice(open + 1, close);
    const value = Object.prototype.hasOwnProperty.call(params, name) ? params[name] : undefined;
    if (typeof value !== 'string' || value === '') throw new TypeError(`path ${template} needs a non-empty "${name}"`);
    out += template.slice(at, open) + encodeURIComponent(value);
    at = close + 1;
  }
}

/** A query string from the defined values (`?a=1&b=x`), or '' when there are none. */
export function queryString(query: Record<string, QueryValue> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The error an answer carries: Berth's envelope `{error: {code, message, details, requestId}}`
 * when it has one, else a code from the status (something between the client and Berth answered).
 */
export async function toApiError(res: Response): Promise<BerthApiError> {
  const text = await readBounded(res, 64 * 1024);
  const requestId = res.headers.get('x-request-id') ?? undefined;
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown; requestId?: unknown } };
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new BerthApiError(res.status, error.code, error.message, error.details, typeof error.requestId === 'string' ? error.requestId : requestId);
    }
  } catch {
    // not Berth's envelope: a proxy's page, or a body cut short
  }
  const message = `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 500)}` : ''}`.trim();
  return new BerthApiError(res.status, codeForStatus(res.status), message, undefined, requestId);
}

function codeForStatus(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 413) return 'body_too_large';
  if (status === 429) return 'too_many_requests';
  if (status === 503) return 'runtime_unavailable';
  if (status >= 500) return 'internal';
  return 'validation_failed';
}

/** An error body's text, at most `limit` characters: an answer that is not Berth's may be anything, of any size. */
async function readBounded(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  let text = '';
  try {
    while (text.length < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.slice(0, limit);
}

/** The HTTP layer every group shares: base URL, credentials, the CSRF header, errors as `BerthApiError`. */
export class Transport {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(readonly options: BerthOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** The full URL of a route with its parameters and query. */
  url(route: RouteRef, input: { params?: Record<string, string> | undefined; query?: Record<string, QueryValue> | undefined }): string {
    return `${this.baseUrl}${API_BASE}${fillPath(route.path, input.params)}${queryString(input.query)}`;
  }

  /** Sends one request; any answer but 2xx throws `BerthApiError`. The Response is handed back unread. */
  async call<R extends RouteRef>(route: R, input: CallInput<R>, options: CallOptions = {}): Promise<Response> {
    return this.send(route.method.toUpperCase(), this.url(route, input as { params?: Record<string, string>; query?: Record<string, QueryValue> }), input, options);
  }

  /** A call whose answer is JSON (or 204, answered as undefined). */
  async json<R extends RouteRef, T = AnswerOf<R>>(route: R, input: CallInput<R>, options: CallOptions = {}): Promise<T> {
    const res = await this.call(route, input, options);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** Any URL on the server (e.g. `/healthz`, outside the API prefix). */
  async send(method: string, url: string, input: { body?: unknown; upload?: UploadData }, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json', ...options.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    // A browser holding a session cookie must show that a state change is not a cross-site form post.
    if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = '1';
    let body: RequestBody | undefined;
    let streamed = false;
    if (input.upload !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = toBody(input.upload);
      streamed = typeof (body as ReadableStream).getReader === 'function';
    } else if (input.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(input.body);
    }
    const res = await this.fetchImpl(url, {
      method,
      headers,
      ...(body !== undefined && { body }),
      // Fetch sends a stream body only when told it may start before the response (half duplex).
      ...(streamed && { duplex: 'half' }),
      ...(options.signal && { signal: options.signal }),
      credentials: 'same-origin',
    } as RequestInit);
    if (!res.ok) throw await toApiError(res);
    return res;
  }
}

function toBody(data: UploadData): RequestBody {
  if (typeof data === 'string' || data instanceof Uint8Array) return data as RequestBody;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data;
  if (typeof (data as ReadableStream).getReader === 'function') return data as ReadableStream<Uint8Array>;
  return streamOf(data as AsyncIterable<Uint8Array>);
}

/** A web stream over an async iterable, read chunk by chunk as fetch asks for more (backpressure). */
export function streamOf(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}
