import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody } from '@berth/contract';
import { AppError, dataDiskFull, isNoSpaceError } from '../errors.js';
import type { AppEnv } from './context.js';

/** Errors Hono's own middleware raises (the body's media type, a malformed body...), as Berth's codes. */
const HTTP_EXCEPTION_CODES: Partial<Record<number, 'unauthorized' | 'not_found' | 'unsupported_media_type'>> = { 401: 'unauthorized', 404: 'not_found', 415: 'unsupported_media_type' };

/** The one place that renders errors: Berth's envelope, and `internal` for anything unknown. */
export function renderError(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown';
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
  } else if (isNoSpaceError(err)) {
    // Berth's own file system work outside an operation (files written from the host, say): BERTH_HOME's disk.
    appError = dataDiskFull(err, 'the request');
  } else if (err instanceof HTTPException && err.status < 500) {
    const code = HTTP_EXCEPTION_CODES[err.status] ?? 'validation_failed';
    appError =
      code === 'unsupported_media_type'
        ? new AppError(code, { expected: 'a JSON body (Content-Type: application/json)', given: c.req.header('content-type') ?? 'a body without a Content-Type' }, { cause: err })
        : new AppError(code, { reason: err.message || 'bad request' }, { cause: err });
  } else {
    c.get('logger')?.error({ err, requestId }, 'unhandled error');
    appError = new AppError('internal', { reason: 'internal error' }, { cause: err });
  }
  if (appError.code === 'internal' && err instanceof AppError) c.get('logger')?.error({ err, requestId }, 'internal error');
  const body = errorBody(appError, requestId);
  // A refusal that says when to come back (too_many_requests) says it the HTTP way too.
  const retryAfter = (appError.details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) c.header('Retry-After', String(Math.ceil(retryAfter)));
  // The HTTP way of saying how to authenticate (RFC 9110 §11.6.1), and what the file's size is (§14.4).
  if (appError.status === 401) c.header('WWW-Authenticate', 'Bearer');
  const size = (appError.details as { size?: unknown } | null | undefined)?.size;
  if (appError.code === 'range_not_satisfiable' && typeof size === 'number') c.header('Content-Range', `bytes */${size}`);
  return c.json(body, appError.status as ContentfulStatusCode);
}

/** Berth's error envelope for an AppError. */
export function errorBody(appError: AppError, requestId: string): ErrorBody {
  const body: ErrorBody = { error: { code: appError.code, message: appError.message, requestId } };
  if (appError.details !== undefined) body.error.details = appError.details;
  return body;
}
