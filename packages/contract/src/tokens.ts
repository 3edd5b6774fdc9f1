import { z } from 'zod';

/** Bot tokens start with this, so a leaked one is recognisable (secret scanners, logs). */
export const BOT_TOKEN_PREFIX = 'berth_bot_';

export const CreateTokenBody = z
  .object({
    name: z.string().trim().min(1).max(100).describe('a label for the token, e.g. the agent that holds it'),
  })
  .strict()
  .meta({ id: 'CreateTokenBody' });
export type CreateTokenBody = z.input<typeof CreateTokenBody>;

/** A token as listed: never the secret itself, which only exists in the answer that issued it. */
export const BotToken = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
}).meta({ id: 'Token' });
export type BotToken = z.infer<typeof BotToken>;

export const IssuedBotToken = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  token: z.string().describe('the bearer token; shown only here, Berth keeps only its SHA-256 hash'),
}).meta({ id: 'IssuedToken' });
export type IssuedBotToken = z.infer<typeof IssuedBotToken>;

export const BotTokenList = z.object({ tokens: z.array(BotToken) }).meta({ id: 'TokenList' });
export type BotTokenList = z.infer<typeof BotTokenList>;
