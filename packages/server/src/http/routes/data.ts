import { Readable } from 'node:stream';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { DATA_IMPORT_MEDIA_TYPES, DataImportQuery, DataImportResult, DataResetResult } from '@berth/contract';
import type { DataService } from '../../data/index.js';
import type { AppEnv } from '../context.js';
import { requestBody } from '../request-body.js';
import { BotParam } from './bots.js';
import { binary, errorResponse, jsonContent } from './openapi.js';

export function dataRoutes(deps: { data: DataService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/data/export',
      tags: ['data'],
      summary: 'The data dir as a tar.gz, streamed as it is read',
      request: { params: BotParam },
      responses: {
        200: { description: 'a gzip-compressed tar of the data dir’s contents', content: { 'application/gzip': binary } },
        404: errorResponse('no such bot'),
      },
    }),
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
    createRoute({
      method: 'post',
      path: '/bots/{bot}/data/import',
      tags: ['data'],
      summary: 'Import a tar or tar.gz into the data dir, all or nothing (an operation)',
      description:
        'The body is the archive itself, streamed; gzip is recognised by its magic bytes, whatever the Content-Type. ' +
        '`merge` keeps what the archive does not name; `replace` leaves only the archive’s entries. ' +
        'A bad archive (SPEC §5) answers 400 archive_invalid or 413 archive_too_large and leaves the data dir as it was; ' +
        'so does one that does not fit on the disk holding BERTH_HOME, with 507 insufficient_storage.',
      request: {
        params: BotParam,
        query: DataImportQuery,
        body: { content: Object.fromEntries(DATA_IMPORT_MEDIA_TYPES.map((t) => [t, binary])), required: true },
      },
      responses: {
        200: jsonContent(DataImportResult, 'imported: files written and bytes of file content'),
        400: errorResponse('archive_invalid: the archive breaks a rule, is truncated, empty or not an archive'),
        404: errorResponse('no such bot'),
        409: errorResponse('an operation is running'),
        413: errorResponse('archive_too_large: past BERTH_MAX_IMPORT_BYTES uncompressed or too many entries'),
        507: errorResponse('insufficient_storage: the disk holding BERTH_HOME (or the database) is full; disk_limit_exceeded: the bot is at or over its disk limit'),
      },
    }),
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
    createRoute({
      method: 'post',
      path: '/bots/{bot}/data/reset',
      tags: ['data'],
      summary: 'Empty the data dir in place (an operation); the container is not recreated',
      request: { params: BotParam },
      responses: {
        200: jsonContent(DataResetResult, 'the data dir is empty'),
        404: errorResponse('no such bot'),
        409: errorResponse('an operation is running'),
      },
    }),
    async (c) => {
      await deps.data.reset(c.req.valid('param').bot);
      return c.json({}, 200);
    },
  );
}
