import { describe, expect, it } from 'vitest';
import { BerthApiError, ERROR_CODES, ERROR_STATUS } from '@berth/contract';
import { ERROR_SENTENCES, explainError, isApiError, sentenceFor } from './explain-error.js';

describe('the error sentences', () => {
  it('has one for every code the API can answer, and none for a code that does not exist', () => {
    expect(Object.keys(ERROR_SENTENCES).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('says each in words a person reads: a sentence, no code names', () => {
    for (const code of ERROR_CODES) {
      const sentence = ERROR_SENTENCES[code];
      expect(sentence, code).toMatch(/^[A-Z].*[.!]$/);
      expect(sentence, code).not.toMatch(/[a-z]_[a-z]/);
    }
  });

  it('leads an API error with its sentence and keeps the server’s message', () => {
    const err = new BerthApiError(ERROR_STATUS.bot_name_taken, 'bot_name_taken', 'a bot named "a" exists');
    expect(explainError(err)).toEqual({ lead: 'That name is already taken.', message: 'a bot named "a" exists' });
  });

  it('covers the HTTP convention codes', () => {
    expect(explainError(new BerthApiError(405, 'method_not_allowed', 'PUT is not allowed here')).lead).toBe(ERROR_SENTENCES.method_not_allowed);
    expect(explainError(new BerthApiError(415, 'unsupported_media_type', 'send JSON')).lead).toBe(ERROR_SENTENCES.unsupported_media_type);
    expect(explainError(new BerthApiError(416, 'range_not_satisfiable', 'past the end')).lead).toBe(ERROR_SENTENCES.range_not_satisfiable);
  });

  it('adds the request id to an internal error, so the log line can be found', () => {
    const err = new BerthApiError(500, 'internal', 'internal error', undefined, 'req-42');
    expect(explainError(err)).toEqual({ lead: 'Something went wrong on the server.', message: 'internal error (request req-42)' });
  });

  it('names the missing CDI devices when the details list them', () => {
    const err = new BerthApiError(400, 'cdi_unresolvable', 'unresolvable CDI devices nvidia.com/gpu=0, x.com/y=1', { devices: ['x.com/y=1'] });
    expect(explainError(err).lead).toBe('Not declared in this host’s CDI specs: x.com/y=1. No container was made.');
    const bare = new BerthApiError(400, 'cdi_unresolvable', 'unresolvable', { devices: [] });
    expect(explainError(bare).lead).toBe(ERROR_SENTENCES.cdi_unresolvable);
  });

  it('reads an operation’s error event like an API error', () => {
    expect(explainError({ code: 'image_pull_failed', message: 'manifest unknown' })).toEqual({ lead: 'The image could not be downloaded.', message: 'manifest unknown' });
  });

  it('has a general lead for a code it does not know, even one named like an object property', () => {
    expect(explainError(new BerthApiError(418, 'teapot', 'short and stout')).lead).toBe('The request failed.');
    expect(explainError(new BerthApiError(400, 'constructor', 'x')).lead).toBe('The request failed.');
    expect(explainError({ code: '__proto__', message: 'x' }).lead).toBe('The operation failed.');
    expect(sentenceFor('toString')).toBeUndefined();
  });

  it('tells an unreachable server from a form mistake', () => {
    expect(explainError(new TypeError('fetch failed')).lead).toBe('Berth cannot be reached.');
    expect(explainError(new Error('CPUs must be a number, such as 1.5'))).toEqual({ lead: 'Please check what was entered.', message: 'CPUs must be a number, such as 1.5' });
    expect(explainError('odd')).toEqual({ lead: 'Something went wrong.', message: 'odd' });
  });

  it('recognises an API error by its code only', () => {
    const err = new BerthApiError(404, 'container_not_found', 'no container');
    expect(isApiError(err, 'container_not_found')).toBe(true);
    expect(isApiError(err, 'bot_not_found')).toBe(false);
    expect(isApiError({ code: 'container_not_found', message: 'x' }, 'container_not_found')).toBe(false);
  });
});
