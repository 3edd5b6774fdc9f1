import type { Insertable, Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Database, SnapshotsTable } from './schema.js';
import { isUniqueViolation } from './store.js';

/**
 * A snapshot record. `image_ref` and `image_id` are null for a data-only snapshot (one taken while the
 * bot had no container); the columns hold '' for it, as they were made NOT NULL.
 */
export type SnapshotRow = Omit<Selectable<SnapshotsTable>, 'image_ref' | 'image_id'> & { image_ref: string | null; image_id: string | null };
export type NewSnapshotRow = Omit<Insertable<SnapshotsTable>, 'image_ref' | 'image_id'> & { image_ref: string | null; image_id: string | null };

/**
 * Snapshot records and the bot's head. The tree is kept in `parent_id`; deleting a snapshot hands its
 * children (and the head, if it was the head) to its parent in one transaction.
 */
export class SnapshotStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Fails with `snapshot_name_taken` when the bot already has a snapshot of that name. `asHead` makes
   * it the bot's head in the same transaction, so a failed write (a full disk) leaves neither.
   */
  async insert(row: NewSnapshotRow, options: { asHead?: boolean } = {}): Promise<SnapshotRow> {
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('snapshots')
          .values({ ...row, image_ref: row.image_ref ?? '', image_id: row.image_id ?? '' })
          .execute();
        if (options.asHead) await tx.updateTable('bots').set({ head_snapshot_id: row.id }).where('id', '=', row.bot_id).execute();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw snapshotNameTaken(row.name, err);
      throw err;
    }
    return this.mustGet(row.bot_id, row.id);
  }

  /** Oldest first. */
  async list(botId: string): Promise<SnapshotRow[]> {
    return (await this.db.selectFrom('snapshots').selectAll().where('bot_id', '=', botId).orderBy('created_at').orderBy('id').execute()).map(fromDb);
  }

  async listAll(): Promise<SnapshotRow[]> {
    return (await this.db.selectFrom('snapshots').selectAll().orderBy('bot_id').orderBy('created_at').execute()).map(fromDb);
  }

  /** By id or by name, within one bot. */
  async find(botId: string, idOrName: string): Promise<SnapshotRow | undefined> {
    const row = await this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('bot_id', '=', botId)
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
    return row && fromDb(row);
  }

  async mustGet(botId: string, idOrName: string): Promise<SnapshotRow> {
    const row = await this.find(botId, idOrName);
    if (!row) throw new AppError('snapshot_not_found', { snapshot: idOrName, reason: 'the bot has no snapshot by that name or id' }, { details: { snapshot: idOrName } });
    return row;
  }

  async nameTaken(botId: string, name: string): Promise<boolean> {
    return (await this.db.selectFrom('snapshots').select('id').where('bot_id', '=', botId).where('name', '=', name).executeTakeFirst()) !== undefined;
  }

  async setHead(botId: string, snapshotId: string | null): Promise<void> {
    await this.db.updateTable('bots').set({ head_snapshot_id: snapshotId }).where('id', '=', botId).execute();
  }

  async setMissing(id: string, missing: string[]): Promise<void> {
    await this.db.updateTable('snapshots').set({ missing: missing.length > 0 ? missing.join(',') : null }).where('id', '=', id).execute();
  }

  /** Removes the record; its children and, if it was the head, the head move to its parent. */
  async delete(row: SnapshotRow): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('snapshots').set({ parent_id: row.parent_id }).where('bot_id', '=', row.bot_id).where('parent_id', '=', row.id).execute();
      await tx.updateTable('bots').set({ head_snapshot_id: row.parent_id }).where('id', '=', row.bot_id).where('head_snapshot_id', '=', row.id).execute();
      await tx.deleteFrom('snapshots').where('id', '=', row.id).execute();
    });
  }
}

function fromDb(row: Selectable<SnapshotsTable>): SnapshotRow {
  return { ...row, image_ref: row.image_ref || null, image_id: row.image_id || null };
}

export function snapshotNameTaken(name: string, cause?: unknown): AppError {
  return new AppError('snapshot_name_taken', { name }, { cause, details: { name } });
}
