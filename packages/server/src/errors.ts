import { ERROR_STATUS, errorMessage, type ErrorCode, type ErrorParams } from '@berth/contract';

/**
 * The one error type that carries a Berth error code across layers; `cause` is always kept. Its
 * message comes from the code's template in the contract's error table, filled with `params`.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly status: number;
  readonly details: unknown;

  constructor(code: C, params: ErrorParams<C>, options: { details?: unknown; cause?: unknown } = {}) {
    super(errorMessage(code, params), { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** Where space ran out, reported in `details.storage` of `insufficient_storage`. */
export type StorageKind = 'data' | 'database' | 'engine';

/** A file system error saying the disk (or the user's quota on it) is full. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * `insufficient_storage` for a full disk met while changing files under BERTH_HOME (data dirs,
 * snapshot trees, staging dirs); `cause` is the file system's error.
 */
export function dataDiskFull(cause: unknown, what = 'the operation'): AppError {
  const file = (cause as NodeJS.ErrnoException | null)?.path;
  return new AppError('insufficient_storage', { what, storage: 'the disk holding BERTH_HOME' }, {
    details: { storage: 'data' satisfies StorageKind, ...(file !== undefined && { path: file }) },
    cause,
  });
}
