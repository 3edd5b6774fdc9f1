import type { ErrorCode } from './errors.js';

/**
 * An error answered by the Berth API (or carried by a failed operation), with its stable code.
 * It lives beside the error table so that every client throws the one class and `instanceof` holds
 * whichever package it was imported from.
 */
export class BerthApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | (string & Record<never, never>),
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'BerthApiError';
  }
}
