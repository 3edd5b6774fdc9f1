import { ERROR_STATUS, type ErrorCode } from '@berth/contract';

/** The one error type that carries a Berth error code across layers; `cause` is always kept. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
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
  return new AppError('insufficient_storage', `${what} ran out of space: the disk holding BERTH_HOME is full; free space on it and try again`, {
    details: { storage: 'data' satisfies StorageKind, ...(file !== undefined && { path: file }) },
    cause,
  });
}
