import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs; tokens never reach them. */
export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    options.destination ?? process.stdout,
  );
}
