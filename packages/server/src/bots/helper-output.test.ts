import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import type { ExecOutputChunk } from '../runtime/driver.js';
import { parseListing } from './container-files.js';
import { HelperOutput } from './helper-output.js';
import { CappedBuffer, ChunkEncoder } from './output-encoding.js';
import { parseTail } from './task-scripts.js';
import { tailOutputLimit } from './task-service.js';

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

describe('parseListing on hostile output', () => {
  it('ends on a symlink record without a newline, anywhere in the output', () => {
    expect(parseListing(Buffer.from('L./x/')).entries).toEqual([]);
    const { entries } = parseListing(Buffer.from('81a4 5 1700000000 ./f/\nL./f/'));
    expect(entries.map((e) => e.name)).toEqual(['f']);
  });

  it('skips garbage and times out of range instead of failing', () => {
    const raw = Buffer.from('zz zz zz ./a/\n81a4 1 99999999999999999999 ./b/\n81a4 1 1700000000 ./c/\n\0\0\0 ');
    expect(parseListing(raw).entries.map((e) => e.name)).toEqual(['c']);
  });

  it('answers the first entries by name and says there were more, holding no more than twice that many', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `n${String(999 - i).padStart(4, '0')}`);
    const raw = Buffer.from(names.map((n) => `81a4 1 1700000000 ./${n}/\n`).join(''));
    const { entries, more } = parseListing(raw, 10);
    expect(more).toBe(true);
    expect(entries.map((e) => e.name)).toEqual(names.slice().sort().slice(0, 10));
    expect(parseListing(raw, 1000).more).toBe(false);
  });

  it('keeps a symlink target only for an entry it answers', () => {
    const hex = (s: string) => Buffer.from(`${s}\n`).toString('hex');
    const raw = Buffer.from(`a1ff 4 1700000000 ./b/\na1ff 4 1700000000 ./a/\nL./a/\n${hex('/t/a')}\n.\nL./b/\n${hex('/t/b')}\n.\nL./zz/\n${hex('x')}\n.\n`);
    const { entries } = parseListing(raw, 1);
    expect(entries).toMatchObject([{ name: 'a', linkTarget: '/t/a' }]);
  });
});

describe('task tail output', () => {
  it('keeps at most the bytes asked for of each stream', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const t = parseTail(`size 10 3\n:stdout\n${b64('0123456789')}\n:stderr\n${b64('abc')}\n`, 4);
    expect(t.stdout.toString()).toBe('6789');
    expect(t.stderr.toString()).toBe('abc');
    expect([t.stdoutBytes, t.stderrBytes]).toEqual([10, 3]);
  });

  it('bounds the helper’s output by what base64 makes of the bytes asked for', () => {
    const n = 1024 * 1024;
    const encoded = Buffer.alloc(n).toString('base64').length;
    const lines = Math.ceil(encoded / 76);
    expect(tailOutputLimit(n)).toBeGreaterThanOrEqual(2 * (encoded + lines) + 100);
    expect(tailOutputLimit(n)).toBeLessThan(3 * n + 128 * 1024);
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
