import { ChangeEvent, routes } from '@berth/contract';
import type { Transport } from './http.js';
import { parseSse } from './sse.js';

/** One event of `/events`: a bot or container change (`change` is set), or a stream event such as `ready`. */
export interface ServerEvent {
  /** The event's name: `ready`, or the change's type (`bot.created`, `container.changed`, …). */
  event: string;
  /** Its id; pass the last one seen as `lastEventId` to resume after a disconnect. */
  id: string | undefined;
  data: unknown;
  /** The change, when the event is one. */
  change: ChangeEvent | undefined;
}

export interface EventsOptions {
  /** Resume after this event id: the server replays what was missed, when it still can. */
  lastEventId?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** The `/events` stream: every bot and container change as it happens, until the signal aborts or the loop ends. */
export async function* serverEvents(http: Transport, options: EventsOptions = {}): AsyncGenerator<ServerEvent> {
  const headers: Record<string, string> = {};
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const res = await http.call(routes.system.events, {}, { accept: 'text/event-stream', signal: options.signal, headers });
  if (!res.body) return;
  for await (const frame of parseSse(res.body)) {
    let data: unknown;
    try {
      data = JSON.parse(frame.data);
    } catch {
      data = frame.data;
    }
    const parsed = ChangeEvent.safeParse(data);
    yield { event: frame.event, id: frame.id, data, change: parsed.success && parsed.data.type === frame.event ? parsed.data : undefined };
  }
}
