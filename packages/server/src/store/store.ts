import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Insertable, type Selectable, type Updateable } from 'kysely';
import { AppError } from '../errors.js';
import { migrations } from './migrations.js';
import { withFullDiskMapped } from './sqlite-full.js';
import type { BotsTable, Database, OperationEventsTable, OperationsTable, VersionsTable } from './schema.js';

export type BotRow = Selectable<BotsTable>;
export type VersionRow = Selectable<VersionsTable>;
export type OperationRow = Selectable<OperationsTable>;
export type OperationEventRow = Selectable<OperationEventsTable>;

/**
 * The repository every use case goes through. Unique violations become Berth's `*_taken` /
 * `operation_in_progress` codes here, so nothing above inspects a database error.
 */
export class Store {
  constructor(readonly db: Kysely<Database>) {}

  // --- bots -------------------------------------------------------------------------------------

  async insertBot(row: Insertable<BotsTable>): Promise<BotRow> {
    try {
      await this.db.insertInto('bots').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('bot_name_taken', { name: row.name }, { cause: err });
      throw err;
    }
    return this.mustGetBot(row.id);
  }

  /** By id or by name; a bot being deleted is gone already. */
  async findBot(idOrName: string): Promise<BotRow | undefined> {
    return this.db
      .selectFrom('bots')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .where('deleting', '=', 0)
      .executeTakeFirst();
  }

  /** By id or by name, a bot being deleted included (to finish its delete). */
  async findBotEvenIfDeleting(idOrName: string): Promise<BotRow | undefined> {
    return this.db.selectFrom('bots').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
  }

  /** Bots whose delete began and did not finish. */
  async listDeletingBots(): Promise<BotRow[]> {
    return this.db.selectFrom('bots').selectAll().where('deleting', '=', 1).execute();
  }

  /** Every bot id in the database, bots being deleted included: what owns a container or a directory. */
  async allBotIds(): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('bots').select('id').execute()).map((r) => r.id));
  }

  /** From now on the bot is gone for everything but its delete. */
  async markBotDeleting(id: string): Promise<void> {
    await this.db.updateTable('bots').set({ deleting: 1 }).where('id', '=', id).execute();
  }

  async mustGetBot(idOrName: string): Promise<BotRow> {
    const bot = await this.findBot(idOrName);
    if (!bot) throw new AppError('bot_not_found', { bot: idOrName });
    return bot;
  }

  async listBots(): Promise<BotRow[]> {
    return this.db.selectFrom('bots').selectAll().where('deleting', '=', 0).orderBy('created_at').orderBy('name').execute();
  }

  async updateBot(id: string, patch: Updateable<BotsTable>): Promise<BotRow> {
    try {
      await this.db.updateTable('bots').set(patch).where('id', '=', id).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('bot_name_taken', { name: String(patch.name) }, { cause: err });
      throw err;
    }
    return this.mustGetBot(id);
  }

  /** Its versions, operations (with their events), snapshots, tasks and tokens go with it: ON DELETE CASCADE. */
  async deleteBot(id: string): Promise<void> {
    await this.db.deleteFrom('bots').where('id', '=', id).execute();
  }

  // --- versions ---------------------------------------------------------------------------------

  async insertVersion(row: Insertable<VersionsTable>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('versions').values(row).execute();
      await tx.updateTable('bots').set({ current_version: row.version }).where('id', '=', row.bot_id).execute();
    });
  }

  /**
   * The commit of a container build: the new version, the bot's container, desired state and head,
   * and the operation's journal (now saying `committed`), in one transaction, so that after a crash
   * all of them agree with the container, or none changed.
   */
  async commitVersion(version: Insertable<VersionsTable>, bot: Updateable<BotsTable>, operation: { id: string; journal: string }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('versions').values(version).execute();
      await tx.updateTable('bots').set({ ...bot, current_version: version.version }).where('id', '=', version.bot_id).execute();
      await tx.updateTable('operations').set({ journal: operation.journal }).where('id', '=', operation.id).execute();
    });
  }

  async listVersions(botId: string): Promise<VersionRow[]> {
    return this.db.selectFrom('versions').selectAll().where('bot_id', '=', botId).orderBy('version').execute();
  }

  async getVersion(botId: string, version: number): Promise<VersionRow | undefined> {
    return this.db.selectFrom('versions').selectAll().where('bot_id', '=', botId).where('version', '=', version).executeTakeFirst();
  }

  // --- operations -------------------------------------------------------------------------------

  /**
   * Starts an operation; fails with `operation_in_progress` when the bot already has one running, and
   * with `bot_not_found` when the bot is gone or being deleted (unless `evenIfDeleting`: its delete).
   */
  async insertOperation(row: Insertable<OperationsTable>, options: { evenIfDeleting?: boolean } = {}): Promise<OperationRow> {
    try {
      // The check and the insert in one transaction: a delete that begins meanwhile is seen.
      await this.db.transaction().execute(async (tx) => {
        const bot = await tx.selectFrom('bots').select(['deleting']).where('id', '=', row.bot_id).executeTakeFirst();
        if (!bot || (bot.deleting && !options.evenIfDeleting)) {
          throw new AppError('bot_not_found', { bot: row.bot_id }, { details: { botId: row.bot_id, ...(bot && { deleting: true }) } });
        }
        await tx.insertInto('operations').values(row).execute();
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const running = await this.runningOperationFor(row.bot_id);
      throw new AppError('operation_in_progress', { kind: running?.kind ?? 'other', operation: running?.id ?? '(it has just ended; try again)' }, {
        details: { operationId: running?.id, kind: running?.kind },
        cause: err,
      });
    }
    return this.mustGetOperation(row.id);
  }

  async findOperation(id: string): Promise<OperationRow | undefined> {
    return this.db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async mustGetOperation(id: string): Promise<OperationRow> {
    const op = await this.findOperation(id);
    if (!op) throw new AppError('operation_not_found', { operation: id });
    return op;
  }

  async updateOperation(id: string, patch: Updateable<OperationsTable>): Promise<void> {
    await this.db.updateTable('operations').set(patch).where('id', '=', id).execute();
  }

  async runningOperations(): Promise<OperationRow[]> {
    return this.db.selectFrom('operations').selectAll().where('status', '=', 'running').execute();
  }

  /** Finished operations that left something for the next start to finish or undo. */
  async finishedOperationsWithJournal(botId?: string): Promise<OperationRow[]> {
    let q = this.db.selectFrom('operations').selectAll().where('status', '!=', 'running').where('journal', 'is not', null);
    if (botId !== undefined) q = q.where('bot_id', '=', botId);
    return q.orderBy('started_at').execute();
  }

  /** Bots with a container build whose journal still names something to finish or undo. */
  async botsWithUnsettledBuild(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('operations').select('bot_id').where('journal', 'like', '{"type":"replace"%').execute();
    return new Set(rows.map((r) => r.bot_id));
  }

  async runningOperationFor(botId: string): Promise<OperationRow | undefined> {
    return this.db.selectFrom('operations').selectAll().where('bot_id', '=', botId).where('status', '=', 'running').executeTakeFirst();
  }

  /** Fails with `operation_in_progress` when the bot has a running operation (for changes made outside one). */
  async assertNoRunningOperation(botId: string): Promise<void> {
    const running = await this.runningOperationFor(botId);
    if (running) {
      throw new AppError('operation_in_progress', { kind: running.kind, operation: running.id }, { details: { operationId: running.id, kind: running.kind } });
    }
  }

  /** A bot's latest operations, newest first (the web UI finds a running one to reattach to). */
  async recentOperationsFor(botId: string, limit: number): Promise<OperationRow[]> {
    return this.db.selectFrom('operations').selectAll().where('bot_id', '=', botId).orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  async appendEvent(row: Insertable<OperationEventsTable>): Promise<void> {
    await this.db.insertInto('operation_events').values(row).execute();
  }

  async lastEventSeq(operationId: string): Promise<number> {
    const row = await this.db.selectFrom('operation_events').select((eb) => eb.fn.max('seq').as('seq')).where('operation_id', '=', operationId).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  async listEvents(operationId: string, afterSeq: number): Promise<OperationEventRow[]> {
    return this.db.selectFrom('operation_events').selectAll().where('operation_id', '=', operationId).where('seq', '>', afterSeq).orderBy('seq').execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/** A unique or primary-key violation, from SQLite or PostgreSQL; the stores map it to a `*_taken` code. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Opens the database named by the config (SQLite file under BERTH_HOME by default) and migrates it. */
export async function openStore(options: { home: string; databaseUrl: string | null }): Promise<Store> {
  if (options.databaseUrl && !options.databaseUrl.startsWith('sqlite:')) {
    throw new Error('BERTH_DATABASE_URL: only SQLite (sqlite:<path>) is supported by this build; PostgreSQL support is not implemented yet');
  }
  const file = options.databaseUrl ? options.databaseUrl.slice('sqlite:'.length) : path.join(options.home, 'berth.db');
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  // With WAL, NORMAL is durable across process crashes (only an OS crash can lose the last commits)
  // and avoids an fsync per write, which blocks the event loop.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withFullDiskMapped(sqlite, file) }) });
  // Migrations are independent tables and columns, numbered ahead of time, so they may land out of
  // order (0004 before 0002); a database that has run a later one must still take an earlier one.
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) }, allowUnorderedMigrations: true });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw new Error('database migration failed', { cause: error });
  }
  return new Store(db);
}
