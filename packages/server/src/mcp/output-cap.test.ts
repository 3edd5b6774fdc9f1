import { describe, expect, it } from 'vitest';
import { HeadTail, renderKept } from './output-cap.js';

describe('HeadTail', () => {
  it('keeps everything while it fits', () => {
    const k = new HeadTail(4, 4);
    k.push(Buffer.from('abc'));
    k.push(Buffer.from('def'));
    expect(k.bytes).toBe(6);
    expect(renderKept(k.result(), 'stdout')).toEqual({ text: 'abcdef', base64: false });
  });

  it('keeps the start and the end, however the stream is chunked, and says how much was left out', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
    for (const size of [1, 3, 7, 64, 999, 1000]) {
      const k = new HeadTail(10, 20);
      for (let i = 0; i < data.length; i += size) k.push(data.subarray(i, i + size));
      const r = k.result();
      expect(r.head.toString()).toBe(data.subarray(0, 10).toString());
      expect(r.tail.toString()).toBe(data.subarray(980).toString());
      expect(r.omitted).toBe(970);
      expect(renderKept(r, 'stdout').text).toBe(`${data.subarray(0, 10).toString()}\n[… 970 bytes of stdout left out …]\n${data.subarray(980).toString()}`);
    }
  });

  it('moves a cut inside a character to its edge, so text stays text', () => {
    const k = new HeadTail(4, 4);
    // "é" is two bytes: the head ends inside one, the tail starts inside another.
    k.push(Buffer.from('abcé-----éxyz'));
    const shown = renderKept(k.result(), 'stdout');
    expect(shown.base64).toBe(false);
    expect(shown.text).toBe('abc\n[… 9 bytes of stdout left out …]\nxyz');
  });

  it('shows bytes that are not UTF-8 as base64', () => {
    const k = new HeadTail(2, 2);
    k.push(Buffer.from([0xff, 0xfe, 1, 2, 3, 0xff]));
    const shown = renderKept(k.result(), 'stderr');
    expect(shown.base64).toBe(true);
    expect(shown.text).toBe(`${Buffer.from([0xff, 0xfe]).toString('base64')}\n[… 2 bytes of stderr left out …]\n${Buffer.from([3, 0xff]).toString('base64')}`);
  });
});
