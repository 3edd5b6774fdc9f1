import { TerminalServerMessage } from '@berth/contract';

/**
 * What a text frame from the terminal socket means: the session's end (a JSON exit message, said in
 * words), or output to show as it is. Anything else that looks like JSON is output too: the shell may
 * print it.
 */
export function readTextFrame(text: string): { kind: 'exit'; message: string } | { kind: 'output'; text: string } {
  const parsed = TerminalServerMessage.safeParse(safeJson(text));
  if (!parsed.success) return { kind: 'output', text };
  return { kind: 'exit', message: exitMessage(parsed.data) };
}

export function exitMessage({ code, reason }: TerminalServerMessage): string {
  if (reason === 'idle') return 'The terminal was closed after a long idle time.';
  return code === null ? 'The terminal was closed.' : `The shell ended with exit code ${code}.`;
}

/** The control frame that tells the server the terminal's new size. */
export function resizeFrame(cols: number, rows: number): string {
  return JSON.stringify({ type: 'resize', cols, rows });
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
