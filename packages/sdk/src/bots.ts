import type { Bot, CreateBotBody } from '@berth/contract';
import { routes } from '@berth/contract';
import { BotHandle } from './bot.js';
import type { Transport } from './http.js';
import type { OperationCallOptions } from './lifecycle.js';
import type { Operations } from './operations.js';

export interface CreateBotOptions extends OperationCallOptions {
  /**
   * Also create and start the bot's container; `create` then resolves once it runs, or throws the
   * create operation's error (the bot itself stays: fix its config with `update` and create again).
   */
  container?: boolean;
}

/** `berth.bots`: create, list and address bots. */
export class BotsGroup {
  constructor(
    private readonly http: Transport,
    private readonly ops: Operations,
  ) {}

  /** Creates a bot (and with `{ container: true }` its running container) and answers its handle. */
  async create(body: CreateBotBody, options: CreateBotOptions = {}): Promise<BotHandle> {
    const bot = await this.http.json(routes.lifecycle.createBot, { body }, { signal: options.signal });
    const handle = new BotHandle(this.http, this.ops, bot.id, bot);
    if (options.container) await handle.container.create(options);
    return handle;
  }

  /** Every bot's record. */
  async list(options: { signal?: AbortSignal } = {}): Promise<Bot[]> {
    return (await this.http.json(routes.lifecycle.listBots, {}, { signal: options.signal })).bots;
  }

  /** A handle on a bot by id or name; no request is sent until it is used. */
  get(ref: string): BotHandle {
    if (!ref) throw new TypeError('a bot id or name is needed');
    return new BotHandle(this.http, this.ops, ref);
  }
}
