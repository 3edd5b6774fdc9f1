/** The one table of Berth's error codes and their HTTP statuses (SPEC §7). */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  bot_not_found: 404,
  container_not_found: 404,
  snapshot_not_found: 404,
  task_not_found: 404,
  operation_not_found: 404,
  bot_name_taken: 409,
  snapshot_name_taken: 409,
  container_exists: 409,
  container_not_running: 409,
  operation_in_progress: 409,
  archive_invalid: 400,
  archive_too_large: 413,
  /** A request body past its route's limit (judged while it streams in). */
  body_too_large: 413,
  /** What came out of the container (helper output, exec output kept in memory) passed its cap; the process was killed. */
  output_too_large: 413,
  /** An image reference that is not a valid reference, or names a registry host that is not allowed. */
  image_invalid: 400,
  /** The bot already has as many exec/files calls running and queued as it may; retry after `Retry-After` seconds. */
  too_many_requests: 429,
  path_outside_root: 400,
  file_not_found: 404,
  /** A move onto an existing path without `overwrite`. */
  file_exists: 409,
  edit_no_match: 409,
  image_pull_failed: 502,
  image_not_found: 404,
  cdi_unresolvable: 400,
  cdi_unsupported: 501,
  runtime_unavailable: 503,
  /** The engine took longer than BERTH_ENGINE_TIMEOUT_SECONDS to answer (or between two pieces of progress). */
  runtime_timeout: 504,
  /** Out of space: the data disk under BERTH_HOME, the database or the engine's storage (`details.storage`). */
  insufficient_storage: 507,
  /** The bot is at its `diskLimitMb` (data dir + writable layer); `details` has the limit and usage. */
  disk_limit_exceeded: 507,
  not_found: 404,
  /** A known path asked with a method it does not have; `Allow` lists those it has. */
  method_not_allowed: 405,
  /** A body whose Content-Type the route does not take (a JSON route given anything but JSON). */
  unsupported_media_type: 415,
  /** A byte range that starts past the end of the file; `Content-Range: bytes *\/<size>` gives the size. */
  range_not_satisfiable: 416,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; requestId: string };
}
