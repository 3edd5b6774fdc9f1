import { z } from 'zod';
import { DirectoryListing, FileEditBody, FileEditResult, FileGlobResult, FileInfo, FileMkdirBody, FileMoveBody } from '../tools.js';
import {
  AUTH_ERRORS,
  BotParam,
  binary,
  BUSY,
  defineRoute,
  empty,
  ENGINE_ERRORS,
  errors,
  FILE_READ_HEADERS,
  json,
  JSON_BODY_ERRORS,
  type HeaderDefinition,
} from './define.js';

/** The files API (SPEC §3 "The bot's tools"). */

const PathQuery = z.object({ path: z.string().min(1).max(4096).describe('inside the container; relative paths start at the data dir') });

const NOT_RUNNING = { 409: 'container_not_running: the path is outside the data dir and the container is not running' } as const;

const CONTENT_RANGE: HeaderDefinition = { description: '`bytes <first>-<last>/<size>`: the part answered', schema: { type: 'string' } };

export const read = defineRoute({
  method: 'get',
  path: '/bots/{bot}/files',
  operationId: 'readFile',
  summary: 'Read a file (its bytes) or list a directory (JSON)',
  description:
    'A file answers its bytes (`application/octet-stream`), at most BERTH_FILES_READ_LIMIT (default 100 MiB) per request; ' +
    'a `Range: bytes=a-b` header (one range) or `offset`/`length` ask for a part (206, `Content-Range`); a range that starts ' +
    'past the end answers 416 with `Content-Range: bytes */<size>`. A file larger than ' +
    'the limit answers its first part with 206 and `X-Berth-Truncated: true`. A directory answers its listing, each entry ' +
    'with name, type, size, mode, mtime and, for a symlink, its target (never followed). A symlink named as the path is ' +
    'followed inside the container. While the container is not running only the data dir can be read.',
  tags: ['files'],
  request: {
    params: BotParam,
    query: PathQuery.extend({
      offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('first byte to read'),
      length: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('bytes to read'),
    }),
    headers: z.object({ Range: z.string().optional().describe('one range of bytes: `bytes=a-b`, `bytes=a-` or `bytes=-n`') }),
  },
  responses: {
    200: {
      description: 'the file’s bytes, or the directory’s listing (`X-Berth-File-Type` says which)',
      headers: FILE_READ_HEADERS,
      content: { 'application/octet-stream': binary, 'application/json': { schema: DirectoryListing } },
    },
    206: { description: 'a part of the file', headers: { ...FILE_READ_HEADERS, 'Content-Range': CONTENT_RANGE }, content: { 'application/octet-stream': binary } },
    ...errors({
      ...AUTH_ERRORS,
      400: 'validation_failed: an invalid path or range; path_outside_root',
      404: 'bot_not_found, container_not_found, or file_not_found',
      ...NOT_RUNNING,
      416: 'range_not_satisfiable: the range starts past the end of the file',
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const write = defineRoute({
  method: 'put',
  path: '/bots/{bot}/files',
  operationId: 'writeFile',
  summary: 'Write a file: the body, streamed, replaces it atomically; parents are created',
  tags: ['files'],
  request: {
    params: BotParam,
    query: PathQuery.extend({ mode: z.string().optional().describe('octal permission bits, e.g. 0644 (default: the old file’s, or 0644)') }),
    body: { content: { 'application/octet-stream': binary }, required: true },
  },
  responses: {
    200: json(FileInfo, 'written'),
    ...errors({
      ...AUTH_ERRORS,
      400: 'validation_failed: an invalid path or mode, or a directory is in the way; path_outside_root',
      404: 'bot_not_found',
      ...NOT_RUNNING,
      ...BUSY,
      ...ENGINE_ERRORS,
      507: 'disk_limit_exceeded: the bot is at or over its disk limit; insufficient_storage: the disk is full',
    }),
  },
});

export const remove = defineRoute({
  method: 'delete',
  path: '/bots/{bot}/files',
  operationId: 'deleteFile',
  summary: 'Remove a file, a symlink (not what it points to), or a directory (non-empty ones with recursive=true)',
  tags: ['files'],
  request: { params: BotParam, query: PathQuery.extend({ recursive: z.enum(['true', 'false']).optional().describe('remove a non-empty directory with all it holds') }) },
  responses: {
    204: empty('removed'),
    ...errors({
      ...AUTH_ERRORS,
      400: 'validation_failed: an invalid path, or a non-empty directory without recursive=true; path_outside_root',
      404: 'bot_not_found, or file_not_found',
      ...NOT_RUNNING,
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const edit = defineRoute({
  method: 'post',
  path: '/bots/{bot}/files/edit',
  operationId: 'editFile',
  summary: 'Replace text that occurs exactly once in a UTF-8 file',
  description: 'Zero or several occurrences of `oldText` answer 409 edit_no_match with `details.occurrences`; the file is then unchanged.',
  tags: ['files'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: FileEditBody } }, required: true } },
  responses: {
    200: json(FileEditResult, 'edited'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body, or not a UTF-8 file; path_outside_root',
      404: 'bot_not_found, or file_not_found',
      409: 'edit_no_match, or container_not_running',
      ...BUSY,
      ...ENGINE_ERRORS,
      507: 'disk_limit_exceeded: the bot is at or over its disk limit',
    }),
  },
});

export const move = defineRoute({
  method: 'post',
  path: '/bots/{bot}/files/move',
  operationId: 'moveFile',
  summary: 'Move or rename a file or directory',
  description: 'An existing `to` answers 409 file_exists unless `overwrite` is true; a directory is never replaced by a file.',
  tags: ['files'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: FileMoveBody } }, required: true } },
  responses: {
    200: json(FileInfo, 'what is now at `to`'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body; path_outside_root',
      404: 'bot_not_found, or file_not_found',
      409: 'file_exists, or container_not_running',
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const mkdir = defineRoute({
  method: 'post',
  path: '/bots/{bot}/files/mkdir',
  operationId: 'makeDirectory',
  summary: 'Make a directory with any missing parents; one that exists already is answered as it is',
  tags: ['files'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: FileMkdirBody } }, required: true } },
  responses: {
    200: json(FileInfo, 'the directory'),
    ...errors({
      ...AUTH_ERRORS,
      ...JSON_BODY_ERRORS,
      400: 'validation_failed: an invalid body, or a file is in the way; path_outside_root',
      404: 'bot_not_found, or container_not_found (a path outside the data dir, and no container)',
      ...NOT_RUNNING,
      ...BUSY,
      ...ENGINE_ERRORS,
      507: 'disk_limit_exceeded: the bot is at or over its disk limit; insufficient_storage: the disk is full',
    }),
  },
});

/** Paths a glob answers by default and at most (as the MCP tool `glob`). */
export const GLOB_DEFAULT_LIMIT = 200;
export const GLOB_MAX_LIMIT = 5000;

export const glob = defineRoute({
  method: 'get',
  path: '/bots/{bot}/files/glob',
  operationId: 'globFiles',
  summary: 'Find the files and directories under a directory whose path matches a glob pattern',
  description:
    'The pattern is matched against each path relative to `path`: `*` and `?` within one segment, `**` across any number of ' +
    'them, `[a-z]` classes, `{ts,tsx}` alternatives; dot files are included, symlinks are not followed. The matches come ' +
    `sorted, as paths in the container, at most \`limit\` (default ${GLOB_DEFAULT_LIMIT}); \`truncated\` says when there were ` +
    'more, or when the walk was cut short. A client that goes away stops the walk.',
  tags: ['files'],
  request: {
    params: BotParam,
    query: z.object({
      pattern: z.string().min(1).max(1024).describe('the glob pattern, relative to `path`, e.g. `**/*.ts`'),
      path: z.string().min(1).max(4096).optional().describe('the directory to search (default: the data dir)'),
      limit: z.coerce.number().int().min(1).max(GLOB_MAX_LIMIT).optional().describe(`most paths to answer (default ${GLOB_DEFAULT_LIMIT})`),
    }),
  },
  responses: {
    200: json(FileGlobResult, 'the matching paths'),
    ...errors({
      ...AUTH_ERRORS,
      400: 'validation_failed: an invalid path, pattern or limit; path_outside_root',
      404: 'bot_not_found, container_not_found, or file_not_found',
      ...NOT_RUNNING,
      ...BUSY,
      ...ENGINE_ERRORS,
    }),
  },
});

export const files = { read, write, remove, edit, move, mkdir, glob } as const;
