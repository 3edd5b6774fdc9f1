import type { Command } from 'commander';
import WebSocket from 'ws';
import { TerminalServerMessage } from '@berth/contract';
import { BerthApiError, BerthClient, resolveConnection } from '../connection.js';
import { CliError, EXIT } from '../failure.js';
import type { GlobalOptions } from '../global-options.js';

/** Ctrl-D: what the terminal reads as end of input once piped stdin has ended. */
const EOT = Buffer.from([4]);

/** `berth shell`: an interactive shell in the bot's container over the terminal WebSocket. */
export function registerTerminal(program: Command, global: () => GlobalOptions): void {
  program
    .command('shell <bot>')
    .description('an interactive shell (bash, else sh) on a terminal in the bot’s container; exits with the shell’s exit code')
    .action(async (bot: string) => {
      process.exitCode = await shell(bot, global());
    });
}

/** The resize message the server takes, or null when the size is unknown (not a terminal). */
export function resizeMessage(cols: number | undefined, rows: number | undefined): string | null {
  if (!cols || !rows || cols < 1 || rows < 1) return null;
  return JSON.stringify({ type: 'resize', cols: Math.min(cols, 1000), rows: Math.min(rows, 1000) });
}

/** The exit code for the server's `exit` message: the shell's, or 125 when Berth ended the session. */
export function exitCodeOf(message: TerminalServerMessage): { code: number; note: string | null } {
  if (message.code !== null) return { code: message.code, note: null };
  const why = message.reason === 'idle' ? 'it was idle too long' : message.reason === 'revoked' ? 'the token was revoked' : 'the terminal failed';
  return { code: EXIT.berth, note: `the session was closed by Berth: ${why}` };
}

async function shell(bot: string, g: GlobalOptions): Promise<number> {
  const { baseUrl, token } = resolveConnection(g);
  const client = new BerthClient({ baseUrl, token });
  const tty = process.stdin.isTTY && process.stdout.isTTY;
  const size = process.stdout.isTTY ? { cols: process.stdout.columns, rows: process.stdout.rows } : {};
  const url = client.terminalUrl(bot, resizeMessage(size.cols, size.rows) ? size : {});
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });

  return new Promise<number>((resolve, reject) => {
    let exit: number | null = null;
    let settled = false;
    let rawSet = false;
    const restore = () => {
      if (rawSet) {
        process.stdin.setRawMode(false);
        rawSet = false;
      }
    };
    const finish = (result: { code: number } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearInterval(eotTimer);
      restore();
      process.stdin.off('data', onInput);
      process.stdin.off('end', onInputEnd);
      process.stdout.off('resize', onResize);
      for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
      process.off('exit', restore);
      process.stdin.pause();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
      if ('error' in result) reject(result.error);
      else resolve(result.code);
    };
    const onInput = (chunk: Buffer) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
    };
    // Piped input has ended: the shell reads end of input (Ctrl-D), as from a terminal, and exits. Sent
    // again each second: a Ctrl-D that reaches the terminal before the shell has set it up is read as a
    // plain byte, and a program still reading its input takes one too.
    let eotTimer: NodeJS.Timeout | undefined;
    const onInputEnd = () => {
      onInput(EOT);
      eotTimer = setInterval(() => onInput(EOT), 1000);
    };
    const onResize = () => {
      const msg = resizeMessage(process.stdout.columns, process.stdout.rows);
      if (msg && ws.readyState === WebSocket.OPEN) ws.send(msg);
    };
    const onSignal = (sig: NodeJS.Signals) => finish({ code: 128 + (sig === 'SIGHUP' ? 1 : 15) });

    process.on('exit', restore);
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

    ws.on('unexpected-response', (_req, res) => {
      // A refusal before the upgrade is an ordinary API error (no bot, container not running, ...).
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text = (text + d).slice(0, 64 * 1024)));
      res.on('end', () => {
        void refusal(client, bot, res.statusCode ?? 0, text).then((error) => finish({ error }));
      });
    });
    ws.on('error', (err) => {
      // Failing to connect at all is reported with the server's URL (see failure.ts).
      Object.assign(err, { berthConnection: true });
      finish({ error: err });
    });
    ws.on('open', () => {
      if (tty) {
        process.stdin.setRawMode(true);
        rawSet = true;
      }
      process.stdin.on('data', onInput);
      process.stdin.on('end', onInputEnd);
      process.stdin.resume();
      process.stdout.on('resize', onResize);
    });
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        process.stdout.write(bytes);
        return;
      }
      // Text frames from the server are control messages: the shell's exit.
      try {
        const parsed = TerminalServerMessage.safeParse(JSON.parse(bytes.toString('utf8')));
        if (!parsed.success) return;
        const { code, note } = exitCodeOf(parsed.data);
        exit = code;
        if (note) process.stderr.write(`${tty ? '\r\n' : ''}berth: ${note}\n`);
      } catch {
        // Not JSON: not a message of this protocol.
      }
    });
    ws.on('close', (code, reason) => {
      if (settled) return;
      if (exit === null) {
        restore();
        process.stderr.write(`berth: the terminal connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})\n`);
      }
      finish({ code: exit ?? EXIT.berth });
    });
  });
}

/**
 * Why the server refused to open the terminal. The refusal may come without Berth's error body (the
 * upgrade is answered before it), so then the container is asked: no bot, no container, not running.
 */
async function refusal(client: BerthClient, bot: string, status: number, text: string): Promise<Error> {
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: unknown; requestId?: string } };
    return new BerthApiError(status, error.code, error.message, error.details, error.requestId);
  } catch {
    // No envelope: ask below.
  }
  if (status === 401) return new BerthApiError(401, 'unauthorized', 'invalid token');
  if (status === 403) return new BerthApiError(403, 'forbidden', 'this token cannot open a terminal for this bot');
  try {
    const container = await client.getContainer(bot);
    if (container.status !== 'running') return new BerthApiError(409, 'container_not_running', `the container of bot "${bot}" is ${container.status}`);
  } catch (err) {
    if (err instanceof Error) return err;
  }
  return new CliError(`the terminal could not be opened (HTTP ${status})`);
}
