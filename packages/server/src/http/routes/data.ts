import { Readable } from 'node:stream';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { DataService } from '../../bots/data-service.js';
import type { AppEnv } from '../context.js';
import { requestBody } from '../request-body.js';

export function dataRoutes(deps: { data: DataService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.data.export,
    async (c) => {
      const { filename, stream } = await deps.data.export(c.req.valid('param').bot, { signal: c.req.raw.signal });
      // The response's reader pulls from the archive as the client reads: backpressure end to end, and
      // a client that goes away cancels the stream, which stops the tree walk.
      const body = Readable.toWeb(stream) as unknown as ReadableStream;
      return c.body(body, 200, {
        'content-type': 'application/gzip',
        'content-disposition': `attachment; filename="${filename}"`,
        'cache-control': 'no-store',
      }) as never;
    },
  );

  app.openapi(
    routes.data.import,
    async (c) => {
      const { bot } = c.req.valid('param');
      const { mode } = c.req.valid('query');
      const body = requestBody(c);
      try {
        return c.json(await deps.data.import(bot, body, { mode }), 200);
      } catch (err) {
        // The body may be unread past the point of failure: answer, then close the connection rather
        // than read the rest of a (possibly huge) upload.
        c.header('connection', 'close');
        throw err;
      }
    },
  );

  app.openapi(
    routes.data.reset,
    async (c) => {
      await deps.data.reset(c.req.valid('param').bot);
      return c.json({}, 200);
    },
  );
}
