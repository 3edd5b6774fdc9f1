import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody } from '@berth/contract';
import { AppError, dataDiskFull, isNoSpaceError } from '../errors.js';
import type { AppEnv } from './context.js';

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
    appError = new AppError(err.status === 401 ? 'unauthorized' : err.status === 404 ? 'not_found' : 'validation_failed', { reason: err.message || 'bad request' }, { cause: err });
  } else {
    c.get('logger')?.error({ err, requestId }, 'unhandled error');
    appError = new AppError('internal', { reason: 'internal error' }, { cause: err });
  }
  if (appError.code === 'internal' && err instanceof AppError) c.get('logger')?.error({ err, requestId }, 'internal error');
  const body: ErrorBody = { error: { code: appError.code, message: appError.message, requestId } };
  if (appError.details !== undefined) body.error.details = appError.details;
  // A refusal that says when to come back (too_many_requests) says it the HTTP way too.
  const retryAfter = (appError.details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) c.header('Retry-After', String(Math.ceil(retryAfter)));
  return c.json(body, appError.status as ContentfulStatusCode);
}
