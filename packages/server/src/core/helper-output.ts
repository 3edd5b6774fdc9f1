import { outputTooLarge, type ExecOutputChunk } from '../runtime/driver.js';

/** Stderr of a helper kept for the log. */
const STDERR_KEPT = 64 * 1024;
/** Stderr a helper may print at all: ours print a line or two when something fails. */
export const MAX_HELPER_STDERR = 1024 * 1024;

/**
 * Reads the output of one of Berth's helper scripts in a container: lines and bytes of stdout, and
 * stderr set aside (a little kept for messages). The container's programs may have been replaced by
 * the bot, so nothing it prints is trusted: every read has a bound, past which it throws
 * `output_too_large` (the caller then kills the session), and every byte is looked at a bounded
 * number of times, however the output is cut into chunks.
 */
export class HelperOutput {
  private readonly it: AsyncIterator<ExecOutputChunk>;
  /** Stdout read but not yet handed out. */
  private buf: Buffer = Buffer.alloc(0);
  private readonly err: Buffer[] = [];
  private errBytes = 0;
  private done = false;

  constructor(
    output: AsyncIterable<ExecOutputChunk>,
    private readonly what: string,
    private readonly stderrLimit = MAX_HELPER_STDERR,
  ) {
    this.it = output[Symbol.asyncIterator]();
  }

  /** Whether the output has ended (and everything read was handed out). */
  get ended(): boolean {
    return this.done && this.buf.length === 0;
  }

  /** The next stdout chunk, or null at the end; stderr is set aside as it passes. */
  private async next(): Promise<Buffer | null> {
    while (!this.done) {
      const n = await this.it.next();
      if (n.done) {
        this.done = true;
        return null;
      }
      if (n.value.stream === 'stdout') return n.value.data;
      const room = STDERR_KEPT - Math.min(this.errBytes, STDERR_KEPT);
      if (room > 0) this.err.push(n.value.data.subarray(0, room));
      this.errBytes += n.value.data.length;
      if (this.errBytes > this.stderrLimit) throw outputTooLarge(`${this.what} (on stderr)`, this.stderrLimit);
    }
    return null;
  }

  /**
   * The next line of stdout without its newline (the last one may lack it), or null at the end. A
   * line longer than `max` bytes throws.
   */
  async line(max: number): Promise<string | null> {
    const parts: Buffer[] = [];
    let size = 0;
    let chunk: Buffer | null = this.buf;
    this.buf = Buffer.alloc(0);
    while (chunk !== null) {
      const nl = chunk.indexOf(0x0a);
      const end = nl < 0 ? chunk.length : nl;
      size += end;
      if (size > max) throw outputTooLarge(`a line of ${this.what}`, max);
      parts.push(chunk.subarray(0, end));
      if (nl >= 0) {
        this.buf = chunk.subarray(nl + 1);
        return Buffer.concat(parts, size).toString('utf8');
      }
      chunk = await this.next();
    }
    return size > 0 ? Buffer.concat(parts, size).toString('utf8') : null;
  }

  /** The rest of stdout, up to `max` bytes; `cut` when there was more (what is past `max` is left unread). */
  async rest(max: number): Promise<{ raw: Buffer; cut: boolean }> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.chunks()) {
      if (size + chunk.length > max) {
        parts.push(chunk.subarray(0, max - size));
        return { raw: Buffer.concat(parts, max), cut: true };
      }
      parts.push(chunk);
      size += chunk.length;
    }
    return { raw: Buffer.concat(parts, size), cut: false };
  }

  /** Reads to the end, which must come within `max` more bytes of stdout. */
  async end(max: number): Promise<void> {
    let size = 0;
    for await (const chunk of this.chunks()) {
      size += chunk.length;
      if (size > max) throw outputTooLarge(this.what, max);
    }
  }

  /** The rest of stdout as it comes, at most `max` bytes: those are passed on, and one more throws. */
  async *stdout(max: number): AsyncGenerator<Buffer> {
    let size = 0;
    for await (const chunk of this.chunks()) {
      if (size + chunk.length > max) {
        if (size < max) yield chunk.subarray(0, max - size);
        throw outputTooLarge(this.what, max);
      }
      size += chunk.length;
      if (chunk.length > 0) yield chunk;
    }
  }

  stderrText(): string {
    return Buffer.concat(this.err).toString('utf8');
  }

  /** Stdout from here on: what was read ahead, then the rest as it comes. */
  private async *chunks(): AsyncGenerator<Buffer> {
    const ahead = this.buf;
    this.buf = Buffer.alloc(0);
    if (ahead.length > 0) yield ahead;
    for (let chunk = await this.next(); chunk !== null; chunk = await this.next()) yield chunk;
  }
}
