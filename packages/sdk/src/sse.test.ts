import { describe, expect, it } from 'vitest';
import { parseSse, SseParser, SseStreamError, type SseFrame } from './sse.js';

function all(parser: SseParser, chunks: string[]): SseFrame[] {
  return chunks.flatMap((c) => parser.push(c));
}

function bodyOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
}

describe('SseParser', () => {
  it('reads frames with event, id and data, and skips comments (heartbeats)', () => {
    const frames = all(new SseParser(), [': heartbeat\n\nevent: phase\nid: 2\ndata: {"phase":"pull"}\n\n', 'data: plain\n\n']);
    expect(frames).toEqual([
      { event: 'phase', id: '2', data: '{"phase":"pull"}' },
      { event: 'message', data: 'plain' },
    ]);
  });

  it('joins data lines, and takes CRLF, CR and LF line ends alike', () => {
    expect(all(new SseParser(), ['data: a\r\ndata: b\r\n\r\n', 'event: x\rdata: c\r\r', 'data:d\n\n'])).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'x', data: 'c' },
      { event: 'message', data: 'd' },
    ]);
  });

  it('gives the same frames whatever the chunks, even split inside a CRLF or one character at a time', () => {
    const text = 'event: stdout\r\nid: 7\r\ndata: {"data":"héllo"}\r\n\r\n: ping\n\nevent: exit\ndata: {}\n\n';
    const whole = all(new SseParser(), [text]);
    expect(whole).toHaveLength(2);
    expect(all(new SseParser(), [...text])).toEqual(whole);
    const cut = text.indexOf('\r\n\r\n') + 1;
    expect(all(new SseParser(), [text.slice(0, cut), text.slice(cut)])).toEqual(whole);
  });

  it('drops a frame with no data, and does not carry an event name into the next frame', () => {
    expect(all(new SseParser(), ['event: lonely\n\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('ends a stream whose frame passes the bound instead of holding it', () => {
    const parser = new SseParser(1000);
    expect(() => parser.push(`data: ${'x'.repeat(2000)}`)).toThrow(SseStreamError);
    const lines = new SseParser(1000);
    expect(() => {
      for (let i = 0; i < 200; i++) lines.push('data: 0123456789\n');
    }).toThrow(SseStreamError);
    // Many frames, each within the bound, are fine however long the stream runs.
    const long = new SseParser(1000);
    let n = 0;
    for (let i = 0; i < 5000; i++) n += long.push('data: 0123456789\n\n').length;
    expect(n).toBe(5000);
  });

  it('stays linear on a huge frame that arrives in small pieces', () => {
    const parser = new SseParser(64 * 1024 * 1024);
    const piece = 'y'.repeat(64);
    parser.push('data: ');
    // 8 MiB in 64-byte pieces: a parser that rescans its buffer per piece would do ~10^12 steps.
    for (let i = 0; i < 131_072; i++) parser.push(piece);
    const [frame] = parser.push('\n\n');
    expect(frame?.data.length).toBe(8 * 1024 * 1024);
  });
});

describe('parseSse', () => {
  it('decodes a byte stream split inside a multi-byte character', async () => {
    const bytes = new TextEncoder().encode('data: é€\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const frames: SseFrame[] = [];
    for await (const f of parseSse(body)) frames.push(f);
    expect(frames).toEqual([{ event: 'message', data: 'é€' }]);
  });

  it('cancels the body when the reader leaves early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const f of parseSse(body)) {
      expect(f.data).toBe('1');
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('reads a whole body', async () => {
    const frames: SseFrame[] = [];
    for await (const f of parseSse(bodyOf(['event: a\ndata: 1\n\nevent: b\n', 'data: 2\n\n']))) frames.push(f);
    expect(frames.map((f) => f.event)).toEqual(['a', 'b']);
  });
});
