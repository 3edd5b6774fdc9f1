import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Database, TasksTable } from './schema.js';

export type TaskRow = Selectable<TasksTable>;

/** Background tasks of the exec API. Rows go with their bot (Store.deleteBot). */
export class TaskStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: Insertable<TasksTable>): Promise<void> {
    await this.db.insertInto('tasks').values(row).execute();
  }

  async find(botId: string, id: string): Promise<TaskRow | undefined> {
    return this.db.selectFrom('tasks').selectAll().where('bot_id', '=', botId).where('id', '=', id).executeTakeFirst();
  }

  /** Newest first. */
  async listForBot(botId: string, options: { limit?: number } = {}): Promise<TaskRow[]> {
    return this.db
      .selectFrom('tasks')
      .selectAll()
      .where('bot_id', '=', botId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 1000)
      .execute();
  }

  async running(botId?: string): Promise<TaskRow[]> {
    let q = this.db.selectFrom('tasks').selectAll().where('status', '=', 'running');
    if (botId !== undefined) q = q.where('bot_id', '=', botId);
    return q.execute();
  }

  async update(id: string, patch: Updateable<TasksTable>): Promise<void> {
    await this.db.updateTable('tasks').set(patch).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('tasks').where('id', '=', id).execute();
  }
}
