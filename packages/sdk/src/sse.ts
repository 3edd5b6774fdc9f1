/** One server-sent event: its name (`message` when the frame names none), its `id:` if it had one, and its data lines joined. */
export interface SseFrame {
  event: string;
  id?: string;
  data: string;
}

/**
 * The most characters one frame (its data lines together, or any one line) may hold. The largest
 * frames Berth sends are exec output chunks, far below this; a stream that passes it is not Berth's,
 * or is broken, and is ended rather than buffered without end.
 */
export const DEFAULT_MAX_FRAME_CHARS = 16 * 1024 * 1024;

/** A stream that is not the server-sent events it claims to be (a frame past its bound). */
export class SseStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SseStreamError';
  }
}

const LF = 10;
const CR = 13;

/**
 * An incremental `text/event-stream` parser (the WHATWG rules: lines end in CRLF, LF or CR; a blank
 * line ends a frame; `:` lines are comments such as heartbeats; frames without data are dropped).
 * Each character is looked at once, whatever sizes the chunks come in, and what it holds between
 * frames is bounded by `maxFrameChars`.
 */
export class SseParser {
  private line = '';
  private skipLf = false;
  private event = '';
  private id: string | undefined;
  private data: string[] = [];
  private dataChars = 0;

  constructor(private readonly maxFrameChars = DEFAULT_MAX_FRAME_CHARS) {}

  /** Feeds decoded text; answers the frames it completed. */
  push(text: string): SseFrame[] {
    const frames: SseFrame[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.skipLf) {
        this.skipLf = false;
        if (c === LF) {
          start = i + 1;
          continue;
        }
      }
      if (c !== LF && c !== CR) continue;
      const line = this.line + text.slice(start, i);
      this.line = '';
      start = i + 1;
      if (c === CR) this.skipLf = true;
      this.takeLine(line, frames);
    }
    this.line += text.slice(start);
    if (this.line.length + this.dataChars > this.maxFrameChars) throw new SseStreamError(`an event-stream frame passed ${this.maxFrameChars} characters`);
    return frames;
  }

  private takeLine(line: string, frames: SseFrame[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        frames.push({ event: this.event || 'message', ...(this.id !== undefined && { id: this.id }), data: this.data.join('\n') });
      }
      this.event = '';
      this.id = undefined;
      this.data = [];
      this.dataChars = 0;
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
    else if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
      if (this.dataChars > this.maxFrameChars) throw new SseStreamError(`an event-stream frame passed ${this.maxFrameChars} characters`);
    }
  }
}

/** Reads a `text/event-stream` body frame by frame; ending the loop early cancels the body. */
export async function* parseSse(body: ReadableStream<Uint8Array>, options: { maxFrameChars?: number } = {}): AsyncGenerator<SseFrame> {
  const parser = new SseParser(options.maxFrameChars);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
