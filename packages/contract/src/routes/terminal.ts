import { z } from 'zod';
import { AUTH_ERRORS, BotParam, defineRoute, ENGINE_ERRORS, errors } from './define.js';

/** Close code sent when the idle time runs out (4000–4999 are the application's own). */
export const TERMINAL_IDLE_CLOSE_CODE = 4000;
/** Close code sent when the token (or web session) the terminal was opened with is revoked. */
export const TERMINAL_REVOKED_CLOSE_CODE = 4001;

export const open = defineRoute({
  method: 'get',
  path: '/bots/{bot}/terminal',
  operationId: 'openTerminal',
  summary: 'WebSocket: an interactive shell on a pseudo-terminal in the bot’s container',
  description:
    'Binary (or text) frames carry terminal bytes both ways. A text frame holding `{"type":"resize","cols":N,"rows":N}` ' +
    'resizes the terminal. When the shell ends Berth sends `{"type":"exit","code":N}` and closes (1000). A session with ' +
    `no input or output for BERTH_TERMINAL_IDLE_SECONDS (default 1800) gets \`{"type":"exit","code":null,"reason":"idle"}\` and close code ${TERMINAL_IDLE_CLOSE_CODE}. ` +
    `Revoking the token it was opened with (or logging out the web session) sends \`{"type":"exit","code":null,"reason":"revoked"}\`, closes with ${TERMINAL_REVOKED_CLOSE_CODE} and ends the shell. ` +
    'The shell is /bin/bash when the image has it, else /bin/sh. A request with an `Origin` of another site is refused (403).',
  tags: ['terminal'],
  request: {
    params: BotParam,
    query: z.object({
      cols: z.coerce.number().int().min(1).max(1000).optional().describe('columns (default 80)'),
      rows: z.coerce.number().int().min(1).max(1000).optional().describe('rows (default 24)'),
    }),
  },
  responses: {
    101: { description: 'switched to the WebSocket protocol' },
    ...errors({
      ...AUTH_ERRORS,
      400: 'validation_failed: not a WebSocket upgrade, or an invalid size',
      403: 'forbidden: a cross-origin request, or a bot token of another bot',
      404: 'bot_not_found, or container_not_found',
      409: 'container_not_running',
      429: 'too_many_requests: the bot has as many terminals open as it may',
      ...ENGINE_ERRORS,
    }),
  },
});

export const terminal = { open } as const;
