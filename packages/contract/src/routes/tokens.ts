import { z } from 'zod';
import { BotTokenList, CreateTokenBody, IssuedBotToken } from '../tokens.js';
import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, defineRoute, empty, errors, json, JSON_BODY_ERRORS, VALIDATION_ERROR } from './define.js';

/** Bot tokens; admin only. */

export const create = defineRoute({
  method: 'post',
  path: '/bots/{bot}/tokens',
  operationId: 'createToken',
  summary: 'Issue a token that reaches only this bot’s container info, exec, tasks, files, terminal and MCP',
  tags: ['tokens'],
  request: { params: BotParam, body: { content: { 'application/json': { schema: CreateTokenBody } }, required: true } },
  responses: {
    201: json(IssuedBotToken, 'the token; its secret is shown only here'),
    ...errors({ ...AUTH_ERRORS, ...JSON_BODY_ERRORS, ...BOT_NOT_FOUND }),
  },
});

export const list = defineRoute({
  method: 'get',
  path: '/bots/{bot}/tokens',
  operationId: 'listTokens',
  summary: 'The bot’s tokens, without their secrets',
  tags: ['tokens'],
  request: { params: BotParam },
  responses: { 200: json(BotTokenList, 'the bot’s tokens, without their secrets'), ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, ...BOT_NOT_FOUND }) },
});

export const revoke = defineRoute({
  method: 'delete',
  path: '/bots/{bot}/tokens/{token}',
  operationId: 'revokeToken',
  summary: 'Revoke a token; it stops working at once',
  tags: ['tokens'],
  request: { params: BotParam.extend({ token: z.string().min(1).max(64).describe('the token’s id') }) },
  responses: {
    204: empty('revoked'),
    ...errors({ ...AUTH_ERRORS, ...VALIDATION_ERROR, 404: 'bot_not_found, or not_found: no such token' }),
  },
});

export const tokens = { create, list, revoke } as const;
