import { describe, expect, it } from 'vitest';
import { readTextFrame, resizeFrame } from './terminal-frames.js';

describe('readTextFrame', () => {
  it('reads the exit message as the end of the session, in words', () => {
    expect(readTextFrame('{"type":"exit","code":0}')).toEqual({ kind: 'exit', message: 'The shell ended with exit code 0.' });
    expect(readTextFrame('{"type":"exit","code":130}')).toEqual({ kind: 'exit', message: 'The shell ended with exit code 130.' });
    expect(readTextFrame('{"type":"exit","code":null}')).toEqual({ kind: 'exit', message: 'The terminal was closed.' });
    expect(readTextFrame('{"type":"exit","code":null,"reason":"idle"}')).toEqual({ kind: 'exit', message: 'The terminal was closed after a long idle time.' });
  });

  it('shows anything else as output, JSON the shell printed included', () => {
    expect(readTextFrame('ls\r\n')).toEqual({ kind: 'output', text: 'ls\r\n' });
    expect(readTextFrame('{"type":"other"}')).toEqual({ kind: 'output', text: '{"type":"other"}' });
    expect(readTextFrame('{"type":"exit"')).toEqual({ kind: 'output', text: '{"type":"exit"' });
  });
});

describe('resizeFrame', () => {
  it('is the control message the server reads', () => {
    expect(JSON.parse(resizeFrame(120, 40))).toEqual({ type: 'resize', cols: 120, rows: 40 });
  });
});
