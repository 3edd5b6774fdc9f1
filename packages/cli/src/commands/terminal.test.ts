import { describe, expect, it } from 'vitest';
import { exitCodeOf, resizeMessage } from './terminal.js';

describe('berth shell protocol', () => {
  it('sends the terminal’s size as the server’s resize message, only when known', () => {
    expect(JSON.parse(resizeMessage(120, 40) ?? '')).toEqual({ type: 'resize', cols: 120, rows: 40 });
    expect(JSON.parse(resizeMessage(5000, 2000) ?? '')).toEqual({ type: 'resize', cols: 1000, rows: 1000 });
    // A pipe, or a pseudo-terminal without a size, reports 0 or nothing.
    expect(resizeMessage(0, 0)).toBeNull();
    expect(resizeMessage(undefined, undefined)).toBeNull();
  });

  it('exits with the shell’s code, or 125 when Berth closed the session', () => {
    expect(exitCodeOf({ type: 'exit', code: 7 })).toEqual({ code: 7, note: null });
    expect(exitCodeOf({ type: 'exit', code: 0 })).toEqual({ code: 0, note: null });
    expect(exitCodeOf({ type: 'exit', code: null, reason: 'idle' })).toEqual({ code: 125, note: 'the session was closed by Berth: it was idle too long' });
    expect(exitCodeOf({ type: 'exit', code: null, reason: 'revoked' }).code).toBe(125);
  });
});
