import { createHash, randomBytes } from 'node:crypto';
import { BOT_TOKEN_PREFIX, type BotToken, type CreateTokenBody, type IssuedBotToken } from '@berth/contract';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { TokenStore, type TokenRow } from '../store/token-store.js';
import type { ChangeFeed } from '../core/change-feed.js';
import { newId, now } from '../core/ids.js';
import { botTokensKey, tokenKey, type LiveConnections } from '../core/live-connections.js';

/** `lastUsedAt` is kept to the minute: a database write on every request would cost more than it tells. */
const TOUCH_INTERVAL_MS = 60_000;

export interface TokenServiceDeps {
  store: Store;
  logger: Logger;
  /** The terminals and streams open with each token, ended when it is revoked or its bot deleted. */
  connections?: LiveConnections;
  /** Where bot deletions are announced: a bot's tokens stop working when its delete begins. */
  changes?: ChangeFeed;
}

/** The bot a valid token belongs to. */
export interface BotTokenHolder {
  botId: string;
  tokenId: string;
}

/**
 * Bot tokens: issued once (the secret appears only in the answer that issues it), kept as SHA-256
 * hashes, listed without their secret, revoked by id. A token reaches only its own bot's tools; which
 * routes those are is decided in http/authorize.ts.
 */
export class TokenService {
  private readonly tokens: TokenStore;

  constructor(private readonly deps: TokenServiceDeps) {
    this.tokens = new TokenStore(deps.store.db);
    // The rows go with the bot's record at the end of its delete; what its tokens opened ends at the start.
    deps.changes?.subscribe((change) => {
      if (change.type !== 'bot.deleted') return;
      const ended = deps.connections?.end(botTokensKey(change.botId)) ?? 0;
      if (ended > 0) deps.logger.info({ botId: change.botId, connections: ended }, 'ended the connections of a deleted bot’s tokens');
    });
  }

  async issue(idOrName: string, body: z.output<typeof CreateTokenBody>): Promise<IssuedBotToken> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    // 32 random bytes: a token cannot be guessed, so a plain (unsalted) hash is enough to store it.
    const token = `${BOT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row = { id: newId('tok'), bot_id: bot.id, name: body.name, hash: hashToken(token), created_at: now(), last_used_at: null };
    await this.tokens.insert(row);
    this.deps.logger.info({ botId: bot.id, tokenId: row.id }, 'bot token issued');
    return { id: row.id, name: row.name, createdAt: row.created_at, token };
  }

  async list(idOrName: string): Promise<BotToken[]> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return (await this.tokens.listForBot(bot.id)).map(toBotToken);
  }

  async revoke(idOrName: string, tokenId: string): Promise<void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    if (!(await this.tokens.delete(bot.id, tokenId))) throw new AppError('not_found', { reason: `bot "${idOrName}" has no token "${tokenId}"` });
    // Requests check the token each time; what is already open is ended here.
    const ended = this.deps.connections?.end(tokenKey(tokenId)) ?? 0;
    this.deps.logger.info({ botId: bot.id, tokenId, connections: ended }, 'bot token revoked');
  }

  /** The bot a token belongs to, or null when it is not a current bot token. */
  async verify(token: string): Promise<BotTokenHolder | null> {
    if (!token.startsWith(BOT_TOKEN_PREFIX)) return null;
    const row = await this.tokens.findByHash(hashToken(token));
    if (!row) return null;
    const at = Date.now();
    if (!row.last_used_at || at - Date.parse(row.last_used_at) >= TOUCH_INTERVAL_MS) {
      await this.tokens.touch(row.id, new Date(at).toISOString());
    }
    return { botId: row.bot_id, tokenId: row.id };
  }

  /** The id and current name of a token holder's bot, so a request can name it either way. */
  async botNames(botId: string): Promise<{ id: string; name: string } | undefined> {
    const bot = await this.deps.store.findBot(botId);
    return bot && bot.id === botId ? { id: bot.id, name: bot.name } : undefined;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toBotToken(row: TokenRow): BotToken {
  return { id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}
