import type { Bot, ExecResult, ExecStreamEvent, Operation, PatchBotBody } from '@berth/contract';
import { routes } from '@berth/contract';
import { DataGroup } from './data.js';
import { execStream, runExec, TasksGroup, type ExecInput } from './exec.js';
import { FilesGroup } from './files.js';
import type { Transport } from './http.js';
import { ContainerGroup } from './lifecycle.js';
import type { Operations } from './operations.js';
import { SnapshotsGroup } from './snapshots.js';
import { TokensGroup } from './tokens.js';

/** `bot.operations`: the bot's latest operations. */
export class BotOperations {
  constructor(
    private readonly http: Transport,
    private readonly bot: string,
  ) {}

  /** Newest first; a running one can be followed with `berth.operations.events(id)` or waited on. */
  async list(options: { limit?: number; signal?: AbortSignal } = {}): Promise<Operation[]> {
    return (await this.http.json(routes.lifecycle.listOperations, { params: { bot: this.bot }, query: { limit: options.limit } }, { signal: options.signal })).operations;
  }
}

/**
 * One bot, addressed by its id or name: every capability as a group (`bot.container`, `bot.files`,
 * `bot.snapshots`, `bot.data`, `bot.tasks`, `bot.tokens`, `bot.operations`). Making a handle sends
 * no request; the first call that reaches a missing bot throws `bot_not_found`.
 */
export class BotHandle {
  readonly container: ContainerGroup;
  readonly snapshots: SnapshotsGroup;
  readonly data: DataGroup;
  readonly files: FilesGroup;
  readonly tasks: TasksGroup;
  readonly tokens: TokensGroup;
  readonly operations: BotOperations;

  constructor(
    private readonly http: Transport,
    ops: Operations,
    /** The id or name the handle addresses the bot by. */
    readonly ref: string,
    /** The bot's record as last answered (set when the handle came from `bots.create`). */
    readonly record?: Bot,
  ) {
    this.container = new ContainerGroup(http, ops, ref);
    this.snapshots = new SnapshotsGroup(http, ops, ref);
    this.data = new DataGroup(http, ref);
    this.files = new FilesGroup(http, ref);
    this.tasks = new TasksGroup(http, ref);
    this.tokens = new TokensGroup(http, ref);
    this.operations = new BotOperations(http, ref);
  }

  /** The bot's record: config, observed status, version. */
  info(options: { signal?: AbortSignal } = {}): Promise<Bot> {
    return this.http.json(routes.lifecycle.getBot, { params: { bot: this.ref } }, { signal: options.signal });
  }

  /** Changes the bot's desired config; it applies at the next create or recreate (`pendingRecreate` until then). */
  update(patch: PatchBotBody, options: { signal?: AbortSignal } = {}): Promise<Bot> {
    return this.http.json(routes.lifecycle.updateBot, { params: { bot: this.ref }, body: patch }, { signal: options.signal });
  }

  /** Deletes the bot with its container, data, snapshots, tokens and history. */
  async delete(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.lifecycle.deleteBot, { params: { bot: this.ref } }, { signal: options.signal });
  }

  /** Runs a command in the running container to its end: exit code and output (each stream capped; see `truncated`). */
  exec(input: ExecInput, options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    return runExec(this.http, this.ref, input, options);
  }

  /** Runs a command and yields its output as it comes, then `exit`. Aborting the signal (or leaving the loop) kills it. */
  execStream(input: ExecInput, options: { signal?: AbortSignal } = {}): AsyncGenerator<Exclude<ExecStreamEvent, { event: 'error' }>> {
    return execStream(this.http, this.ref, input, options);
  }

  /**
   * The terminal's WebSocket URL. Connect with `Authorization: Bearer <token>` (or, in a browser on
   * Berth's own page, the session cookie); send `{type:"resize",cols,rows}` as text, bytes as binary.
   */
  terminalUrl(options: { cols?: number; rows?: number } = {}): string {
    return toWebSocket(this.http.url(routes.terminal.open, { params: { bot: this.ref }, query: { cols: options.cols || undefined, rows: options.rows || undefined } }));
  }

  /** The bot's MCP endpoint (Streamable HTTP), for an MCP client holding this bot's token. */
  mcpUrl(): string {
    return absolute(this.http.url(routes.mcp.call, { params: { bot: this.ref } }));
  }
}

/** A browser client may have an empty base URL (same origin): such a URL is resolved against the page. */
function absolute(url: string): string {
  if (!url.startsWith('/')) return url;
  return `${(globalThis as { location?: { origin: string } }).location?.origin ?? ''}${url}`;
}

function toWebSocket(url: string): string {
  return absolute(url).replace(/^http/, 'ws');
}
