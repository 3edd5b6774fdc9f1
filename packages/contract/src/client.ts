import type { z } from 'zod';
import type { ErrorCode } from './errors.js';
import type { OperationEvent, OperationEventName } from './events.js';
import type { Bot, CdiDeviceList, Container, CreateBotBody, Info, Operation, PatchBotBody } from './schemas.js';
import type { DataImportMode, DataImportResult } from './data.js';
import { CSRF_HEADER } from './session.js';
import type { BotToken, BotTokenList, CreateTokenBody, IssuedBotToken } from './tokens.js';
import type { OperationList, Session } from './session.js';
import type { CreateSnapshotBody, RestoreSnapshotBody, Snapshot, SnapshotList, VersionList } from './snapshots.js';
import type { DirectoryListing, ExecBody, ExecResult, ExecStreamEvent, FileEditBody, FileEditResult, FileInfo, FileMoveBody, Task, TaskList } from './tools.js';

/** An error answered by the Berth API, with its stable code. */
export class BerthApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'BerthApiError';
  }
}

export interface BerthClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:7070`. */
  baseUrl: string;
  /** Admin or bot token. Omit in a browser that holds a session cookie. */
  token?: string;
  fetch?: typeof fetch;
}

export interface SseFrame {
  event: string;
  id?: string;
  data: string;
}

/** The typed client (SDK) for Berth's REST API and its SSE streams. Used by the CLI and the web UI. */
export class BerthClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: BerthClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // --- bots -----------------------------------------------------------------------------------

  createBot(body: CreateBotBody): Promise<Bot> {
    return this.json('POST', '/bots', body);
  }

  async listBots(): Promise<Bot[]> {
    return (await this.json<{ bots: Bot[] }>('GET', '/bots')).bots;
  }

  getBot(bot: string): Promise<Bot> {
    return this.json('GET', `/bots/${enc(bot)}`);
  }

  updateBot(bot: string, patch: PatchBotBody): Promise<Bot> {
    return this.json('PATCH', `/bots/${enc(bot)}`, patch);
  }

  async deleteBot(bot: string): Promise<void> {
    await this.json('DELETE', `/bots/${enc(bot)}`);
  }

  // --- container --------------------------------------------------------------------------------

  /** Starts a create (or recreate) and answers at once with the running operation. */
  async createContainer(bot: string, options: { recreate?: boolean } = {}): Promise<Operation> {
    return (await this.json<{ operation: Operation }>('POST', `/bots/${enc(bot)}/container`, options)).operation;
  }

  /** Starts a create (or recreate) and yields its events until `done` or `error`. */
  async *createContainerStream(bot: string, options: { recreate?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    const res = await this.request('POST', `/bots/${enc(bot)}/container`, { recreate: options.recreate ?? false }, { accept: 'text/event-stream', signal: options.signal });
    yield* operationEvents(res);
  }

  getContainer(bot: string): Promise<Container> {
    return this.json('GET', `/bots/${enc(bot)}/container`);
  }

  startContainer(bot: string): Promise<Container> {
    return this.json('POST', `/bots/${enc(bot)}/container/start`, {});
  }

  stopContainer(bot: string, options: { timeoutSeconds?: number } = {}): Promise<Container> {
    return this.json('POST', `/bots/${enc(bot)}/container/stop`, options);
  }

  async deleteContainer(bot: string, options: { purgeData?: boolean } = {}): Promise<void> {
    await this.json('DELETE', `/bots/${enc(bot)}/container${options.purgeData ? '?purgeData=true' : ''}`);
  }

  // --- bot tokens (admin only) -------------------------------------------------------------------

  /** Issues a token that reaches only this bot's container info, exec, tasks, files, terminal and MCP. The secret is in this answer only. */
  createToken(bot: string, body: CreateTokenBody): Promise<IssuedBotToken> {
    return this.json('POST', `/bots/${enc(bot)}/tokens`, body);
  }

  async listTokens(bot: string): Promise<BotToken[]> {
    return (await this.json<BotTokenList>('GET', `/bots/${enc(bot)}/tokens`)).tokens;
  }

  async revokeToken(bot: string, tokenId: string): Promise<void> {
    await this.json('DELETE', `/bots/${enc(bot)}/tokens/${enc(tokenId)}`);
  }

  // --- web session and a bot's operations (used by the web UI) ------------------------------------

  /** Trades the admin token for an HttpOnly session cookie (browsers); later calls need no token. */
  login(token: string): Promise<Session> {
    return this.json('POST', '/session', { token });
  }

  /** Ends the browser session: the cookie is cleared. */
  async logout(): Promise<void> {
    await this.json('DELETE', '/session');
  }

  /** The bot's latest operations, newest first; a running one can be reattached to with `operationEvents`. */
  async listOperations(bot: string, options: { limit?: number } = {}): Promise<Operation[]> {
    const query = options.limit ? `?limit=${options.limit}` : '';
    return (await this.json<OperationList>('GET', `/bots/${enc(bot)}/operations${query}`)).operations;
  }

  // --- snapshots and versions ---------------------------------------------------------------------

  /** Takes a snapshot of the container (root filesystem changes and data dir); a running one keeps running. */
  createSnapshot(bot: string, body: CreateSnapshotBody): Promise<Snapshot> {
    return this.json('POST', `/bots/${enc(bot)}/snapshots`, body);
  }

  /** The bot's snapshots, oldest first, and its head (the one the current state descends from). */
  listSnapshots(bot: string): Promise<SnapshotList> {
    return this.json('GET', `/bots/${enc(bot)}/snapshots`);
  }

  getSnapshot(bot: string, snapshot: string): Promise<Snapshot> {
    return this.json('GET', `/bots/${enc(bot)}/snapshots/${enc(snapshot)}`);
  }

  /** Restores a snapshot (id or name) and answers with the container once it is back. */
  restoreSnapshot(bot: string, snapshot: string, body: RestoreSnapshotBody = {}): Promise<Container> {
    return this.json('POST', `/bots/${enc(bot)}/snapshots/${enc(snapshot)}/restore`, body);
  }

  /** Restores a snapshot and yields the restore operation's events until `done` or `error`. */
  async *restoreSnapshotStream(bot: string, snapshot: string, options: RestoreSnapshotBody & { signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    const body = options.keepCurrent === undefined ? {} : { keepCurrent: options.keepCurrent };
    const res = await this.request('POST', `/bots/${enc(bot)}/snapshots/${enc(snapshot)}/restore`, body, { accept: 'text/event-stream', signal: options.signal });
    yield* operationEvents(res);
  }

  /** Deletes a snapshot; its children take its parent as theirs. */
  async deleteSnapshot(bot: string, snapshot: string): Promise<void> {
    await this.json('DELETE', `/bots/${enc(bot)}/snapshots/${enc(snapshot)}`);
  }

  /** The current container version and the history of every instance built for the bot. */
  listVersions(bot: string): Promise<VersionList> {
    return this.json('GET', `/bots/${enc(bot)}/versions`);
  }

  // --- data dir: export, import, reset ------------------------------------------------------------

  /**
   * The data dir as a tar.gz. The Response is handed over unread: stream its `body` to a file or
   * anywhere else; nothing is buffered. Its Content-Disposition names `<bot>-data.tar.gz`.
   */
  exportData(bot: string, options: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.request('GET', `/bots/${enc(bot)}/data/export`, undefined, { accept: 'application/gzip', signal: options.signal });
  }

  /**
   * Imports a tar or tar.gz into the data dir (gzip is recognised by its content), all or nothing.
   * A ReadableStream is sent as it is read; `merge` (the default) keeps entries the archive does not name.
   */
  async importData(
    bot: string,
    archive: ReadableStream<Uint8Array> | Blob | Uint8Array,
    options: { mode?: DataImportMode; signal?: AbortSignal } = {},
  ): Promise<DataImportResult> {
    return this.upload('POST', `/bots/${enc(bot)}/data/import?mode=${options.mode ?? 'merge'}`, archive, options.signal);
  }

  /** Empties the data dir in place; the container keeps running. */
  async resetData(bot: string): Promise<void> {
    await this.json('POST', `/bots/${enc(bot)}/data/reset`, {});
  }

  // --- the bot's tools: exec, background tasks, files, terminal -----------------------------------

  /** Runs a command in the bot's running container to its end: exit code and output (each stream capped, see `truncated`). */
  exec(bot: string, body: Omit<ExecBody, 'background'>, options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    return this.jsonWith('POST', `/bots/${enc(bot)}/exec`, { ...body, background: false }, options.signal);
  }

  /** Runs a command and yields `stdout`/`stderr` events as the output comes, then `exit` (or `error`). Aborting kills the command. */
  async *execStream(bot: string, body: Omit<ExecBody, 'background'>, options: { signal?: AbortSignal } = {}): AsyncGenerator<ExecStreamEvent> {
    const res = await this.request('POST', `/bots/${enc(bot)}/exec`, { ...body, background: false }, { accept: 'text/event-stream', signal: options.signal });
    if (!res.body) return;
    for await (const frame of parseSse(res.body)) {
      const ev = { event: frame.event, data: JSON.parse(frame.data) as never } as ExecStreamEvent;
      yield ev;
      if (ev.event === 'exit' || ev.event === 'error') return;
    }
  }

  /** Starts a background task: it runs on when this client goes, and when the server restarts. */
  async startTask(bot: string, body: Omit<ExecBody, 'background'>): Promise<Task> {
    return (await this.json<{ task: Task }>('POST', `/bots/${enc(bot)}/exec`, { ...body, background: true })).task;
  }

  async listTasks(bot: string): Promise<Task[]> {
    return (await this.json<TaskList>('GET', `/bots/${enc(bot)}/tasks`)).tasks;
  }

  /** A task with the last `tail` bytes (default 64 KiB) of each output stream. */
  getTask(bot: string, task: string, options: { tail?: number } = {}): Promise<Task> {
    return this.json('GET', `/bots/${enc(bot)}/tasks/${enc(task)}${options.tail === undefined ? '' : `?tail=${options.tail}`}`);
  }

  /** Kills a task's whole process group; answers the task once its end is seen. */
  killTask(bot: string, task: string): Promise<Task> {
    return this.jsonWith('DELETE', `/bots/${enc(bot)}/tasks/${enc(task)}`, undefined);
  }

  /**
   * A file's bytes, unread: stream `body` anywhere. A part of it with `offset`/`length`; status 206
   * and `x-berth-truncated: true` say the server's read cap cut it.
   */
  async readFileResponse(bot: string, path: string, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Response> {
    const q = new URLSearchParams({ path });
    if (options.offset !== undefined) q.set('offset', String(options.offset));
    if (options.length !== undefined) q.set('length', String(options.length));
    const res = await this.request('GET', `/bots/${enc(bot)}/files?${q.toString()}`, undefined, { accept: 'application/octet-stream, application/json', signal: options.signal });
    if (res.headers.get('x-berth-file-type') === 'directory') {
      await res.body?.cancel();
      throw new BerthApiError(400, 'validation_failed', `${path} is a directory; use listFiles`);
    }
    return res;
  }

  /** A (small) file's bytes, whole. */
  async readFile(bot: string, path: string, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return new Uint8Array(await (await this.readFileResponse(bot, path, options)).arrayBuffer());
  }

  /** A directory's entries (symlinks are shown with their targets, never followed). */
  async listFiles(bot: string, path: string): Promise<DirectoryListing> {
    const res = await this.request('GET', `/bots/${enc(bot)}/files?${new URLSearchParams({ path }).toString()}`);
    if (res.headers.get('x-berth-file-type') !== 'directory') {
      await res.body?.cancel();
      throw new BerthApiError(400, 'validation_failed', `${path} is not a directory`);
    }
    return (await res.json()) as DirectoryListing;
  }

  /** Writes a file atomically (parents are made); a ReadableStream is sent as it is read. `mode` is octal, e.g. "0644". */
  async writeFile(bot: string, path: string, data: string | Uint8Array | Blob | ReadableStream<Uint8Array>, options: { mode?: string; signal?: AbortSignal } = {}): Promise<FileInfo> {
    const q = new URLSearchParams({ path });
    if (options.mode !== undefined) q.set('mode', options.mode);
    return this.upload('PUT', `/bots/${enc(bot)}/files?${q.toString()}`, data, options.signal);
  }

  /** Removes a file or a link (not its target); a non-empty directory needs `recursive`. */
  async deleteFile(bot: string, path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const q = new URLSearchParams({ path });
    if (options.recursive) q.set('recursive', 'true');
    await this.jsonWith('DELETE', `/bots/${enc(bot)}/files?${q.toString()}`, undefined);
  }

  /** Replaces text that occurs exactly once (else `edit_no_match` with `details.occurrences`). */
  editFile(bot: string, body: FileEditBody): Promise<FileEditResult> {
    return this.json('POST', `/bots/${enc(bot)}/files/edit`, body);
  }

  moveFile(bot: string, body: FileMoveBody): Promise<FileInfo> {
    return this.json('POST', `/bots/${enc(bot)}/files/move`, body);
  }

  /**
   * The terminal's WebSocket URL. Connect with the token as `Authorization: Bearer` (or, in a browser
   * on Berth's own page, the session cookie); send `{type:"resize",cols,rows}` as text, bytes as binary.
   */
  terminalUrl(bot: string, options: { cols?: number; rows?: number } = {}): string {
    // A browser client may have an empty base URL (same origin).
    const base = this.base || ((globalThis as { location?: { origin: string } }).location?.origin ?? '');
    const q = new URLSearchParams();
    if (options.cols) q.set('cols', String(options.cols));
    if (options.rows) q.set('rows', String(options.rows));
    const qs = q.toString();
    return `${base.replace(/^http/, 'ws')}/api/v1/bots/${enc(bot)}/terminal${qs ? `?${qs}` : ''}`;
  }

  /** A JSON request with the CSRF header (for methods without a JSON body) and a signal. */
  private async jsonWith<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, body, { signal, headers: { [CSRF_HEADER]: '1' } });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** Sends raw bytes (a ReadableStream is sent as it is read) and answers the JSON reply. */
  private async upload<T>(method: string, path: string, data: string | Uint8Array | Blob | ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<T> {
    // X-Berth: a browser holding a session cookie must show the request is not a cross-site form post.
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/octet-stream', [CSRF_HEADER]: '1' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const streamed = typeof (data as ReadableStream).getReader === 'function';
    const res = await this.fetchImpl(`${this.base}/api/v1${path}`, {
      method,
      headers,
      body: data as NonNullable<RequestInit['body']>,
      // Fetch sends a stream body only when told it may start before the response (half duplex).
      ...(streamed && { duplex: 'half' }),
      ...(signal && { signal }),
      credentials: 'same-origin',
    } as RequestInit);
    if (!res.ok) throw await toApiError(res);
    return (await res.json()) as T;
  }

  // --- operations, events, system -----------------------------------------------------------------

  getOperation(id: string): Promise<Operation> {
    return this.json('GET', `/operations/${enc(id)}`);
  }

  /** An operation's events after `lastEventId`, until it ends. */
  async *operationEvents(id: string, options: { lastEventId?: number; signal?: AbortSignal } = {}): AsyncGenerator<OperationEvent> {
    const headers: Record<string, string> = {};
    if (options.lastEventId) headers['last-event-id'] = String(options.lastEventId);
    const res = await this.request('GET', `/operations/${enc(id)}/events`, undefined, { accept: 'text/event-stream', signal: options.signal, headers });
    yield* operationEvents(res);
  }

  /** Every bot and container change, as it happens. */
  async *changes(options: { signal?: AbortSignal } = {}): AsyncGenerator<SseFrame> {
    const res = await this.request('GET', '/events', undefined, { accept: 'text/event-stream', signal: options.signal });
    if (!res.body) return;
    yield* parseSse(res.body);
  }

  info(): Promise<Info> {
    return this.json('GET', '/info');
  }

  async cdiDevices(): Promise<z.infer<typeof CdiDeviceList>['devices']> {
    return (await this.json<z.infer<typeof CdiDeviceList>>('GET', '/cdi/devices')).devices;
  }

  // --- plumbing -----------------------------------------------------------------------------------

  async request(
    method: string,
    path: string,
    body?: unknown,
    options: { accept?: string; signal?: AbortSignal | undefined; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json', ...options.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchImpl(`${this.base}/api/v1${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(options.signal && { signal: options.signal }),
      credentials: 'same-origin',
    });
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

async function toApiError(res: Response): Promise<BerthApiError> {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: unknown; requestId?: string } };
    return new BerthApiError(res.status, error.code, error.message, error.details, error.requestId);
  } catch {
    return new BerthApiError(res.status, res.status >= 500 ? 'internal' : 'validation_failed', text || res.statusText);
  }
}

async function* operationEvents(res: Response): AsyncGenerator<OperationEvent> {
  if (!res.body) return;
  for await (const frame of parseSse(res.body)) {
    const ev = { seq: Number(frame.id ?? 0), event: frame.event as OperationEventName, data: JSON.parse(frame.data) as never };
    yield ev;
    if (ev.event === 'done' || ev.event === 'error') return;
  }
}

/** Parses a text/event-stream body into frames; comments (heartbeats) are skipped. */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: SseFrame = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') frame.event = val;
          else if (field === 'id') frame.id = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length === 0) continue;
        frame.data = data.join('\n');
        yield frame;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
