import type { BotToken, IssuedBotToken } from '@berth/contract';
import { routes } from '@berth/contract';
import type { Transport } from './http.js';

/** `bot.tokens` (admin only): tokens that reach only this bot. */
export class TokensGroup {
  constructor(
    private readonly http: Transport,
    private readonly bot: string,
  ) {}

  /** Issues a token; its secret (`token`) is in this answer only. */
  create(body: { name: string }, options: { signal?: AbortSignal } = {}): Promise<IssuedBotToken> {
    return this.http.json(routes.tokens.create, { params: { bot: this.bot }, body }, { signal: options.signal });
  }

  async list(options: { signal?: AbortSignal } = {}): Promise<BotToken[]> {
    return (await this.http.json(routes.tokens.list, { params: { bot: this.bot } }, { signal: options.signal })).tokens;
  }

  /** Revokes a token: its open streams and terminals end at once. */
  async revoke(tokenId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.tokens.revoke, { params: { bot: this.bot, token: tokenId } }, { signal: options.signal });
  }
}
