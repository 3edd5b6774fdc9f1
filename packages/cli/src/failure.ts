import { CommanderError } from 'commander';
import { BerthApiError } from './connection.js';
import { cliHint, type HintContext } from './hints.js';

/** Exit codes as Docker's: 125 when Berth itself fails; 126 and 127 come from the command (see exec). */
export const EXIT = {
  ok: 0,
  /** Berth's own failure: a bad flag, an API error, the server unreachable. */
  berth: 125,
  /** The command was found but cannot be invoked (not executable). */
  cannotInvoke: 126,
  /** The command was not found. */
  notFound: 127,
  /** `berth tasks wait --timeout`: the time was up and the task still runs (as `timeout` exits). */
  stillRunning: 124,
  /** Output went to a closed pipe (`| head`): what a process killed by SIGPIPE reports (128 + 13). */
  brokenPipe: 141,
} as const;

/** A failure of the CLI itself, with the sentence to print and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.berth,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Failure {
  /** What to print on stderr (already prefixed with `berth: `), or null when nothing is to be printed. */
  message: string | null;
  exitCode: number;
}

/** Turns anything an action threw into what the user sees and the exit code. */
export function describeFailure(err: unknown, ctx: HintContext & { url: string }): Failure {
  if (isBrokenPipe(err)) return { message: null, exitCode: EXIT.brokenPipe };
  if (err instanceof CommanderError) {
    // Commander has printed its own message (or the help, or the version).
    const shown = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    return { message: null, exitCode: shown ? EXIT.ok : EXIT.berth };
  }
  if (err instanceof CliError) return { message: `berth: ${err.message}`, exitCode: err.exitCode };
  if (err instanceof BerthApiError) return { message: `berth: ${cliHint(err, ctx)} (${err.code})`, exitCode: EXIT.berth };
  const unreachable = connectionFailure(err);
  if (unreachable) return { message: `berth: cannot reach Berth at ${ctx.url}: ${unreachable}`, exitCode: EXIT.berth };
  return { message: `berth: ${err instanceof Error ? err.message : String(err)}`, exitCode: EXIT.berth };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The reason when `err` is a failure to talk to the server at all: fetch's "fetch failed" (the cause
 * holds the socket error), or a socket error from the terminal's WebSocket. Null for anything else.
 */
export function connectionFailure(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = (err as { cause?: unknown }).cause;
    return socketReason(cause) ?? (cause instanceof Error && cause.message ? cause.message : 'the connection failed');
  }
  if ((err as { berthConnection?: boolean }).berthConnection) return socketReason(err) ?? err.message;
  return null;
}

/** `connect ECONNREFUSED 127.0.0.1:7070`, or just the code when Node gives no message (AggregateError). */
function socketReason(e: unknown): string | null {
  if (!(e instanceof Error)) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !NETWORK_CODES.has(code)) {
    const inner = (e as { cause?: unknown }).cause;
    return inner === undefined ? null : socketReason(inner);
  }
  if (e.message) return e.message;
  const syscall = (e as { syscall?: unknown }).syscall;
  return typeof syscall === 'string' ? `${syscall} ${code}` : code;
}

/** EPIPE on stdout or stderr: the reader went away (`berth ls | head -1`). */
export function isBrokenPipe(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === 'EPIPE' && !(err as { berthConnection?: boolean }).berthConnection && (err as { syscall?: unknown }).syscall === 'write';
}
