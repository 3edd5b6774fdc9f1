import { isUtf8 } from 'node:buffer';
import type { DataEncoding } from '@berth/contract';

/** Bytes as JSON carries them: UTF-8 text when they are valid UTF-8, else base64. */
export function encodeBytes(data: Buffer): { text: string; encoding: DataEncoding } {
  return isUtf8(data) ? { text: data.toString('utf8'), encoding: 'utf8' } : { text: data.toString('base64'), encoding: 'base64' };
}

export function decodeText(text: string, encoding: DataEncoding | undefined): Buffer {
  return Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * How many bytes at the end of `data` are the start of a UTF-8 sequence that is cut off (0–3), so
 * that a cut in the middle of a character does not turn valid text into "binary".
 */
export function incompleteUtf8Tail(data: Buffer): number {
  const n = data.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = data[n - back] ?? 0;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for the lead byte
    const need = (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/**
 * Keeps the first `limit` bytes of a stream and counts the rest: the capped output of a buffered
 * exec. `result()` trims a character cut in half by the cap before choosing the encoding.
 */
export class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly limit: number) {}

  push(data: Buffer): void {
    this.total += data.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    const part = data.length <= room ? data : data.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  get bytes(): number {
    return this.total;
  }

  result(): { text: string; encoding: DataEncoding; bytes: number; truncated: boolean } {
    let data = Buffer.concat(this.chunks);
    if (this.truncated) {
      const cut = incompleteUtf8Tail(data);
      if (cut > 0 && isUtf8(data.subarray(0, data.length - cut))) data = data.subarray(0, data.length - cut);
    }
    return { ...encodeBytes(data), bytes: this.total, truncated: this.truncated };
  }
}

/**
 * Encodes a stream's chunks one by one for SSE: a character split between two chunks is held back
 * and sent with the next one, so text stays text; a chunk that is not UTF-8 goes as base64.
 */
export class ChunkEncoder {
  private pending: Buffer = Buffer.alloc(0);

  push(data: Buffer): { data: string; encoding: DataEncoding } | null {
    const all = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    const cut = incompleteUtf8Tail(all);
    const head = all.subarray(0, all.length - cut);
    if (cut > 0 && isUtf8(head)) {
      this.pending = Buffer.from(all.subarray(all.length - cut));
      return head.length > 0 ? { data: head.toString('utf8'), encoding: 'utf8' } : null;
    }
    this.pending = Buffer.alloc(0);
    const { text, encoding } = encodeBytes(all);
    return { data: text, encoding };
  }

  /** Whatever is held back, at the end of the stream. */
  flush(): { data: string; encoding: DataEncoding } | null {
    if (this.pending.length === 0) return null;
    const { text, encoding } = encodeBytes(this.pending);
    this.pending = Buffer.alloc(0);
    return { data: text, encoding };
  }
}
