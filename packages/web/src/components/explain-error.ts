import { BerthApiError, type ErrorCode } from '@berth/contract';

/**
 * A sentence per error code, said the way an operator would; the server's message follows it. Typed by
 * the contract's table, so a new code does not compile until it has its sentence here.
 */
export const ERROR_SENTENCES: Record<ErrorCode, string> = {
  validation_failed: 'Some values are not valid.',
  unauthorized: 'Your session has ended or the token is not valid. Log in again.',
  forbidden: 'This token is not allowed to do that.',
  bot_not_found: 'There is no such bot.',
  container_not_found: 'This bot has no container yet.',
  snapshot_not_found: 'That snapshot no longer exists.',
  task_not_found: 'That task no longer exists; it may have ended long ago.',
  operation_not_found: 'That operation is not known; it may have been cleaned up.',
  bot_name_taken: 'That name is already taken.',
  snapshot_name_taken: 'A snapshot with that name already exists.',
  container_exists: 'This bot already has a container.',
  container_not_running: 'The container is not running; start it first.',
  operation_in_progress: 'Another operation is still running for this bot; wait for it to finish.',
  archive_invalid: 'That archive cannot be imported; nothing was changed.',
  archive_too_large: 'That archive is too large to import; nothing was changed.',
  body_too_large: 'That is more than the server accepts in one request; nothing was changed.',
  output_too_large: 'The container answered with more output than Berth accepts, so the command was stopped.',
  image_invalid: 'That image reference is not valid or not allowed.',
  too_many_requests: 'Too many requests at once; wait a moment and try again.',
  path_outside_root: 'That path is outside the container.',
  file_not_found: 'That file does not exist.',
  file_exists: 'Something with that name already exists.',
  edit_no_match: 'The file changed since it was opened.',
  image_pull_failed: 'The image could not be downloaded.',
  image_not_found: 'The image was not found.',
  cdi_unresolvable: 'A CDI device is not declared on this host, so the container was not created.',
  cdi_unsupported: 'This container engine cannot attach CDI devices.',
  runtime_unavailable: 'The container engine is not answering.',
  runtime_timeout: 'The container engine took too long to answer; it may be overloaded or stuck. Try again shortly.',
  insufficient_storage: 'The host is out of disk space.',
  disk_limit_exceeded: 'This bot is over its disk limit. Free some space in its data directory, or raise the limit in Settings.',
  not_found: 'There is nothing at that address.',
  method_not_allowed: 'The server does not offer that action here; this page may be older than the server. Reload it.',
  unsupported_media_type: 'The server cannot read what was sent in that form; this page may be older than the server. Reload it.',
  range_not_satisfiable: 'That part of the file does not exist; the file may have become shorter.',
  internal: 'Something went wrong on the server.',
};

export interface ErrorText {
  lead: string;
  message: string;
}

/** Words a person understands, keeping the server's own message: it names what was wrong. */
export function explainError(err: unknown): ErrorText {
  if (err instanceof BerthApiError) {
    const message = err.code === 'internal' && err.requestId ? `${err.message} (request ${err.requestId})` : err.message;
    return { lead: leadFor(err.code, err.details) ?? 'The request failed.', message };
  }
  if (isPayload(err)) return { lead: leadFor(err.code, err.details) ?? 'The operation failed.', message: err.message };
  // fetch() rejects with a TypeError when the server cannot be reached at all.
  if (err instanceof TypeError) return { lead: 'Berth cannot be reached.', message: 'Check that the server is running, then try again.' };
  if (err instanceof Error) return { lead: 'Please check what was entered.', message: err.message };
  return { lead: 'Something went wrong.', message: String(err) };
}

/** The sentence for a code; a code this page does not know (a newer server) has none. */
export function sentenceFor(code: string): string | undefined {
  return Object.hasOwn(ERROR_SENTENCES, code) ? ERROR_SENTENCES[code as ErrorCode] : undefined;
}

function leadFor(code: string, details: unknown): string | undefined {
  const devices = (details as { devices?: unknown } | null | undefined)?.devices;
  if (code === 'cdi_unresolvable' && Array.isArray(devices) && devices.length > 0) {
    // The engine's message lists every requested name; the details say which ones are missing.
    return `Not declared in this host’s CDI specs: ${devices.join(', ')}. No container was made.`;
  }
  return sentenceFor(code);
}

/** An operation's `error` event: a code and message without an HTTP answer around them. */
function isPayload(v: unknown): v is { code: string; message: string; details?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string' && typeof (v as { message?: unknown }).message === 'string';
}

export function isApiError(err: unknown, code: ErrorCode): err is BerthApiError {
  return err instanceof BerthApiError && err.code === code;
}
