import { AUTH_ERRORS, BOT_NOT_FOUND, BotParam, defineRoute, eventStream, errors, VALIDATION_ERROR } from './define.js';

/** The Model Context Protocol endpoint of a bot (Streamable HTTP, stateless). */

export const call = defineRoute({
  method: 'post',
  path: '/bots/{bot}/mcp',
  operationId: 'mcp',
  summary: 'Model Context Protocol (Streamable HTTP): tools to run commands and background tasks and to read, write, edit and list files',
  description:
    'The body is a JSON-RPC message (or a batch) of the Model Context Protocol; send `Accept: application/json, text/event-stream`. ' +
    'A message the protocol refuses is answered by the protocol itself, as a JSON-RPC error.',
  tags: ['mcp'],
  request: { params: BotParam },
  responses: {
    200: { description: 'the JSON-RPC responses, as an event stream', content: { 'text/event-stream': eventStream } },
    202: { description: 'notifications accepted' },
    ...errors({
      ...AUTH_ERRORS,
      ...VALIDATION_ERROR,
      403: 'forbidden: a request from another origin, or a bot token of another bot',
      ...BOT_NOT_FOUND,
      413: 'body_too_large: a JSON-RPC message past 32 MiB',
    }),
  },
});

export const mcp = { call } as const;
