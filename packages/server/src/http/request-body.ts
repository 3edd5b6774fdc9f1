import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { AppEnv } from './context.js';

/**
 * The request body as a stream, for uploads (archives, files). On @hono/node-server the Node request
 * itself is at hand, and reading it directly skips the two web-stream layers the adapter wraps it in
 * (a large share of an import's CPU time); elsewhere (tests calling `app.request()`) the web stream
 * is read.
 */
export function requestBody(c: Context<AppEnv>): AsyncIterable<Uint8Array> {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  // An upload that fails stops reading early; the request must survive that so the error can still
  // be answered (the adapter then drains or closes the connection).
  if (incoming && typeof incoming.iterator === 'function' && !incoming.readableDidRead) return incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
  return (c.req.raw.body ?? emptyBody()) as unknown as NodeWebReadableStream<Uint8Array>;
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}
