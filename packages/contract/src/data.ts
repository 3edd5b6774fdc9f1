import { z } from 'zod';

/** A bot's data dir as a whole: export, import and reset (SPEC §3 Data). */

/** `merge` (the default) keeps entries the archive does not name; `replace` leaves only the archive's. */
export const DataImportMode = z.enum(['merge', 'replace']);
export type DataImportMode = z.infer<typeof DataImportMode>;

export const DataImportQuery = z.object({ mode: DataImportMode.default('merge') });

/** What an import wrote: regular files, symlinks and hard links, and the bytes of file content. */
export const DataImportResult = z.object({
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
}).meta({ id: 'DataImportResult' });
export type DataImportResult = z.infer<typeof DataImportResult>;

/** A reset answers an empty object once the data dir is empty. */
export const DataResetResult = z.object({}).strict().meta({ id: 'DataResetResult' });
export type DataResetResult = z.infer<typeof DataResetResult>;

/** Media types an import body may be sent as; the content decides (gzip's magic bytes), not the label. */
export const DATA_IMPORT_MEDIA_TYPES = ['application/gzip', 'application/x-tar', 'application/octet-stream'] as const;
