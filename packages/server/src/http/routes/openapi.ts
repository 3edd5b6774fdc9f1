import { ErrorEnvelope } from '@berth/contract';
import type { z } from 'zod';

/** Shorthands for route definitions. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

export const errorResponse = (description: string) => jsonContent(ErrorEnvelope, description);

export const sseContent = (description: string) => ({
  content: { 'text/event-stream': { schema: { type: 'string' as const } } },
  description,
});

/** A body of raw bytes (a file, an archive). */
export const binary = { schema: { type: 'string' as const, format: 'binary' } };
