import { describe, expect, it } from 'vitest';
import { parseResponseHeaders, uploadProgress } from './upload.js';

describe('parseResponseHeaders', () => {
  it('reads the name: value lines of an XMLHttpRequest answer', () => {
    const headers = parseResponseHeaders('content-type: application/json\r\nx-berth-size: 12\r\nset-cookie: a=b; Path=/\r\nx-note: a: b\r\n');
    expect(headers.get('Content-Type')).toBe('application/json');
    expect(headers.get('x-berth-size')).toBe('12');
    expect(headers.get('x-note')).toBe('a: b');
  });

  it('joins repeated names and skips lines it cannot read', () => {
    const headers = parseResponseHeaders('vary: a\nvary: b\n: no name\nnot a header\nbad name: x\n\n');
    expect(headers.get('vary')).toBe('a, b');
    expect([...headers.keys()]).toEqual(['vary']);
  });

  it('gives no headers for an empty answer', () => {
    expect([...parseResponseHeaders('').keys()]).toEqual([]);
  });
});

describe('uploadProgress', () => {
  it('uses the file’s size when the browser does not know the total', () => {
    expect(uploadProgress(10, 0, 100)).toEqual({ sent: 10, total: 100 });
    expect(uploadProgress(10, 120, 100)).toEqual({ sent: 10, total: 120 });
  });
});
