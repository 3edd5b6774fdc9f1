import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { AppError, type StorageKind } from '../errors.js';

/** SQLite's "database or disk is full": the disk holding the database file has no room for a write. */
export function isDatabaseFull(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_FULL';
}

/**
 * better-sqlite3 as Kysely sees it, with a full disk turned into `insufficient_storage` where it
 * crosses into Berth, so nothing above the store inspects SQLite's codes. SQLite rolls a transaction
 * back by itself when the disk fills; Kysely's own rollback then finds none, and that second error
 * must not hide the first.
 */
export function withFullDiskMapped(sqlite: BetterSqlite3.Database, file: string): SqliteDatabase {
  const mapped = (err: unknown): unknown =>
    isDatabaseFull(err)
      ? new AppError('insufficient_storage', { what: 'the database', storage: `the disk holding ${file}` }, {
          details: { storage: 'database' satisfies StorageKind, path: file },
          cause: err,
        })
      : err;
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw mapped(err);
    }
  };
  return {
    close: () => sqlite.close(),
    prepare: (text: string): SqliteStatement => {
      const stmt = guard(() => sqlite.prepare(text));
      const rollback = /^\s*rollback\s*$/i.test(text);
      return {
        reader: stmt.reader,
        all: (params) => guard(() => stmt.all(...params)),
        iterate: (params) => guard(() => stmt.iterate(...params)),
        run: (params) => {
          if (rollback && !sqlite.inTransaction) return { changes: 0, lastInsertRowid: 0 };
          return guard(() => stmt.run(...params));
        },
      };
    },
  };
}
