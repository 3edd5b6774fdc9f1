import { BerthApiError, ERROR_STATUS } from '@berth/contract';

export { BerthApiError };

/**
 * An operation (create, recreate, restore, …) that ended `failed`. It is a `BerthApiError` with the
 * operation's own error code, message and details, so one `catch` handles a refused request and a
 * failed operation alike; `operationId` names the operation.
 */
export class OperationFailedError extends BerthApiError {
  constructor(
    readonly operationId: string | undefined,
    error: { code: string; message: string; details?: unknown },
  ) {
    super(statusOf(error.code), error.code, error.message, error.details);
    this.name = 'OperationFailedError';
  }
}

/** The HTTP status Berth gives a code; an unknown code is a server failure. */
export function statusOf(code: string): number {
  return Object.prototype.hasOwnProperty.call(ERROR_STATUS, code) ? ERROR_STATUS[code as keyof typeof ERROR_STATUS] : 500;
}

/** An operation's `error` payload as an error to throw; a payload that is not one still throws, as `internal`. */
export function operationError(operationId: string | undefined, payload: unknown): OperationFailedError {
  const p = (payload ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof p.code === 'string' ? p.code : 'internal';
  const message = typeof p.message === 'string' ? p.message : 'the operation failed';
  return new OperationFailedError(operationId, { code, message, ...(p.details !== undefined && { details: p.details }) });
}

/** An error event's payload (`{code, message, details}`) as a `BerthApiError`. */
export function payloadError(payload: unknown): BerthApiError {
  const { code, message, details } = operationError(undefined, payload);
  return new BerthApiError(statusOf(code), code, message, details);
}
