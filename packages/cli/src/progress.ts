import type { OperationEvent } from '@berth/contract';
import type { BerthClient } from './connection.js';
import { EXIT } from './failure.js';
import { cliHint } from './hints.js';

export interface FollowOptions {
  asJson: boolean;
  bot?: string | undefined;
  /** Reattach to the operation when its stream is cut before its end (a server restarted mid-way). */
  client?: BerthClient | undefined;
  /** The server's address, for the line printed while reattaching. */
  url?: string | undefined;
  /** The operation's id when it is known before its stream names it (`operations follow <id>`). */
  operationId?: string | undefined;
}

/**
 * Prints an operation's events as they come (one JSON line each with `--json`) until it ends;
 * an `error` event sets the exit code to 125 (Berth's own failure). With a client, a stream cut
 * before `done` or `error` is continued after the last event seen by the SDK's reattaching
 * `operations.events`, which throws the operation's error if it failed (also exit 125).
 */
export async function followOperation(events: AsyncIterable<OperationEvent>, options: FollowOptions): Promise<void> {
  const { asJson, bot, client } = options;
  const all = client
    ? reattaching(
        events,
        (id, lastEventId) => client.berth.operations.events(id, { lastEventId }),
        (id) => {
          // stdout stays pure JSON lines with --json; this line is for a person watching.
          if (!asJson) process.stderr.write(`berth: lost the connection to ${options.url ?? 'the server'}; reattaching to operation ${id}…\n`);
        },
        options.operationId,
      )
    : events;
  for await (const ev of all) {
    if (asJson) process.stdout.write(`${JSON.stringify(ev)}\n`);
    else if (ev.event !== 'error') renderEvent(ev);
    if (ev.event === 'error') {
      const d = ev.data as Record<string, unknown>;
      process.stderr.write(`berth: ${cliHint({ code: String(d.code), message: String(d.message) }, { bot })} (${String(d.code)})\n`);
      process.exitCode = EXIT.berth;
    }
  }
}

/**
 * The events of an operation's first stream and, when that stream ends or is cut (a connection
 * error) before `done` or `error`, the rest from `resume`, asked for after the last event seen.
 * The operation's id comes from its first `operation` event (or `knownId`); a stream cut before
 * naming it cannot be continued, so its failure is thrown as it was.
 */
export async function* reattaching(
  first: AsyncIterable<OperationEvent>,
  resume: (id: string, lastEventId: number) => AsyncIterable<OperationEvent>,
  onLost: (id: string) => void,
  knownId?: string,
): AsyncGenerator<OperationEvent> {
  let id = knownId;
  let last = 0;
  let cut = false;
  try {
    for await (const ev of first) {
      cut = true;
      if (ev.event === 'operation') id = (ev.data as { id: string }).id;
      if (ev.seq > last) last = ev.seq;
      yield ev;
      if (ev.event === 'done' || ev.event === 'error') return;
    }
  } catch (err) {
    // fetch reports a dropped connection as a TypeError; anything else is the caller's to see.
    if (!(err instanceof TypeError) || id === undefined) throw err;
    cut = true;
  }
  // A stream that ended at once without an event (an operation already over) has nothing to continue.
  if (!cut || id === undefined) return;
  onLost(id);
  for await (const ev of resume(id, last)) {
    // Replayed events already printed are not printed twice.
    if (ev.seq <= last) continue;
    last = ev.seq;
    yield ev;
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
