import { randomBytes } from 'node:crypto';

/** Ids carry a prefix with `_`, which bot names cannot contain, so an id never reads as a name. */
export function newId(prefix: 'bot' | 'op' | 'snap' | 'task' | 'tok'): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

export function now(): string {
  return new Date().toISOString();
}
