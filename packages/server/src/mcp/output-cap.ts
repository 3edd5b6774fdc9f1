import { isUtf8 } from 'node:buffer';
import { incompleteUtf8Tail } from '../core/output-encoding.js';

/**
 * Keeps the first `headLimit` and the last `tailLimit` bytes of a stream and counts the rest: what a
 * command printed, cut to what a model can take in, with its start (what the command said first) and
 * its end (where errors usually are). Memory is bounded by the two limits, and every byte is copied
 * at most twice, however the stream is chunked.
 */
export class HeadTail {
  private readonly head: Buffer;
  private headBytes = 0;
  private readonly ring: Buffer;
  /** Where the next tail byte goes in the ring. */
  private at = 0;
  /** Bytes in the ring (at most its size). */
  private ringBytes = 0;
  private total = 0;

  constructor(headLimit: number, tailLimit: number) {
    this.head = Buffer.alloc(headLimit);
    this.ring = Buffer.alloc(tailLimit);
  }

  push(data: Buffer): void {
    this.total += data.length;
    const room = this.head.length - this.headBytes;
    if (room > 0) {
      const n = Math.min(room, data.length);
      data.copy(this.head, this.headBytes, 0, n);
      this.headBytes += n;
      data = data.subarray(n);
    }
    const size = this.ring.length;
    if (data.length === 0 || size === 0) return;
    if (data.length >= size) data = data.subarray(data.length - size);
    const first = Math.min(data.length, size - this.at);
    data.copy(this.ring, this.at, 0, first);
    data.copy(this.ring, 0, first);
    this.at = (this.at + data.length) % size;
    this.ringBytes = Math.min(size, this.ringBytes + data.length);
  }

  /** Bytes the stream had in all. */
  get bytes(): number {
    return this.total;
  }

  /** The kept start and end, and how many bytes between them were dropped (0: `head` + `tail` is all of it). */
  result(): { head: Buffer; tail: Buffer; omitted: number } {
    const head = this.head.subarray(0, this.headBytes);
    const size = this.ring.length;
    const tail = this.ringBytes < size ? this.ring.subarray(0, this.ringBytes) : Buffer.concat([this.ring.subarray(this.at), this.ring.subarray(0, this.at)]);
    return { head, tail, omitted: this.total - head.length - tail.length };
  }
}

/**
 * A stream's kept bytes as text for the model: all of it, or its start, a line saying how much was
 * left out, and its end. A cut inside a UTF-8 character is moved to the character's edge. Bytes that
 * are not UTF-8 are shown base64-encoded, and the caller says so (`base64`).
 */
export function renderKept(kept: { head: Buffer; tail: Buffer; omitted: number }, name: string): { text: string; base64: boolean } {
  if (kept.omitted === 0) return encode(Buffer.concat([kept.head, kept.tail]));
  const head = kept.head.subarray(0, kept.head.length - incompleteUtf8Tail(kept.head));
  let skip = 0;
  // Continuation bytes at the tail's start belong to a character that began in what was left out.
  while (skip < 3 && skip < kept.tail.length && ((kept.tail[skip] ?? 0) & 0xc0) === 0x80) skip++;
  const tail = kept.tail.subarray(skip);
  const omitted = kept.omitted + (kept.head.length - head.length) + skip;
  const a = encode(head);
  const b = encode(tail);
  const base64 = a.base64 || b.base64;
  const marker = `\n[… ${omitted} bytes of ${name} left out …]\n`;
  if (!base64) return { text: a.text + marker + b.text, base64 };
  return { text: head.toString('base64') + marker + tail.toString('base64'), base64 };
}

function encode(data: Buffer): { text: string; base64: boolean } {
  return isUtf8(data) ? { text: data.toString('utf8'), base64: false } : { text: data.toString('base64'), base64: true };
}
