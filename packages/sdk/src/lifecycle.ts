import type { Container, Operation, OperationEvent, VersionList } from '@berth/contract';
import { routes } from '@berth/contract';
import type { Transport } from './http.js';
import type { Operations } from './operations.js';
import { operationFrames } from './operations.js';

export interface OperationCallOptions {
  signal?: AbortSignal | undefined;
  /** Called with each event of the operation (phases, pull progress, logs) as it comes. */
  onEvent?: ((event: OperationEvent) => void) | undefined;
}

/** `bot.container`: the bot's one container — create, recreate, start, stop, info, delete. */
export class ContainerGroup {
  constructor(
    private readonly http: Transport,
    private readonly ops: Operations,
    private readonly bot: string,
  ) {}

  /** The container as the engine reports it; `container_not_found` when the bot has none. */
  info(options: { signal?: AbortSignal } = {}): Promise<Container> {
    return this.http.json(routes.lifecycle.getContainer, { params: { bot: this.bot } }, { signal: options.signal });
  }

  /** Creates and starts the container from the bot's config; resolves once it runs, throws the operation's error if it fails. */
  create(options: OperationCallOptions = {}): Promise<Container> {
    return this.finish(this.createStream(options), options);
  }

  /** Replaces the container with a new one from the bot's current config; the data dir is kept. */
  recreate(options: OperationCallOptions = {}): Promise<Container> {
    return this.finish(this.recreateStream(options), options);
  }

  /** The create operation's events (`operation`, `phase`, `pull`, `log`, `done`) as they come; a failure throws. */
  createStream(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<OperationEvent> {
    return this.ops.follow(this.rawCreate({ recreate: false, signal: options.signal }), options);
  }

  recreateStream(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<OperationEvent> {
    return this.ops.follow(this.rawCreate({ recreate: true, signal: options.signal }), options);
  }

  /** Starts the create and answers at once with the running operation (see `berth.operations.wait`). */
  async begin(options: { recreate?: boolean; signal?: AbortSignal } = {}): Promise<Operation> {
    const body = { recreate: options.recreate ?? false };
    return (await this.http.json(routes.lifecycle.createContainer, { params: { bot: this.bot }, body }, { signal: options.signal })).operation;
  }

  /** The create's events as sent, `error` included (the low-level form). */
  async *rawCreate(options: { recreate?: boolean; signal?: AbortSignal | undefined } = {}): AsyncGenerator<OperationEvent> {
    const body = { recreate: options.recreate ?? false };
    const res = await this.http.call(routes.lifecycle.createContainer, { params: { bot: this.bot }, body }, { accept: 'text/event-stream', signal: options.signal });
    yield* operationFrames(res);
  }

  start(options: { signal?: AbortSignal } = {}): Promise<Container> {
    return this.http.json(routes.lifecycle.startContainer, { params: { bot: this.bot }, body: {} }, { signal: options.signal });
  }

  /** Stops the container; `timeoutSeconds` is how long its processes get before they are killed. */
  stop(options: { timeoutSeconds?: number; signal?: AbortSignal } = {}): Promise<Container> {
    const body = options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds };
    return this.http.json(routes.lifecycle.stopContainer, { params: { bot: this.bot }, body }, { signal: options.signal });
  }

  /** Removes the container; the data dir is kept unless `purgeData`. */
  async delete(options: { purgeData?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.lifecycle.deleteContainer, { params: { bot: this.bot }, query: { purgeData: options.purgeData ? 'true' : undefined } }, { signal: options.signal });
  }

  /** The current container version and every instance built for the bot. */
  versions(options: { signal?: AbortSignal } = {}): Promise<VersionList> {
    return this.http.json(routes.snapshots.versions, { params: { bot: this.bot } }, { signal: options.signal });
  }

  private finish(events: AsyncIterable<OperationEvent>, options: OperationCallOptions): Promise<Container> {
    return containerWhenDone(events, options, () => this.info({ ...(options.signal && { signal: options.signal }) }));
  }
}

/**
 * Follows an operation that ends with the bot's container (create, recreate, restore): each event
 * to `onEvent`, then the container its `done` carries, or the container info when it carries none.
 */
export async function containerWhenDone(events: AsyncIterable<OperationEvent>, options: OperationCallOptions, info: () => Promise<Container>): Promise<Container> {
  for await (const ev of events) {
    options.onEvent?.(ev);
    if (ev.event === 'done') {
      const container = (ev as OperationEvent<'done'>).data.container;
      if (container) return container;
    }
  }
  return info();
}
