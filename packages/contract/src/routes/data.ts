import { DATA_IMPORT_MEDIA_TYPES, DataImportQuery, DataImportResult, DataResetResult } from '../data.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, binary, defineRoute, errors, json, VALIDATION_ERROR } from './define.js';

/** A bot's data dir as a whole: export, import and reset (SPEC §3 Data). */

export const exportData = defineRoute({
  method: 'get',
  path: '/bots/{bot}/data/export',
  operationId: 'exportData',
  summary: 'The data dir as a tar.gz, streamed as it is read',
  tags: ['data'],
  request: { params: BotParam },
  responses: {
    200: {
      description: 'a gzip-compressed tar of the data dir’s contents',
      headers: { 'Content-Disposition': { description: '`attachment; filename="<bot>-data-<time>.tar.gz"`', schema: { type: 'string' } } },
      content: { 'application/gzip': binary },
    },
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND }),
  },
});

export const importData = defineRoute({
  method: 'post',
  path: '/bots/{bot}/data/import',
  operationId: 'importData',
  summary: 'Import a tar or tar.gz into the data dir, all or nothing (an operation)',
  description:
    'The body is the archive itself, streamed; gzip is recognised by its magic bytes, whatever the Content-Type. ' +
    '`merge` keeps what the archive does not name; `replace` leaves only the archive’s entries. ' +
    'A bad archive (SPEC §5) answers 400 archive_invalid or 413 archive_too_large and leaves the data dir as it was; ' +
    'so does one that does not fit on the disk holding BERTH_HOME, with 507 insufficient_storage.',
  tags: ['data'],
  request: {
    params: BotParam,
    query: DataImportQuery,
    body: { content: Object.fromEntries(DATA_IMPORT_MEDIA_TYPES.map((t) => [t, binary])), required: true },
  },
  responses: {
    200: json(DataImportResult, 'imported: files written and bytes of file content'),
    ...errors({
      ...AUTH_ERRORS,
      400: 'archive_invalid: the archive breaks a rule, is truncated, empty or not an archive; validation_failed: an invalid mode',
      ...BOT_NOT_FOUND,
      409: 'operation_in_progress: another operation of the bot runs',
      413: 'archive_too_large: past BERTH_MAX_IMPORT_BYTES uncompressed or too many entries',
      507: 'insufficient_storage: the disk holding BERTH_HOME (or the database) is full; disk_limit_exceeded: the bot is at or over its disk limit',
    }),
  },
});

export const resetData = defineRoute({
  method: 'post',
  path: '/bots/{bot}/data/reset',
  operationId: 'resetData',
  summary: 'Empty the data dir in place (an operation); the container is not recreated',
  tags: ['data'],
  request: { params: BotParam },
  responses: {
    200: json(DataResetResult, 'the data dir is empty'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND, 409: 'operation_in_progress: another operation of the bot runs' }),
  },
});

export const data = { export: exportData, import: importData, reset: resetData } as const;
