import { z } from 'zod';
import { Resources } from './schemas.js';

/**
 * Snapshot names: 1-63 characters of letters, digits, `.` and `-`, starting with a letter or digit.
 * No `_`, so a name never reads as a snapshot id (`snap_…`).
 */
export const SnapshotName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'snapshot names are 1-63 characters of letters, digits, . and -, starting with a letter or digit');

export const CreateSnapshotBody = z.object({ name: SnapshotName }).strict().meta({ id: 'CreateSnapshotBody' });
export type CreateSnapshotBody = z.input<typeof CreateSnapshotBody>;

export const RestoreSnapshotBody = z
  .object({
    /** Take an automatic snapshot of the state being left first (default true). */
    keepCurrent: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'RestoreSnapshotBody' });
export type RestoreSnapshotBody = z.input<typeof RestoreSnapshotBody>;

export const SnapshotSource = z.enum(['manual', 'auto']);

export const Snapshot = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  /** The snapshot this one descends from; null when taken from a fresh image. */
  parentId: z.string().nullable(),
  /** The container version it was taken from. */
  version: z.number().int(),
  source: SnapshotSource,
  /** Bytes this snapshot added: its new data bytes plus its root filesystem layer. */
  sizeBytes: z.number().int(),
  /**
   * The engine image holding its root filesystem changes; null for a data-only snapshot (taken before
   * a restore while the bot had no container), whose restore builds the container from the bot's image.
   */
  image: z.string().nullable(),
  /** Parts found gone at start-up (`rootfs`, `data`); such a snapshot cannot be restored. Empty when whole. */
  missing: z.array(z.enum(['rootfs', 'data'])),
}).meta({ id: 'Snapshot' });
export type Snapshot = z.infer<typeof Snapshot>;

export const SnapshotList = z.object({
  snapshots: z.array(Snapshot),
  /** The snapshot the current state descends from (last taken or restored); null from a fresh image. */
  head: z.string().nullable(),
}).meta({ id: 'SnapshotList' });
export type SnapshotList = z.infer<typeof SnapshotList>;

export const VersionReason = z.enum(['create', 'recreate', 'restore']);

export const Version = z.object({
  version: z.number().int(),
  createdAt: z.string(),
  reason: VersionReason,
  image: z.string(),
  imageId: z.string(),
  cdiDevices: z.array(z.string()),
  resources: Resources,
  /** The snapshot a `restore` version was built from; null otherwise. */
  snapshotId: z.string().nullable(),
}).meta({ id: 'Version' });
export type Version = z.infer<typeof Version>;

export const VersionList = z.object({
  /** The version of the bot's newest container instance (0 before the first create). */
  current: z.number().int(),
  /** Oldest first, kept across container delete and re-create. */
  history: z.array(Version),
}).meta({ id: 'VersionList' });
export type VersionList = z.infer<typeof VersionList>;
