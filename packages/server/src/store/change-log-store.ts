import type { Insertable, Kysely, Selectable } from 'kysely';
import type { ChangeLogTable, Database } from './schema.js';

export type ChangeLogRow = Selectable<ChangeLogTable>;

/** The ids a client may resume `/events` from: `oldest` (null when nothing is kept) to `latest` (0 before the first change). */
export interface ChangeLogBounds {
  oldest: number | null;
  latest: number;
}

/**
 * The recent changes of `/events`, numbered by the database. The newest row is never pruned, so
 * `max(seq)` is the last id ever given out, even after a long quiet spell.
 */
export class ChangeLogStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends the rows in one statement; returns them with their seq, in the order given. */
  async append(rows: Insertable<ChangeLogTable>[]): Promise<ChangeLogRow[]> {
    if (rows.length === 0) return [];
    const written = await this.db.insertInto('change_log').values(rows).returningAll().execute();
    // Seqs are given in the order of the VALUES list; RETURNING's own order is not promised.
    return written.sort((a, b) => a.seq - b.seq);
  }

  /** Up to `limit` rows after `seq`, oldest first. */
  async after(seq: number, limit: number): Promise<ChangeLogRow[]> {
    return this.db.selectFrom('change_log').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
  }

  async bounds(): Promise<ChangeLogBounds> {
    const row = await this.db
      .selectFrom('change_log')
      .select((eb) => [eb.fn.min('seq').as('oldest'), eb.fn.max('seq').as('latest')])
      .executeTakeFirst();
    const oldest = row?.oldest ?? null;
    return { oldest: oldest === null ? null : Number(oldest), latest: Number(row?.latest ?? 0) };
  }

  /** Drops the rows at or before `seq` (a primary-key range: cheap). */
  async pruneThrough(seq: number): Promise<void> {
    await this.db.deleteFrom('change_log').where('seq', '<=', seq).execute();
  }

  /** Drops the rows written before `at` (ISO time), keeping the newest one whatever its age. */
  async pruneOlderThan(at: string, latest: number): Promise<void> {
    await this.db.deleteFrom('change_log').where('at', '<', at).where('seq', '<', latest).execute();
  }
}
