import type { ExecOutputChunk, ExecResult, ExecSession, ExecStreamOptions } from '../driver.js';

/**
 * The fake driver's streaming exec. Besides what the fake's buffered `exec` knows, it understands
 * `cat` without arguments (copies standard input to standard output) and `sleep SECONDS` (ends
 * early only when killed), so that stdin, timeouts and kills can be tested above the driver.
 */
export function fakeExecSession(options: ExecStreamOptions, runBuffered: () => Promise<ExecResult>): ExecSession {
  const queue: ExecOutputChunk[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  let resolveExit!: (code: number) => void;
  const exitCode = new Promise<number>((r) => (resolveExit = r));
  let stdinEnded = false;
  let onStdinEnd: (() => void) | null = null;
  let killed = false;
  let onKill: (() => void) | null = null;

  const push = (chunk: ExecOutputChunk | null) => {
    if (chunk === null) ended = true;
    else if (chunk.data.length > 0) queue.push(chunk);
    wake?.();
  };
  const finish = (code: number) => {
    if (ended) return;
    push(null);
    resolveExit(code);
  };

  const [cmd, ...args] = options.command;
  if (cmd === 'sleep') {
    const timer = setTimeout(() => finish(0), Number(args[0] ?? 0) * 1000);
    onKill = () => {
      clearTimeout(timer);
      finish(137);
    };
  } else if (cmd === 'cat' && args.length === 0) {
    if (!options.stdin) finish(0);
    onStdinEnd = () => finish(0);
    onKill = () => finish(137);
  } else {
    runBuffered().then(
      (r) => {
        push({ stream: 'stdout', data: r.stdout });
        push({ stream: 'stderr', data: r.stderr });
        finish(r.exitCode);
      },
      () => finish(126),
    );
  }

  const kill = (): Promise<void> => {
    if (!killed) {
      killed = true;
      if (onKill) onKill();
    }
    return Promise.resolve();
  };
  options.signal?.addEventListener('abort', () => void kill(), { once: true });

  async function* output(): AsyncGenerator<ExecOutputChunk> {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  }

  return {
    output: output(),
    exitCode,
    write: (data) => {
      if (cmd === 'cat' && !stdinEnded && !ended) push({ stream: 'stdout', data: Buffer.from(data) });
      return Promise.resolve();
    },
    end: () => {
      if (stdinEnded) return;
      stdinEnded = true;
      onStdinEnd?.();
    },
    resize: () => Promise.resolve(),
    kill,
  };
}
