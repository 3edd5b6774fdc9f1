import type { Container, OperationEvent, Snapshot, SnapshotList } from '@berth/contract';
import { routes } from '@berth/contract';
import type { Transport } from './http.js';
import { containerWhenDone, type OperationCallOptions } from './lifecycle.js';
import { operationFrames, type Operations } from './operations.js';

export interface RestoreOptions {
  /** Take an automatic snapshot of the state being left first (default true). */
  keepCurrent?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** `bot.snapshots`: snapshots of the container's root filesystem changes and data dir. */
export class SnapshotsGroup {
  constructor(
    private readonly http: Transport,
    private readonly ops: Operations,
    private readonly bot: string,
  ) {}

  /** Takes a snapshot; a running container keeps running. */
  create(body: { name: string }, options: { signal?: AbortSignal } = {}): Promise<Snapshot> {
    return this.http.json(routes.snapshots.create, { params: { bot: this.bot }, body }, { signal: options.signal });
  }

  /** The snapshots, oldest first, and `head`: the one the current state descends from. */
  list(options: { signal?: AbortSignal } = {}): Promise<SnapshotList> {
    return this.http.json(routes.snapshots.list, { params: { bot: this.bot } }, { signal: options.signal });
  }

  /** One snapshot, by id or name. */
  get(snapshot: string, options: { signal?: AbortSignal } = {}): Promise<Snapshot> {
    return this.http.json(routes.snapshots.get, { params: { bot: this.bot, snap: snapshot } }, { signal: options.signal });
  }

  /** Restores a snapshot (id or name); resolves with the container once it is back, throws the operation's error if it fails. */
  async restore(snapshot: string, options: RestoreOptions & OperationCallOptions = {}): Promise<Container> {
    return containerWhenDone(this.restoreStream(snapshot, options), options, () =>
      this.http.json(routes.lifecycle.getContainer, { params: { bot: this.bot } }, { signal: options.signal }),
    );
  }

  /** The restore operation's events as they come; a failure throws. */
  restoreStream(snapshot: string, options: RestoreOptions = {}): AsyncGenerator<OperationEvent> {
    return this.ops.follow(this.rawRestore(snapshot, options), options);
  }

  /** The restore's events as sent, `error` included (the low-level form). */
  async *rawRestore(snapshot: string, options: RestoreOptions = {}): AsyncGenerator<OperationEvent> {
    const body = options.keepCurrent === undefined ? {} : { keepCurrent: options.keepCurrent };
    const res = await this.http.call(routes.snapshots.restore, { params: { bot: this.bot, snap: snapshot }, body }, { accept: 'text/event-stream', signal: options.signal });
    yield* operationFrames(res);
  }

  /** Deletes a snapshot; its children take its parent as theirs. */
  async delete(snapshot: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.snapshots.remove, { params: { bot: this.bot, snap: snapshot } }, { signal: options.signal });
  }
}
