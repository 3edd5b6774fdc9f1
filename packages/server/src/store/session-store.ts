import type { Kysely, Selectable } from 'kysely';
import type { Database, WebSessionsTable } from './schema.js';

export type WebSessionRow = Selectable<WebSessionsTable>;

/** The web UI's sessions, kept by the SHA-256 of their id. */
export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: WebSessionRow): Promise<void> {
    await this.db.insertInto('web_sessions').values(row).execute();
  }

  async findByHash(hash: string): Promise<WebSessionRow | undefined> {
    return this.db.selectFrom('web_sessions').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  async all(): Promise<WebSessionRow[]> {
    return this.db.selectFrom('web_sessions').selectAll().execute();
  }

  /** True when the session existed and is now gone. */
  async delete(hash: string): Promise<boolean> {
    const result = await this.db.deleteFrom('web_sessions').where('hash', '=', hash).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touch(hash: string, at: string): Promise<void> {
    await this.db.updateTable('web_sessions').set({ last_seen_at: at }).where('hash', '=', hash).execute();
  }
}
