import { sql, type Kysely, type Migration } from 'kysely';

/** Every schema change, in order. Never edit one that has shipped; add the next. */
export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('cdi_devices', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('network', 'text', (c) => c.notNull())
        .addColumn('env', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('desired_running', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('container_id', 'text')
        .addColumn('current_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('head_snapshot_id', 'text')
        .execute();
      await db.schema
        .createTable('versions')
        .addColumn('bot_id', 'text', (c) => c.notNull().references('bots.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('snapshot_id', 'text')
        .addPrimaryKeyConstraint('versions_pk', ['bot_id', 'version'])
        .execute();
      await db.schema
        .createTable('operations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bot_id', 'text', (c) => c.notNull().references('bots.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('phase', 'text')
        .addColumn('error', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      // One running operation per bot, enforced by the database itself.
      await sql`create unique index operations_one_running on operations (bot_id) where status = 'running'`.execute(db);
      await db.schema
        .createTable('operation_events')
        .addColumn('operation_id', 'text', (c) => c.notNull().references('operations.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('operation_events_pk', ['operation_id', 'seq'])
        .execute();
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_snapshots': {
    async up(db: Kysely<unknown>) {
      // parent_id is kept by the application (children are re-parented on delete), not by a foreign key.
      await db.schema
        .createTable('snapshots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bot_id', 'text', (c) => c.notNull().references('bots.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('parent_id', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer', (c) => c.notNull())
        .addColumn('data_bytes', 'integer', (c) => c.notNull())
        .addColumn('rootfs_bytes', 'integer', (c) => c.notNull())
        .addColumn('image_ref', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text', (c) => c.notNull())
        .addColumn('missing', 'text')
        .addUniqueConstraint('snapshots_bot_name', ['bot_id', 'name'])
        .execute();
    },
  },
  '0003_tasks': {
    async up(db: Kysely<unknown>) {
      // Background tasks started through the exec API; their processes and output live in the container.
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bot_id', 'text', (c) => c.notNull().references('bots.id').onDelete('cascade'))
        .addColumn('container_id', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('cwd', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('timed_out', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('kill_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('tasks_bot_status').on('tasks').columns(['bot_id', 'status']).execute();
    },
  },
  '0004_tokens': {
    async up(db: Kysely<unknown>) {
      // Only the SHA-256 of a token is kept; the token itself is shown once, when issued.
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bot_id', 'text', (c) => c.notNull().references('bots.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('tokens_bot').on('tokens').column('bot_id').execute();
    },
  },
  '0005_bot_deleting': {
    async up(db: Kysely<unknown>) {
      // Set when a bot's delete begins: nothing new starts on it, and a delete cut off is finished at the next start.
      await db.schema.alterTable('bots').addColumn('deleting', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '0007_operation_journal': {
    async up(db: Kysely<unknown>) {
      // What an operation has done so far that a crash must finish or undo (JSON; see OperationJournal in core/operations.ts).
      await db.schema.alterTable('operations').addColumn('journal', 'text').execute();
    },
  },
  '0008_web_sessions': {
    async up(db: Kysely<unknown>) {
      // The web UI's sessions. Only the SHA-256 of a session id is kept: the id itself is the cookie.
      await db.schema
        .createTable('web_sessions')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('admin_fingerprint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0009_disk_limit': {
    async up(db: Kysely<unknown>) {
      // A bot's disk limit (MiB); null, as for every bot made before it existed: no limit.
      await db.schema.alterTable('bots').addColumn('disk_limit_mb', 'integer').execute();
    },
  },
  '0010_change_log': {
    async up(db: Kysely<unknown>) {
      // Recent bot and container changes, so that `/events` ids survive a restart and a client can
      // resume with Last-Event-ID. AUTOINCREMENT: a seq is never reused, even after the newest is pruned.
      await db.schema
        .createTable('change_log')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
