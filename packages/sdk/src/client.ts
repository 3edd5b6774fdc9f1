import type {
  Bot,
  BotToken,
  Container,
  CreateBotBody,
  CreateSnapshotBody,
  CreateTokenBody,
  DataImportMode,
  DataImportResult,
  DirectoryListing,
  ExecBody,
  ExecResult,
  ExecStreamEvent,
  FileEditBody,
  FileEditResult,
  FileGlobResult,
  FileInfo,
  FileMoveBody,
  Info,
  IssuedBotToken,
  Operation,
  OperationEvent,
  PatchBotBody,
  RestoreSnapshotBody,
  Session,
  Snapshot,
  SnapshotList,
  Task,
  VersionList,
} from '@berth/contract';
import { routes } from '@berth/contract';
import { Berth, type CdiDevice } from './berth.js';
import { rawExecStream, type TaskOutput } from './exec.js';
import type { BerthOptions, UploadData } from './http.js';
import { parseSse, type SseFrame } from './sse.js';

export type BerthClientOptions = BerthOptions;

/**
 * The low-level client: one flat method per route, each taking the bot's id or name. Streams yield
 * every event as sent, an `error` event included, and never throw it. Built on `Berth`; new code
 * should prefer `Berth` and its bot handles, whose operations resolve or throw.
 */
export class BerthClient {
  /** The grouped API over the same connection. */
  readonly berth: Berth;

  constructor(options: BerthClientOptions) {
    this.berth = new Berth(options);
  }

  private bot(ref: string) {
    return this.berth.bots.get(ref);
  }

  // --- bots ---

  createBot(body: CreateBotBody): Promise<Bot> {
    return this.berth.http.json(routes.lifecycle.createBot, { body });
  }

  listBots(): Promise<Bot[]> {
    return this.berth.bots.list();
  }

  getBot(bot: string): Promise<Bot> {
    return this.bot(bot).info();
  }

  updateBot(bot: string, patch: PatchBotBody): Promise<Bot> {
    return this.bot(bot).update(patch);
  }

  deleteBot(bot: string): Promise<void> {
    return this.bot(bot).delete();
  }

  // --- container ---

  /** Starts a create (or recreate) and answers at once with the running operation. */
  createContainer(bot: string, options: { recreate?: boolean } = {}): Promise<Operation> {
    return this.bot(bot).container.begin(options);
  }

  /** Starts a create (or recreate) and yields its events until `done` or `error` (yielded, not thrown). */
  createContainerStream(bot: string, options: { recreate?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    return this.bot(bot).container.rawCreate(options);
  }

  getContainer(bot: string): Promise<Container> {
    return this.bot(bot).container.info();
  }

  startContainer(bot: string): Promise<Container> {
    return this.bot(bot).container.start();
  }

  stopContainer(bot: string, options: { timeoutSeconds?: number } = {}): Promise<Container> {
    return this.bot(bot).container.stop(options);
  }

  deleteContainer(bot: string, options: { purgeData?: boolean } = {}): Promise<void> {
    return this.bot(bot).container.delete(options);
  }

  // --- bot tokens (admin only) ---

  createToken(bot: string, body: CreateTokenBody): Promise<IssuedBotToken> {
    return this.bot(bot).tokens.create(body);
  }

  listTokens(bot: string): Promise<BotToken[]> {
    return this.bot(bot).tokens.list();
  }

  revokeToken(bot: string, tokenId: string): Promise<void> {
    return this.bot(bot).tokens.revoke(tokenId);
  }

  // --- web session and a bot's operations ---

  login(token: string): Promise<Session> {
    return this.berth.session.login(token);
  }

  logout(): Promise<void> {
    return this.berth.session.logout();
  }

  listOperations(bot: string, options: { limit?: number } = {}): Promise<Operation[]> {
    return this.bot(bot).operations.list(options);
  }

  // --- snapshots and versions ---

  createSnapshot(bot: string, body: CreateSnapshotBody): Promise<Snapshot> {
    return this.bot(bot).snapshots.create(body);
  }

  listSnapshots(bot: string): Promise<SnapshotList> {
    return this.bot(bot).snapshots.list();
  }

  getSnapshot(bot: string, snapshot: string): Promise<Snapshot> {
    return this.bot(bot).snapshots.get(snapshot);
  }

  /** Restores a snapshot and answers with the container once it is back (the JSON form: one answer at the end). */
  restoreSnapshot(bot: string, snapshot: string, body: RestoreSnapshotBody = {}): Promise<Container> {
    return this.berth.http.json(routes.snapshots.restore, { params: { bot, snap: snapshot }, body });
  }

  /** Restores a snapshot and yields the restore's events until `done` or `error` (yielded, not thrown). */
  restoreSnapshotStream(bot: string, snapshot: string, options: RestoreSnapshotBody & { signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    return this.bot(bot).snapshots.rawRestore(snapshot, options);
  }

  deleteSnapshot(bot: string, snapshot: string): Promise<void> {
    return this.bot(bot).snapshots.delete(snapshot);
  }

  listVersions(bot: string): Promise<VersionList> {
    return this.bot(bot).container.versions();
  }

  // --- data dir ---

  /** The data dir as a tar.gz Response, unread: stream its `body` anywhere. */
  exportData(bot: string, options: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.bot(bot).data.exportResponse(options);
  }

  importData(bot: string, archive: UploadData, options: { mode?: DataImportMode; signal?: AbortSignal } = {}): Promise<DataImportResult> {
    return this.bot(bot).data.import(archive, options);
  }

  resetData(bot: string): Promise<void> {
    return this.bot(bot).data.reset();
  }

  // --- exec, tasks, files, terminal ---

  exec(bot: string, body: Omit<ExecBody, 'background'>, options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    return this.bot(bot).exec(body, options);
  }

  /** Yields `stdout`/`stderr` events, then `exit` or `error` (yielded, not thrown). Aborting kills the command. */
  execStream(bot: string, body: Omit<ExecBody, 'background'>, options: { signal?: AbortSignal } = {}): AsyncGenerator<ExecStreamEvent> {
    return rawExecStream(this.berth.http, bot, body, options);
  }

  startTask(bot: string, body: Omit<ExecBody, 'background'>): Promise<Task> {
    return this.bot(bot).tasks.start(body);
  }

  listTasks(bot: string): Promise<Task[]> {
    return this.bot(bot).tasks.list();
  }

  getTask(bot: string, task: string, options: { tail?: number } = {}): Promise<Task> {
    return this.bot(bot).tasks.get(task, options);
  }

  killTask(bot: string, task: string): Promise<Task> {
    return this.bot(bot).tasks.kill(task);
  }

  /** Waits up to `timeoutSeconds` for the task to end; one still running then is answered as running. */
  waitTask(bot: string, task: string, options: { timeoutSeconds?: number; tail?: number; signal?: AbortSignal } = {}): Promise<Task> {
    return this.bot(bot).tasks.wait(task, options);
  }

  /** A part of a task's stdout or stderr, and the stream's size so far. */
  readTaskOutput(bot: string, task: string, options: { stream?: 'stdout' | 'stderr'; offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<TaskOutput> {
    return this.bot(bot).tasks.output(task, options);
  }

  /** A file's bytes as a Response, unread (206 and `x-berth-truncated` as the server sent them). */
  readFileResponse(bot: string, path: string, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Response> {
    return this.bot(bot).files.readResponse(path, options);
  }

  /** A (small) file's bytes, whole. */
  readFile(bot: string, path: string, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return this.bot(bot).files.readBytes(path, options);
  }

  listFiles(bot: string, path: string): Promise<DirectoryListing> {
    return this.bot(bot).files.list(path);
  }

  writeFile(bot: string, path: string, data: UploadData, options: { mode?: string; signal?: AbortSignal } = {}): Promise<FileInfo> {
    return this.bot(bot).files.write(path, data, options);
  }

  deleteFile(bot: string, path: string, options: { recursive?: boolean } = {}): Promise<void> {
    return this.bot(bot).files.delete(path, options);
  }

  editFile(bot: string, body: FileEditBody): Promise<FileEditResult> {
    return this.bot(bot).files.edit(body);
  }

  moveFile(bot: string, body: FileMoveBody): Promise<FileInfo> {
    return this.bot(bot).files.move(body);
  }

  makeDirectory(bot: string, path: string): Promise<FileInfo> {
    return this.bot(bot).files.mkdir(path);
  }

  globFiles(bot: string, pattern: string, options: { path?: string; limit?: number; signal?: AbortSignal } = {}): Promise<FileGlobResult> {
    return this.bot(bot).files.glob(pattern, options);
  }

  terminalUrl(bot: string, options: { cols?: number; rows?: number } = {}): string {
    return this.bot(bot).terminalUrl(options);
  }

  // --- operations, events, system ---

  getOperation(id: string): Promise<Operation> {
    return this.berth.operations.get(id);
  }

  /** An operation's events after `lastEventId`, until `done` or `error` (yielded, not thrown). */
  operationEvents(id: string, options: { lastEventId?: number; signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    return this.berth.operations.rawEvents(id, options);
  }

  /** Every bot and container change, as raw frames. */
  async *changes(options: { signal?: AbortSignal } = {}): AsyncGenerator<SseFrame> {
    const res = await this.berth.http.call(routes.system.events, {}, { accept: 'text/event-stream', signal: options.signal });
    if (res.body) yield* parseSse(res.body);
  }

  info(): Promise<Info> {
    return this.berth.info();
  }

  cdiDevices(): Promise<CdiDevice[]> {
    return this.berth.cdiDevices();
  }
}
