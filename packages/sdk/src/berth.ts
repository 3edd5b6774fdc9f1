import type { Info, Session } from '@berth/contract';
import { routes } from '@berth/contract';
import { BotsGroup } from './bots.js';
import { serverEvents, type EventsOptions, type ServerEvent } from './changes.js';
import { Transport, type BerthOptions } from './http.js';
import { Operations } from './operations.js';

/** A CDI device a host spec declares: `vendor.com/class=name` and the spec file that declares it. */
export interface CdiDevice {
  name: string;
  specFile: string;
}

/** `berth.session`: the browser's cookie session (the web UI); token clients need none. */
export class SessionGroup {
  constructor(private readonly http: Transport) {}

  /** Trades the admin token for an HttpOnly session cookie; later calls from the page need no token. */
  login(token: string): Promise<Session> {
    return this.http.json(routes.session.login, { body: { token } });
  }

  /** Ends the session: the cookie is cleared. */
  async logout(): Promise<void> {
    await this.http.json(routes.session.logout, {});
  }
}

/**
 * Berth's API. `berth.bots` creates, lists and addresses bots (`berth.bots.get(name)` is a handle
 * with every capability of one bot); `berth.operations` follows and waits on operations;
 * `berth.events()` is the live change stream.
 *
 * ```ts
 * const berth = new Berth({ baseUrl: 'http://127.0.0.1:7070', token });
 * const bot = await berth.bots.create({ name: 'alpha' }, { container: true });
 * const { stdout } = await bot.exec(['echo', 'hi']);
 * ```
 */
export class Berth {
  readonly bots: BotsGroup;
  readonly operations: Operations;
  readonly session: SessionGroup;
  /** The HTTP layer: `http.call(route, { params, query, body })` reaches any route. */
  readonly http: Transport;

  constructor(options: BerthOptions) {
    this.http = new Transport(options);
    this.operations = new Operations(this.http);
    this.bots = new BotsGroup(this.http, this.operations);
    this.session = new SessionGroup(this.http);
  }

  /** Every bot and container change as it happens (`/events`), as an async iterable; leave the loop or abort to close it. */
  events(options: EventsOptions = {}): AsyncGenerator<ServerEvent> {
    return serverEvents(this.http, options);
  }

  /** The server's version, its engine and what the engine can do. */
  info(options: { signal?: AbortSignal } = {}): Promise<Info> {
    return this.http.json(routes.system.info, {}, { signal: options.signal });
  }

  /** Every CDI device the host's specs declare. */
  async cdiDevices(options: { signal?: AbortSignal } = {}): Promise<CdiDevice[]> {
    return (await this.http.json(routes.system.cdiDevices, {}, { signal: options.signal })).devices;
  }

  /** Whether the server and its engine answer (`/healthz`, no token needed); an engine that does not answer throws `runtime_unavailable`. */
  async health(options: { signal?: AbortSignal } = {}): Promise<{ status: string } & Record<string, unknown>> {
    const res = await this.http.send('GET', `${this.http.baseUrl}/healthz`, {}, { signal: options.signal });
    return (await res.json()) as { status: string } & Record<string, unknown>;
  }
}
