import type { OperationEvent } from '@berth/contract';
import { EXIT } from './failure.js';
import { cliHint } from './hints.js';

/**
 * Prints an operation's events as they come (one JSON line each with `--json`) until it ends;
 * an `error` event sets the exit code to 125 (Berth's own failure).
 */
export async function followOperation(events: AsyncIterable<OperationEvent>, asJson: boolean, bot?: string): Promise<void> {
  for await (const ev of events) {
    if (asJson) process.stdout.write(`${JSON.stringify(ev)}\n`);
    else if (ev.event !== 'error') renderEvent(ev);
    if (ev.event === 'error') {
      const d = ev.data as Record<string, unknown>;
      process.stderr.write(`berth: ${cliHint({ code: String(d.code), message: String(d.message) }, { bot })} (${String(d.code)})\n`);
      process.exitCode = EXIT.berth;
    }
  }
}

function renderEvent(ev: OperationEvent): void {
  const d = ev.data as Record<string, unknown>;
  switch (ev.event) {
    case 'phase':
      process.stdout.write(`[${String(d.phase)}] ${String(d.message)}\n`);
      break;
    case 'pull': {
      const total = Number(d.total);
      const current = Number(d.current);
      process.stdout.write(`  pulling ${String(d.image)}: ${mb(current)} / ${mb(total)}${total ? ` (${Math.floor((100 * current) / total)}%)` : ''}\n`);
      break;
    }
    case 'log':
      process.stdout.write(`  ${String(d.message)}\n`);
      break;
    case 'done':
      process.stdout.write('done\n');
      break;
    default:
      break;
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
