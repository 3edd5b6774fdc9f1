import { BerthApiError, CSRF_HEADER } from '@berth/contract';
import { BerthClient } from '@berth/sdk';

/**
 * The server refuses a cookie-authenticated request that changes state unless it carries `X-Berth`
 * (a header a page on another origin cannot add without a CORS preflight, which Berth never grants).
 */
const berthFetch: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set(CSRF_HEADER, '1');
  return fetch(input, { ...init, headers, credentials: 'same-origin' }).then((res) => {
    // The login itself answers 401 for a wrong token; anything else means the session is gone.
    if (res.status === 401 && !String(input instanceof Request ? input.url : input).endsWith('/api/v1/session')) {
      window.dispatchEvent(new Event('berth:unauthorized'));
    }
    return res;
  });
};

/** The one client the UI talks to the API through; the session cookie authenticates it. */
export const berth = new BerthClient({ baseUrl: window.location.origin, fetch: berthFetch });

/** A sentence per error code, said the way an operator would; the server's message follows it. */
const LEADS: Record<string, string> = {
  validation_failed: 'Some values are not valid.',
  unauthorized: 'Your session has ended or the token is not valid. Log in again.',
  forbidden: 'This token is not allowed to do that.',
  bot_not_found: 'There is no such bot.',
  container_not_found: 'This bot has no container yet.',
  snapshot_not_found: 'That snapshot no longer exists.',
  bot_name_taken: 'That name is already taken.',
  snapshot_name_taken: 'A snapshot with that name already exists.',
  container_exists: 'This bot already has a container.',
  container_not_running: 'The container is not running; start it first.',
  operation_in_progress: 'Another operation is still running for this bot; wait for it to finish.',
  archive_invalid: 'That archive cannot be imported; nothing was changed.',
  archive_too_large: 'That archive is too large to import; nothing was changed.',
  path_outside_root: 'That path is outside the container.',
  file_not_found: 'That file does not exist.',
  edit_no_match: 'The file changed since it was opened.',
  image_pull_failed: 'The image could not be downloaded.',
  image_not_found: 'The image was not found.',
  cdi_unresolvable: 'A CDI device is not declared on this host, so the container was not created.',
  cdi_unsupported: 'This container engine cannot attach CDI devices.',
  runtime_unavailable: 'The container engine is not answering.',
  runtime_timeout: 'The container engine took too long to answer; it may be overloaded or stuck. Try again shortly.',
  body_too_large: 'That is more than the server accepts in one request; nothing was changed.',
  output_too_large: 'The container answered with more output than Berth accepts, so the command was stopped.',
  image_invalid: 'That image reference is not valid or not allowed.',
  too_many_requests: 'Too many requests at once; wait a moment and try again.',
  disk_limit_exceeded: 'This bot is over its disk limit. Free some space in its data directory, or raise the limit in Settings.',
  insufficient_storage: 'The host is out of disk space.',
  file_exists: 'Something with that name already exists.',
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
  if (err instanceof TypeError) return { lead: 'Berth cannot be reached.', message: 'Check that the server is running, then try again.' };
  if (err instanceof Error) return { lead: 'Please check what was entered.', message: err.message };
  return { lead: 'Something went wrong.', message: String(err) };
}

function leadFor(code: string, details: unknown): string | undefined {
  const devices = (details as { devices?: unknown } | undefined)?.devices;
  if (code === 'cdi_unresolvable' && Array.isArray(devices) && devices.length > 0) {
    // The engine's message lists every requested name; the details say which ones are missing.
    return `Not declared in this host’s CDI specs: ${devices.join(', ')}. No container was made.`;
  }
  return LEADS[code];
}

function isPayload(v: unknown): v is { code: string; message: string; details?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string' && typeof (v as { message?: unknown }).message === 'string';
}

export function isApiError(err: unknown, code: string): err is BerthApiError {
  return err instanceof BerthApiError && err.code === code;
}

/** Human sizes for bytes: 1.4 MB, 512 B. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
