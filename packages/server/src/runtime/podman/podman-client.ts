import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../errors.js';

/**
 * A small HTTP client for Podman's REST API over its unix socket: JSON requests, JSON-lines
 * streams as `AsyncIterable`, and the Docker multiplexed-stream demux used by exec. Engine types
 * stay inside `runtime/podman/`.
 */

export interface PodmanRequest {
  method?: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'HEAD';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Serialized as JSON. */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /**
   * How long the engine may take, in ms: for `json` the whole answer, for `request` its head (status
   * and headers; the body is the caller's to bound). Default: the client's engine deadline; `null`
   * for none. Past it the call fails with `EngineTimeoutError` (`runtime_timeout`).
   */
  timeoutMs?: number | null;
}

/** A non-2xx answer from the engine, with its own message (Podman's `{cause, message, response}`). */
export class EngineHttpError extends Error {
  readonly status: number;
  readonly engineCause: string;

  constructor(status: number, message: string, engineCause: string) {
    super(message);
    this.name = 'EngineHttpError';
    this.status = status;
    this.engineCause = engineCause;
  }
}

/** The engine took longer than its deadline to answer (frozen, overloaded or wedged). */
export class EngineTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineTimeoutError';
  }
}

/** The engine could not be reached (no socket, refused, reset). */
export class EngineConnectionError extends Error {
  readonly code: string | undefined;

  constructor(message: string, options: { code?: string | undefined; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EngineConnectionError';
    this.code = options.code;
  }
}

const CONNECTION_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ENOTSOCK', 'ETIMEDOUT']);

/** The engine deadline when none is configured (BERTH_ENGINE_TIMEOUT_SECONDS). */
export const DEFAULT_ENGINE_TIMEOUT_MS = 30_000;

export class PodmanClient {
  readonly socketPath: string;
  /** The deadline of one engine call (streams: between two pieces of progress). */
  readonly timeoutMs: number;
  private readonly agent: http.Agent;

  constructor(options: { socketPath: string; timeoutMs?: number }) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ENGINE_TIMEOUT_MS;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /**
   * Sends a request and resolves with the response head; the body is left as a stream (bound it
   * with `progressBounded` unless it may legitimately stay silent, like an exec's output).
   */
  request(req: PodmanRequest): Promise<IncomingMessage> {
    const path = withQuery(req.path, req.query);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const ms = req.timeoutMs === undefined ? this.timeoutMs : req.timeoutMs;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { Host: 'podman' };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const options: http.RequestOptions = {
        socketPath: this.socketPath,
        path,
        method: req.method ?? 'GET',
        headers,
        agent: this.agent,
      };
      if (req.signal) options.signal = req.signal;
      let timer: NodeJS.Timeout | undefined;
      const r = http.request(options, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      r.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (req.signal?.aborted) reject(abortReason(req.signal));
        else if (err instanceof EngineTimeoutError) reject(err);
        else if (err.code && CONNECTION_CODES.has(err.code)) {
          reject(new EngineConnectionError(`Podman socket ${this.socketPath} does not answer (${err.code})`, { code: err.code, cause: err }));
        } else reject(err);
      });
      if (ms !== null) {
        // A frozen engine still accepts connections (the kernel queues them): only a deadline ends the wait.
        timer = setTimeout(() => r.destroy(timeoutError(options.method ?? 'GET', req.path, ms)), ms);
      }
      r.end(payload);
    });
  }

  /**
   * A request whose answer is small JSON (or empty). Non-2xx answers other than `allow` reject with
   * `EngineHttpError`; allowed statuses resolve with `body: undefined` when the body is not JSON.
   */
  async json<T = unknown>(req: PodmanRequest, allow: number[] = []): Promise<{ status: number; body: T }> {
    const ms = req.timeoutMs === undefined ? this.timeoutMs : req.timeoutMs;
    const deadline = ms === null ? null : Date.now() + ms;
    const res = await this.request({ ...req, timeoutMs: ms });
    // The body falls under the same deadline as the head: the whole answer must come in time.
    const timer = deadline === null ? undefined : setTimeout(() => res.destroy(timeoutError(req.method ?? 'GET', req.path, ms ?? 0)), Math.max(0, deadline - Date.now()));
    let text: string;
    try {
      text = (await readAll(res, req.signal)).toString('utf8');
    } finally {
      clearTimeout(timer);
    }
    const status = res.statusCode ?? 0;
    const ok = status >= 200 && status < 300;
    if (!ok && !allow.includes(status)) throw engineHttpError(status, text);
    return { status, body: parseJson(text) as T };
  }

  /**
   * A `json` call that may take long without any sign of progress (a commit of a large root
   * filesystem): bounded by the engine's liveness instead of a total deadline. While it waits the
   * engine is pinged every deadline; a ping that fails ends the call with the ping's error.
   */
  async jsonWhileEngineAnswers<T = unknown>(req: PodmanRequest, allow: number[] = []): Promise<{ status: number; body: T }> {
    const watch = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, watch.signal]) : watch.signal;
    const interval = setInterval(() => {
      this.json({ path: '/_ping' }).catch((err: unknown) => watch.abort(err));
    }, this.timeoutMs);
    try {
      return await this.json<T>({ ...req, signal, timeoutMs: null }, allow);
    } catch (err) {
      // Our own watch's abort carries the engine error; the caller's abort passes as it is.
      if (watch.signal.aborted && !req.signal?.aborted) throw watch.signal.reason;
      throw err;
    } finally {
      clearInterval(interval);
    }
  }

  /** Forgets pooled connections. */
  close(): void {
    this.agent.destroy();
  }
}

function timeoutError(method: string, path: string, ms: number): EngineTimeoutError {
  return new EngineTimeoutError(`Podman did not answer ${method} ${path.split('?')[0] ?? path} within ${ms / 1000} s`);
}

/**
 * A response body bounded by progress: fails with `EngineTimeoutError` when the engine sends nothing
 * for `ms` while we wait for it. Time the reader spends elsewhere (backpressure) does not count.
 */
export async function* progressBounded(res: IncomingMessage, ms: number, what: string): AsyncGenerator<Buffer> {
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const silence = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new EngineTimeoutError(`Podman sent nothing for ${ms / 1000} s while ${what}`);
          res.destroy(err);
          reject(err);
        }, ms);
      });
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([it.next(), silence]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    res.destroy();
  }
}

/** Turns a non-2xx answer's body into an `EngineHttpError` carrying the engine's message. */
export function engineHttpError(status: number, text: string): EngineHttpError {
  const parsed = parseJson(text) as { message?: unknown; cause?: unknown } | undefined;
  const message = typeof parsed?.message === 'string' ? parsed.message : text.trim() || `HTTP ${status}`;
  const cause = typeof parsed?.cause === 'string' ? parsed.cause : '';
  return new EngineHttpError(status, message, cause);
}

/** Parses a response stream of newline-separated JSON values, one at a time (never buffered whole). */
export async function* jsonLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let rest = '';
  for await (const chunk of stream) {
    rest += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line) as unknown;
    }
  }
  const last = rest.trim();
  if (last) yield JSON.parse(last) as unknown;
}

export interface StreamFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}

/** A frame longer than this is not the engine's (it writes what one read of a pipe gives): the stream is broken. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Demultiplexes Docker's attach/exec stream: frames of an 8-byte header (stream type, 3 zero bytes,
 * big-endian payload length) followed by the payload. A payload is passed on piece by piece as it
 * arrives, never gathered, so the cost is linear in the bytes read and only a header is ever held;
 * a declared length past MAX_FRAME_BYTES fails the stream.
 */
export async function* demuxDockerStream(stream: AsyncIterable<Buffer>): AsyncGenerator<StreamFrame> {
  const header = Buffer.alloc(8);
  let have = 0; // header bytes gathered
  let left = 0; // payload bytes of the current frame still to come
  let type: StreamFrame['stream'] = 'stdout';
  for await (const chunk of stream) {
    let i = 0;
    while (i < chunk.length) {
      if (left > 0) {
        const n = Math.min(left, chunk.length - i);
        yield { stream: type, data: chunk.subarray(i, i + n) };
        left -= n;
        i += n;
        continue;
      }
      const n = Math.min(8 - have, chunk.length - i);
      chunk.copy(header, have, i, i + n);
      have += n;
      i += n;
      if (have < 8) break;
      have = 0;
      left = header.readUInt32BE(4);
      if (left > MAX_FRAME_BYTES) throw new Error(`exec stream frame declares ${left} bytes (at most ${MAX_FRAME_BYTES})`);
      type = header[0] === 2 ? 'stderr' : header[0] === 0 ? 'stdin' : 'stdout';
    }
  }
  if (have > 0 || left > 0) throw new Error(`exec stream ended inside a frame (${have > 0 ? `${have} header bytes` : `${left} bytes missing`})`);
}

export async function readAll(stream: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    throw err;
  }
  return Buffer.concat(chunks);
}

export interface MapContext {
  /** What the request was about, so a 404 becomes the right Berth code. */
  resource?: 'container' | 'image';
  /** The id, name or reference involved, for the message. */
  ref?: string;
  /** What we were doing, e.g. "start container". */
  action?: string;
}

/**
 * Maps any failure of a Podman call to an `AppError` with a Berth code, keeping the original as
 * `cause`. Errors that are already `AppError`s, and aborts, pass through unchanged.
 */
export function toAppError(err: unknown, ctx: MapContext = {}): unknown {
  if (err instanceof AppError) return err;
  if (isAbortError(err)) return err;
  const what = ctx.action ? `${ctx.action}${ctx.ref ? ` ${ctx.ref}` : ''}` : 'Podman request';
  if (err instanceof EngineConnectionError) {
    return new AppError('runtime_unavailable', { reason: `Podman: ${err.message}` }, { cause: err });
  }
  if (err instanceof EngineTimeoutError) {
    return new AppError('runtime_timeout', { what, reason: err.message }, { cause: err });
  }
  // The connection dropped mid-answer (the engine died or restarted).
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  if (errno && (CONNECTION_CODES.has(errno) || errno === 'ERR_STREAM_PREMATURE_CLOSE')) {
    return new AppError('runtime_unavailable', { reason: `Podman: ${what} failed (${errno})` }, { cause: err });
  }
  if (err instanceof EngineHttpError) {
    const text = `${err.message} ${err.engineCause}`;
    if (/no space left on device|disk quota exceeded/i.test(text)) {
      return new AppError('insufficient_storage', { what, storage: "the container engine's storage" }, {
        cause: err,
        details: { storage: 'engine', engineStatus: err.status, engineMessage: err.message },
      });
    }
    return classify(err, text, what, ctx);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('internal', { reason: `${what} failed: ${message}` }, { cause: err });
}

/** The Berth error an engine's HTTP error stands for, by its status and wording. */
function classify(err: EngineHttpError, text: string, what: string, ctx: MapContext): AppError {
  const options = { cause: err, details: { engineStatus: err.status, engineMessage: err.message } };
  const target = ctx.ref ?? 'the container';
  if (/unresolvable CDI devices/i.test(text)) return new AppError('cdi_unresolvable', { devices: cdiDevices(err.message) }, options);
  if (/image not known|no such image|manifest unknown|repository does not exist/i.test(text)) {
    return new AppError('image_not_found', { image: ctx.ref ?? '', reason: err.message }, options);
  }
  if (/no such container|no container with (name|id)/i.test(text)) return new AppError('container_not_found', { target, reason: err.message }, options);
  if (/can only create exec sessions on running containers|container state improper|is not running/i.test(text)) {
    return new AppError('container_not_running', { target, reason: err.message }, options);
  }
  if (/name .*already in use/i.test(text)) return new AppError('container_exists', { target, reason: err.message }, options);
  if (err.status === 404) {
    return ctx.resource === 'image'
      ? new AppError('image_not_found', { image: ctx.ref ?? '', reason: err.message }, options)
      : new AppError('container_not_found', { target, reason: err.message }, options);
  }
  return new AppError('internal', { reason: `${what} failed: ${err.message}` }, options);
}

/** The device names from Podman's "unresolvable CDI devices" wording. */
function cdiDevices(engineMessage: string): string {
  const at = engineMessage.search(/unresolvable CDI devices:?\s*/i);
  return at >= 0 ? engineMessage.slice(at).replace(/^unresolvable CDI devices:?\s*/i, '') : engineMessage;
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

function withQuery(path: string, query: PodmanRequest['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
