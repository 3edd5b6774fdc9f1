import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, TokensTable } from './schema.js';

export type TokenRow = Selectable<TokensTable>;

/** Bot tokens, kept as SHA-256 hashes. Rows go with their bot (Store.deleteBot). */
export class TokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: Insertable<TokensTable>): Promise<void> {
    await this.db.insertInto('tokens').values(row).execute();
  }

  async findByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  async listForBot(botId: string): Promise<TokenRow[]> {
    return this.db.selectFrom('tokens').selectAll().where('bot_id', '=', botId).orderBy('created_at').orderBy('id').execute();
  }

  /** True when the token existed for that bot and is now gone. */
  async delete(botId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('tokens').where('bot_id', '=', botId).where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
