import type { OpenAPIHono } from '@hono/zod-openapi';
import { GLOB_DEFAULT_LIMIT, routes } from '@berth/contract';
import type { FilesService } from '../../files/index.js';
import { parseMode, parseRange } from '../../files/index.js';
import type { AppEnv } from '../context.js';
import { requestBody } from '../request-body.js';

/** The files API (SPEC §3 "The bot's tools"). */
export function fileRoutes(deps: { files: FilesService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.files.read,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { path, offset, length } = c.req.valid('query');
      const range = parseRange(c.req.header('range'), { ...(offset !== undefined && { offset }), ...(length !== undefined && { length }) });
      const read = await deps.files.read(bot, path, range);
      if (read.kind === 'directory') {
        c.header('x-berth-file-type', 'directory');
        return c.json({ path: read.path, entries: read.entries, truncated: read.truncated }, 200);
      }
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(read.length),
        'accept-ranges': 'bytes',
        'last-modified': read.mtime.toUTCString(),
        'cache-control': 'no-store',
        'x-berth-file-type': 'file',
        'x-berth-file-size': String(read.size),
        'x-berth-file-mode': read.mode,
      };
      if (read.truncated) headers['x-berth-truncated'] = 'true';
      const partial = read.partial && read.length > 0;
      if (partial) headers['content-range'] = `bytes ${read.offset}-${read.offset + read.length - 1}/${read.size}`;
      const status = partial ? 206 : 200;
      // HEAD runs this handler too and drops the body unread: the read (and its place) ends here.
      const signal = c.req.raw.signal;
      if (c.req.method === 'HEAD' || signal.aborted) {
        await read.cancel();
        return c.body(null, status, headers) as never;
      }
      // A client that goes away stops the read in the container.
      signal.addEventListener('abort', () => void read.cancel(), { once: true });
      return c.body(streamOf(read), status, headers) as never;
    },
  );

  app.openapi(
    routes.files.write,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { path, mode } = c.req.valid('query');
      const parsedMode = parseMode(mode);
      const body = requestBody(c);
      try {
        return c.json(await deps.files.write(bot, path, body, { ...(parsedMode !== undefined && { mode: parsedMode }) }), 200);
      } catch (err) {
        // The upload may be unread past the failure: answer, then close rather than read the rest.
        c.header('connection', 'close');
        throw err;
      }
    },
  );

  app.openapi(
    routes.files.remove,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { path, recursive } = c.req.valid('query');
      await deps.files.remove(bot, path, { recursive: recursive === 'true' });
      return c.body(null, 204);
    },
  );

  app.openapi(
    routes.files.edit,
    async (c) => c.json(await deps.files.edit(c.req.valid('param').bot, c.req.valid('json')), 200),
  );

  app.openapi(
    routes.files.move,
    async (c) => c.json(await deps.files.move(c.req.valid('param').bot, c.req.valid('json')), 200),
  );

  app.openapi(
    routes.files.mkdir,
    async (c) => c.json(await deps.files.makeDirectory(c.req.valid('param').bot, c.req.valid('json').path), 200),
  );

  app.openapi(
    routes.files.glob,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { pattern, path, limit } = c.req.valid('query');
      // A client that goes away (or whose credential is revoked) stops the walk in the container.
      const signal = AbortSignal.any([c.req.raw.signal, c.get('revoked')]);
      try {
        return c.json(await deps.files.glob(bot, path ?? '.', pattern, { limit: limit ?? GLOB_DEFAULT_LIMIT, signal }), 200);
      } catch (err) {
        // No one is there to read an answer: a walk cut short, rather than a failure to log.
        if (signal.aborted) return c.json({ path: path ?? '.', matches: [], truncated: true }, 200);
        throw err;
      }
    },
  );
}

/**
 * The read's body as a web stream that ends the read however the response ends: its last byte,
 * a failure, or a cancel (a response dropped before its body was read, even before it started).
 */
function streamOf(read: { body: AsyncIterable<Buffer>; cancel(): Promise<void> }): ReadableStream<Uint8Array> {
  const it = read.body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        await read.cancel();
        controller.error(err);
      }
    },
    cancel: () => read.cancel(),
  });
}
