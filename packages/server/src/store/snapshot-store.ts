import type { Insertable, Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Database, SnapshotsTable } from './schema.js';

export type SnapshotRow = Selectable<SnapshotsTable>;

/**
 * Snapshot records and the bot's head. The tree is kept in `parent_id`; deleting a snapshot hands its
 * children (and the head, if it was the head) to its parent in one transaction.
 */
export class SnapshotStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Fails with `snapshot_name_taken` when the bot already has a snapshot of that name. */
  async insert(row: Insertable<SnapshotsTable>): Promise<SnapshotRow> {
    try {
      await this.db.insertInto('snapshots').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('snapshot_name_taken', `the bot already has a snapshot named "${row.name}"`, { cause: err, details: { name: row.name } });
      throw err;
    }
    return this.mustGet(row.bot_id, row.id);
  }

  /** Oldest first. */
  async list(botId: string): Promise<SnapshotRow[]> {
    return this.db.selectFrom('snapshots').selectAll().where('bot_id', '=', botId).orderBy('created_at').orderBy('id').execute();
  }

  async listAll(): Promise<SnapshotRow[]> {
    return this.db.selectFrom('snapshots').selectAll().orderBy('bot_id').orderBy('created_at').execute();
  }

  /** By id or by name, within one bot. */
  async find(botId: string, idOrName: string): Promise<SnapshotRow | undefined> {
    return this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('bot_id', '=', botId)
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
  }

  async mustGet(botId: string, idOrName: string): Promise<SnapshotRow> {
    const row = await this.find(botId, idOrName);
    if (!row) throw new AppError('snapshot_not_found', `the bot has no snapshot "${idOrName}"`, { details: { snapshot: idOrName } });
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

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
