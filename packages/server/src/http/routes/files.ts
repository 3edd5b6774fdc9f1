import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import { DirectoryListing, FileEditBody, FileEditResult, FileInfo, FileMoveBody } from '@berth/contract';
import { type FilesService, parseMode, parseRange } from '../../files/index.js';
import type { AppEnv } from '../context.js';
import { requestBody } from '../request-body.js';
import { BotParam } from './bots.js';
import { binary, errorResponse, jsonContent } from './openapi.js';

const PathQuery = z.object({ path: z.string().min(1).max(4096).describe('inside the container; relative paths start at the data dir') });

/** The files API (SPEC §3 "The bot's tools"). */
export function fileRoutes(deps: { files: FilesService }, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{bot}/files',
      tags: ['files'],
      summary: 'Read a file (its bytes) or list a directory (JSON)',
      description:
        'A file answers its bytes (`application/octet-stream`), at most BERTH_FILES_READ_LIMIT (default 100 MiB) per request; ' +
        'a `Range: bytes=a-b` header (one range) or `offset`/`length` ask for a part (206, `Content-Range`). A file larger than ' +
        'the limit answers its first part with 206 and `X-Berth-Truncated: true`. A directory answers its listing, each entry ' +
        'with name, type, size, mode, mtime and, for a symlink, its target (never followed). A symlink named as the path is ' +
        'followed inside the container. While the container is not running only the data dir can be read.',
      request: {
        params: BotParam,
        query: PathQuery.extend({
          offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          length: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
        }),
      },
      responses: {
        200: { description: 'the file’s bytes, or the directory’s listing', content: { 'application/octet-stream': binary, 'application/json': { schema: DirectoryListing } } },
        206: { description: 'a part of the file', content: { 'application/octet-stream': binary } },
        400: errorResponse('invalid path or range; path_outside_root'),
        404: errorResponse('no bot, no container, or file_not_found'),
        409: errorResponse('container_not_running: the path is outside the data dir and the container is not running'),
      },
    }),
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
    createRoute({
      method: 'put',
      path: '/bots/{bot}/files',
      tags: ['files'],
      summary: 'Write a file: the body, streamed, replaces it atomically; parents are created',
      request: {
        params: BotParam,
        query: PathQuery.extend({ mode: z.string().optional().describe('octal permission bits, e.g. 0644 (default: the old file’s, or 0644)') }),
        body: { content: { 'application/octet-stream': binary }, required: true },
      },
      responses: {
        200: jsonContent(FileInfo, 'written'),
        400: errorResponse('invalid path or mode; a directory is in the way; path_outside_root'),
        404: errorResponse('no bot'),
        409: errorResponse('container_not_running: the path is outside the data dir and the container is not running'),
        507: errorResponse('disk_limit_exceeded: the bot is at or over its disk limit'),
      },
    }),
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
    createRoute({
      method: 'delete',
      path: '/bots/{bot}/files',
      tags: ['files'],
      summary: 'Remove a file, a symlink (not what it points to), or a directory (non-empty ones with recursive=true)',
      request: { params: BotParam, query: PathQuery.extend({ recursive: z.enum(['true', 'false']).optional() }) },
      responses: {
        204: { description: 'removed' },
        400: errorResponse('invalid path; a non-empty directory without recursive=true; path_outside_root'),
        404: errorResponse('no bot, or file_not_found'),
        409: errorResponse('container_not_running'),
      },
    }),
    async (c) => {
      const { bot } = c.req.valid('param');
      const { path, recursive } = c.req.valid('query');
      await deps.files.remove(bot, path, { recursive: recursive === 'true' });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/files/edit',
      tags: ['files'],
      summary: 'Replace text that occurs exactly once in a UTF-8 file',
      description: 'Zero or several occurrences of `oldText` answer 409 edit_no_match with `details.occurrences`; the file is then unchanged.',
      request: { params: BotParam, body: { content: { 'application/json': { schema: FileEditBody } }, required: true } },
      responses: {
        200: jsonContent(FileEditResult, 'edited'),
        400: errorResponse('invalid body; not a UTF-8 file; path_outside_root'),
        404: errorResponse('no bot, or file_not_found'),
        409: errorResponse('edit_no_match, or container_not_running'),
      },
    }),
    async (c) => c.json(await deps.files.edit(c.req.valid('param').bot, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{bot}/files/move',
      tags: ['files'],
      summary: 'Move or rename a file or directory',
      description: 'An existing `to` answers 409 file_exists unless `overwrite` is true; a directory is never replaced by a file.',
      request: { params: BotParam, body: { content: { 'application/json': { schema: FileMoveBody } }, required: true } },
      responses: {
        200: jsonContent(FileInfo, 'what is now at `to`'),
        400: errorResponse('invalid body; path_outside_root'),
        404: errorResponse('no bot, or file_not_found'),
        409: errorResponse('file_exists, or container_not_running'),
      },
    }),
    async (c) => c.json(await deps.files.move(c.req.valid('param').bot, c.req.valid('json')), 200),
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
