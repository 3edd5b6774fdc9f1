import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import type { ExecOutputChunk } from '../runtime/driver.js';
import { HelperOutput } from './helper-output.js';
import { CappedBuffer, ChunkEncoder } from './output-encoding.js';

/** The output as the engine might cut it: in one chunk, or one byte at a time. */
const cuts = {
  'in one chunk': (data: Buffer) => [data],
  'byte by byte': (data: Buffer) => [...data].map((b) => Buffer.from([b])),
};

async function* stream(parts: { stream: 'stdout' | 'stderr'; data: Buffer }[]): AsyncGenerator<ExecOutputChunk> {
  for (const p of parts) yield p;
}

const stdout = (data: Buffer, cut: (d: Buffer) => Buffer[]) => stream(cut(data).map((d) => ({ stream: 'stdout' as const, data: d })));

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

const tooLarge = (err: unknown) => isAppError(err, 'output_too_large');

describe.each(Object.entries(cuts))('HelperOutput, output %s', (_name, cut) => {
  it('reads lines, then the bytes after them', async () => {
    const out = new HelperOutput(stdout(Buffer.from('F 5 81a4 1700000000 0\nhello\nrest'), cut), 'test');
    expect(await out.line(100)).toBe('F 5 81a4 1700000000 0');
    expect(await out.line(100)).toBe('hello');
    expect(await collect(out.stdout(4))).toEqual(Buffer.from('rest'));
    expect(await out.line(100)).toBeNull();
    expect(out.ended).toBe(true);
  });

  it('answers a last line without a newline, and null at the end', async () => {
    const out = new HelperOutput(stdout(Buffer.from('a\nb'), cut), 'test');
    expect([await out.line(10), await out.line(10), await out.line(10)]).toEqual(['a', 'b', null]);
  });

  it('refuses a line longer than its bound, with or without a newline', async () => {
    await expect(new HelperOutput(stdout(Buffer.from(`${'x'.repeat(11)}\n`), cut), 'test').line(10)).rejects.toSatisfy(tooLarge);
    await expect(new HelperOutput(stdout(Buffer.from('x'.repeat(11)), cut), 'test').line(10)).rejects.toSatisfy(tooLarge);
    expect(await new HelperOutput(stdout(Buffer.from(`${'x'.repeat(10)}\n`), cut), 'test').line(10)).toBe('x'.repeat(10));
  });

  it('passes on at most the bytes asked for: one more is refused', async () => {
    expect(await collect(new HelperOutput(stdout(Buffer.from('h\n0123456789'), cut), 'test').stdout(12))).toEqual(Buffer.from('h\n0123456789'));
    await expect(collect(new HelperOutput(stdout(Buffer.from('h\n0123456789'), cut), 'test').stdout(11))).rejects.toSatisfy(tooLarge);
  });

  it('cuts the rest at its bound and says so; expects the end within its bound', async () => {
    const data = Buffer.from('D\n0123456789');
    const a = new HelperOutput(stdout(data, cut), 'test');
    await a.line(10);
    expect(await a.rest(4)).toEqual({ raw: Buffer.from('0123'), cut: true });
    const b = new HelperOutput(stdout(data, cut), 'test');
    await b.line(10);
    expect(await b.rest(10)).toEqual({ raw: Buffer.from('0123456789'), cut: false });
    const c = new HelperOutput(stdout(data, cut), 'test');
    await c.line(10);
    await expect(c.end(9)).rejects.toSatisfy(tooLarge);
  });

  it('keeps a little stderr for messages and refuses a flood of it', async () => {
    const err = (data: Buffer) => cut(data).map((d) => ({ stream: 'stderr' as const, data: d }));
    const quiet = new HelperOutput(stream([...err(Buffer.from('no such file\n')), { stream: 'stdout', data: Buffer.from('ok\n') }]), 'test', 100);
    expect(await quiet.line(10)).toBe('ok');
    expect(quiet.stderrText()).toBe('no such file\n');
    const loud = new HelperOutput(stream(err(Buffer.alloc(101, 0x41))), 'test', 100);
    await expect(loud.line(10)).rejects.toSatisfy(tooLarge);
  });
});

describe('HelperOutput cost', () => {
  it('finds a line in many small chunks without going over the bytes again', async () => {
    // 256 KiB in 1-byte chunks: gathering them again on every chunk would copy 32 GiB.
    const n = 256 * 1024;
    let served = 0;
    async function* drip(): AsyncGenerator<ExecOutputChunk> {
      const one = Buffer.from('a');
      for (let i = 0; i < n; i++) {
        served++;
        yield { stream: 'stdout', data: one };
      }
      yield { stream: 'stdout', data: Buffer.from('\n') };
    }
    const out = new HelperOutput(drip(), 'test');
    await expect(out.line(4096)).rejects.toSatisfy(tooLarge);
    // It stopped reading right at the bound.
    expect(served).toBe(4097);
    expect((await new HelperOutput(drip(), 'test').line(n))?.length).toBe(n);
  });
});

describe.each(Object.entries(cuts))('exec output kept in memory, %s', (_name, cut) => {
  const text = Buffer.from('h\u00e9llo \u2603 w\u00f6rld, '.repeat(50));

  it('keeps the first bytes up to the cap and counts the rest', () => {
    const c = new CappedBuffer(100);
    for (const part of cut(text)) c.push(part);
    const r = c.result();
    expect(r).toMatchObject({ encoding: 'utf8', bytes: text.length, truncated: true });
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(100);
    expect(text.toString().startsWith(r.text)).toBe(true);
  });

  it('streams text as text, holding back no more than a cut character', () => {
    const e = new ChunkEncoder();
    let out = '';
    for (const part of cut(text)) {
      const r = e.push(part);
      if (r) {
        expect(r.encoding).toBe('utf8');
        out += r.data;
      }
    }
    expect(e.flush()).toBeNull();
    expect(out).toBe(text.toString());
  });
});
