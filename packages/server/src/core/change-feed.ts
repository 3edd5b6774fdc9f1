import { EventEmitter } from 'node:events';
import type { ChangeEvent } from '@berth/contract';

/** In-process fan-out of bot and container changes, for `GET /events`. */
export class ChangeFeed {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open `/events` stream is one listener; there is no fixed bound.
    this.emitter.setMaxListeners(0);
  }

  publish(change: Omit<ChangeEvent, 'at'>): void {
    this.emitter.emit('change', { ...change, at: new Date().toISOString() } satisfies ChangeEvent);
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
}
