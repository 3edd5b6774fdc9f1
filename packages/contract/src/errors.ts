/**
 * The one table of Berth's error codes (SPEC §7): each code's HTTP status and the template of its
 * message. `{name}` is filled from the parameters the thrower gives (AppError on the server); a code
 * whose causes differ takes the specific part as `{reason}`. Clients show their own sentence per code
 * and the message as detail.
 */
export const ERRORS = {
  validation_failed: { status: 400, message: '{reason}' },
  unauthorized: { status: 401, message: '{reason}' },
  forbidden: { status: 403, message: '{reason}' },
  bot_not_found: { status: 404, message: 'no bot "{bot}"' },
  container_not_found: { status: 404, message: 'no container for {target}: {reason}' },
  snapshot_not_found: { status: 404, message: 'snapshot "{snapshot}" is not there: {reason}' },
  task_not_found: { status: 404, message: 'bot "{bot}" has no task "{task}"' },
  operation_not_found: { status: 404, message: 'no operation "{operation}"' },
  bot_name_taken: { status: 409, message: 'a bot named "{name}" already exists' },
  snapshot_name_taken: { status: 409, message: 'the bot already has a snapshot named "{name}"' },
  container_exists: { status: 409, message: 'a container for {target} already exists: {reason}' },
  container_not_running: { status: 409, message: 'the container of {target} is not running: {reason}' },
  operation_in_progress: { status: 409, message: 'the bot has a running {kind} operation {operation}' },
  archive_invalid: { status: 400, message: '{reason}' },
  archive_too_large: { status: 413, message: 'the archive is too large: {reason}' },
  /** A request body past its route's limit (judged while it streams in). */
  body_too_large: { status: 413, message: '{reason}' },
  /** What came out of the container (helper output, exec output kept in memory) passed its cap; the process was killed. */
  output_too_large: { status: 413, message: '{what} printed more than {limit} bytes; it was stopped' },
  /** An image reference that is not a valid reference, or names a registry host that is not allowed. */
  image_invalid: { status: 400, message: 'image "{image}" cannot be used: {reason}' },
  /** The bot already has as many exec/files calls running and queued as it may; retry after `Retry-After` seconds. */
  too_many_requests: { status: 429, message: '{reason}' },
  path_outside_root: { status: 400, message: 'the path {path} leads outside {root}' },
  file_not_found: { status: 404, message: 'no such file or directory: {path}' },
  /** A move onto an existing path without `overwrite`. */
  file_exists: { status: 409, message: '{path} already exists: {reason}' },
  edit_no_match: { status: 409, message: 'the text to replace occurs {count} times in {path}; it must occur exactly once (give more context)' },
  image_pull_failed: { status: 502, message: 'pulling {image} failed: {reason}' },
  image_not_found: { status: 404, message: 'image {image} was not found: {reason}' },
  cdi_unresolvable: { status: 400, message: 'unresolvable CDI devices: {devices}' },
  cdi_unsupported: { status: 501, message: 'the {runtime} runtime cannot inject CDI devices' },
  runtime_unavailable: { status: 503, message: 'the container engine is not answering: {reason}' },
  /** The engine took longer than BERTH_ENGINE_TIMEOUT_SECONDS to answer (or between two pieces of progress). */
  runtime_timeout: { status: 504, message: '{what} timed out: {reason}' },
  /** Out of space: the data disk under BERTH_HOME, the database or the engine's storage (`details.storage`). */
  insufficient_storage: { status: 507, message: '{what} ran out of space: {storage} is full; free space on it and try again' },
  /** The bot is at its `diskLimitMb` (data dir + writable layer); `details` has the limit and usage. */
  disk_limit_exceeded: { status: 507, message: '{reason}' },
  not_found: { status: 404, message: '{reason}' },
  /** A known path asked with a method it does not answer; `Allow` lists those it does. */
  method_not_allowed: { status: 405, message: '{method} is not allowed on {path}; it answers {allow}' },
  /** A body in a media type the route does not take (e.g. text/plain where JSON is expected). */
  unsupported_media_type: { status: 415, message: 'this route takes {expected}, not {given}' },
  /** A `Range` that starts past the end; `Content-Range: bytes *\/<size>` gives the size. */
  range_not_satisfiable: { status: 416, message: 'the range starts at byte {offset}, past the end of the file ({size} bytes)' },
  internal: { status: 500, message: '{reason}' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/** Each code's HTTP status. */
export const ERROR_STATUS = Object.fromEntries(ERROR_CODES.map((code) => [code, ERRORS[code].status])) as { [C in ErrorCode]: (typeof ERRORS)[C]['status'] };

/** The `{name}` placeholders of a message template. */
type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;

/** What a code's message template needs filled in. */
export type ErrorParams<C extends ErrorCode> = { [K in Placeholders<(typeof ERRORS)[C]['message']>]: string | number };

/** A code's message with its placeholders filled. */
export function errorMessage<C extends ErrorCode>(code: C, params: ErrorParams<C>): string {
  const values = params as Record<string, string | number>;
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; requestId: string };
}
