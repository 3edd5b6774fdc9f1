import type { ColumnType, Generated } from 'kysely';

/** One schema type for every dialect. JSON columns are stored as text. */
export interface BotsTable {
  id: string;
  name: string;
  image: string;
  cdi_devices: string; // JSON string[]
  resources: string; // JSON Resources
  network: string;
  env: string; // JSON Record<string,string>
  created_at: string;
  updated_at: string;
  /** Desired state: whether the bot's container should be running. */
  desired_running: number;
  /** Engine id of the bot's current container, when Berth made one. */
  container_id: string | null;
  current_version: number;
  head_snapshot_id: string | null;
  /** 1 from the moment its delete begins: hidden, nothing new starts on it, finished at the next start if cut off. */
  deleting: Generated<number>;
  /** MiB the data dir and the writable layer may take together; null: no limit. */
  disk_limit_mb: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface VersionsTable {
  bot_id: string;
  version: number;
  created_at: string;
  reason: string;
  image: string;
  image_id: string;
  /** JSON AppliedConfig: what this container instance was built from. */
  config: string;
  snapshot_id: string | null;
}

export interface OperationsTable {
  id: string;
  bot_id: string;
  kind: string;
  status: string;
  phase: string | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  /** JSON: what the operation has done that a crash must finish or undo; null when nothing. */
  journal: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OperationEventsTable {
  operation_id: string;
  seq: number;
  event: string;
  data: string;
  at: ColumnType<string, string | undefined, never>;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface TokensTable {
  id: string;
  bot_id: string;
  name: string;
  /** Hex SHA-256 of the bearer token; the token itself is never stored. */
  hash: string;
  created_at: string;
  last_used_at: string | null;
}

export interface WebSessionsTable {
  /** Hex SHA-256 of the session id; the id itself (the cookie) is never stored. */
  hash: string;
  /** Fingerprint of the admin token the session was opened with: another admin token ends it. */
  admin_fingerprint: string;
  created_at: string;
  /** The last request made with it (kept to the minute); the idle expiry counts from here. */
  last_seen_at: string;
  /** The absolute expiry, whatever the activity. */
  expires_at: string;
}

export interface SnapshotsTable {
  id: string;
  bot_id: string;
  name: string;
  created_at: string;
  /** The snapshot this one descends from (the bot's head when it was taken); null from a fresh image. */
  parent_id: string | null;
  /** The container version it was taken from. */
  version: number;
  source: string; // 'manual' | 'auto'
  /** Bytes it added: data_bytes + rootfs_bytes. */
  size_bytes: number;
  data_bytes: number;
  rootfs_bytes: number;
  /** '' (both) for a data-only snapshot, taken while the bot had no container; SnapshotStore reads it as null. */
  image_ref: string;
  image_id: string;
  /** Comma list of parts found gone at start-up ('rootfs', 'data'); null when whole. */
  missing: string | null;
}

export interface TasksTable {
  id: string;
  bot_id: string;
  /** Engine id of the container instance the task was started in. */
  container_id: string;
  /** JSON: the command as given, an argv array or a shell string. */
  command: string;
  cwd: string;
  /** running | exited | killed | lost; `running` until its end is observed. */
  status: string;
  exit_code: number | null;
  timed_out: number;
  kill_requested: number;
  started_at: string;
  finished_at: string | null;
}

/** Recent changes of the `/events` stream, pruned to a bounded history (ChangeLogStore). */
export interface ChangeLogTable {
  seq: Generated<number>;
  at: string;
  /** The change's type, the SSE event name. */
  event: string;
  /** JSON ChangeEvent. */
  data: string;
}

export interface Database {
  snapshots: SnapshotsTable;
  bots: BotsTable;
  versions: VersionsTable;
  operations: OperationsTable;
  operation_events: OperationEventsTable;
  meta: MetaTable;
  tokens: TokensTable;
  tasks: TasksTable;
  web_sessions: WebSessionsTable;
  change_log: ChangeLogTable;
}

