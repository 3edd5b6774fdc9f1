import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { parseListing } from './container-files.js';
import { containerPath, relativeTo } from './container-path.js';
import { countOccurrences, parseMode, parseRange, planRead } from './file-format.js';
import { CappedBuffer, ChunkEncoder, encodeBytes, incompleteUtf8Tail } from './output-encoding.js';
import { parseStatus, parseTail, sameProcess } from './task-scripts.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isAppError(err) ? err.code : 'not an AppError';
  }
};

describe('containerPath', () => {
  it('makes paths absolute from the data dir and resolves . and .. by name', () => {
    expect(containerPath('notes/a.txt', '/data')).toBe('/data/notes/a.txt');
    expect(containerPath('./a/../b//c/', '/data')).toBe('/data/b/c');
    expect(containerPath('../etc/passwd', '/data')).toBe('/etc/passwd');
    expect(containerPath('/', '/data')).toBe('/');
    expect(containerPath('/data/..', '/data')).toBe('/');
  });

  it('refuses a .. above the root, empty paths and NUL bytes', () => {
    expect(code(() => containerPath('../../etc', '/data'))).toBe('path_outside_root');
    expect(code(() => containerPath('/../x', '/data'))).toBe('path_outside_root');
    expect(code(() => containerPath('/a/../../x', '/data'))).toBe('path_outside_root');
    expect(code(() => containerPath('', '/data'))).toBe('validation_failed');
    expect(code(() => containerPath('a\0b', '/data'))).toBe('validation_failed');
    expect(code(() => containerPath(`/${'x'.repeat(5000)}`, '/data'))).toBe('validation_failed');
  });

  it('tells what lies below a root', () => {
    expect(relativeTo('/data', '/data')).toBe('');
    expect(relativeTo('/data', '/data/a/b')).toBe('a/b');
    expect(relativeTo('/data', '/database')).toBeNull();
    expect(relativeTo('/data', '/etc')).toBeNull();
    expect(relativeTo('/', '/etc')).toBe('etc');
  });
});

describe('output encoding', () => {
  it('answers UTF-8 as text and anything else as base64', () => {
    expect(encodeBytes(Buffer.from('h\u00e9 \u2603'))).toEqual({ text: 'h\u00e9 \u2603', encoding: 'utf8' });
    expect(encodeBytes(Buffer.from([0xff, 0x00]))).toEqual({ text: '/wA=', encoding: 'base64' });
  });

  it('finds a character cut at the end', () => {
    const snow = Buffer.from('\u2603'); // 3 bytes
    expect(incompleteUtf8Tail(snow)).toBe(0);
    expect(incompleteUtf8Tail(snow.subarray(0, 2))).toBe(2);
    expect(incompleteUtf8Tail(snow.subarray(0, 1))).toBe(1);
    expect(incompleteUtf8Tail(Buffer.from('abc'))).toBe(0);
  });

  it('caps a stream, counts what it dropped, and keeps text text when the cap cuts a character', () => {
    const c = new CappedBuffer(4);
    c.push(Buffer.from('ab'));
    c.push(Buffer.from('c\u2603d')); // the cap falls inside the snowman
    const r = c.result();
    expect(r).toEqual({ text: 'abc', encoding: 'utf8', bytes: 7, truncated: true });
    const whole = new CappedBuffer(100);
    whole.push(Buffer.from('all'));
    expect(whole.result()).toEqual({ text: 'all', encoding: 'utf8', bytes: 3, truncated: false });
  });

  it('holds back a character split between chunks and sends it with the next', () => {
    const e = new ChunkEncoder();
    const snow = Buffer.from('x\u2603y');
    expect(e.push(snow.subarray(0, 2))).toEqual({ data: 'x', encoding: 'utf8' });
    expect(e.push(snow.subarray(2, 3))).toBeNull();
    expect(e.push(snow.subarray(3))).toEqual({ data: '\u2603y', encoding: 'utf8' });
    expect(e.push(Buffer.from([0xff]))).toEqual({ data: '/w==', encoding: 'base64' });
    expect(e.push(Buffer.from([0xe2]))).toBeNull();
    expect(e.flush()).toEqual({ data: '4g==', encoding: 'base64' });
  });
});

describe('file ranges, modes and edits', () => {
  it('parses one byte range, or offset/length', () => {
    expect(parseRange('bytes=2-5', {})).toEqual({ offset: 2, length: 4 });
    expect(parseRange('bytes=7-', {})).toEqual({ offset: 7 });
    expect(parseRange('bytes=-3', {})).toEqual({ offset: -3 });
    expect(parseRange(undefined, {})).toBeUndefined();
    expect(parseRange('bytes=0-1,4-5', {})).toBeUndefined();
    expect(code(() => parseRange('bytes=9-1', {}))).toBe('validation_failed');
    expect(code(() => parseRange('lines=1-2', {}))).toBe('validation_failed');
    expect(parseRange('bytes=2-5', { offset: 1 })).toEqual({ offset: 1 });
    expect(parseRange(undefined, { offset: 1, length: 2 })).toEqual({ offset: 1, length: 2 });
  });

  it('plans a read within the size and the cap', () => {
    expect(planRead(10, undefined, 100)).toEqual({ offset: 0, length: 10, partial: false, truncated: false });
    expect(planRead(10, { offset: 2, length: 4 }, 100)).toEqual({ offset: 2, length: 4, partial: true, truncated: false });
    expect(planRead(10, { offset: -3 }, 100)).toEqual({ offset: 7, length: 3, partial: true, truncated: false });
    expect(planRead(10, { offset: 5, length: 100 }, 100)).toEqual({ offset: 5, length: 5, partial: true, truncated: false });
    expect(planRead(5000, undefined, 1000)).toEqual({ offset: 0, length: 1000, partial: true, truncated: true });
    expect(planRead(0, undefined, 1000)).toEqual({ offset: 0, length: 0, partial: false, truncated: false });
    expect(code(() => planRead(10, { offset: 10 }, 100))).toBe('range_not_satisfiable');
  });

  it('reads octal modes', () => {
    expect(parseMode('0644')).toBe(0o644);
    expect(parseMode('755')).toBe(0o755);
    expect(parseMode(undefined)).toBeUndefined();
    expect(code(() => parseMode('rw-r--r--'))).toBe('validation_failed');
    expect(code(() => parseMode('0999'))).toBe('validation_failed');
  });

  it('counts overlapping occurrences, so an ambiguous edit is refused', () => {
    expect(countOccurrences('x = 1\nx = 1\n', 'x = 1')).toEqual({ count: 2, first: 0 });
    expect(countOccurrences('aaa', 'aa')).toEqual({ count: 2, first: 0 });
    expect(countOccurrences('abc', 'z')).toEqual({ count: 0, first: -1 });
    expect(countOccurrences('abc', 'c')).toEqual({ count: 1, first: 2 });
  });
});

describe('parseListing', () => {
  it('reads stat records and symlink targets, names with spaces and newlines included', () => {
    const hex = (s: string) => Buffer.from(`${s}\n`).toString('hex').replace(/(..)/g, ' $1');
    const raw = Buffer.concat([
      Buffer.from('81a4 5 1700000000 ./file/\n'),
      Buffer.from('41ed 4096 1700000001 ./sub dir/\n'),
      Buffer.from('a1ff 4 1700000002 ./lnk/\n'),
      Buffer.from('81a4 1 1700000003 ./we\nird/\n'),
      Buffer.from(`L./lnk/\n${hex('/etc/a b\nc')}\n.\n`),
    ]);
    const { entries, more } = parseListing(raw);
    expect(more).toBe(false);
    expect(entries.map((e) => e.name)).toEqual(['file', 'lnk', 'sub dir', 'we\nird']);
    expect(entries[0]).toEqual({ name: 'file', type: 'file', size: 5, mode: '0644', mtime: new Date(1700000000_000).toISOString() });
    expect(entries[1]).toMatchObject({ type: 'symlink', linkTarget: '/etc/a b\nc', mode: '0777' });
    expect(entries[2]).toMatchObject({ type: 'directory', mode: '0755' });
  });
});

describe('task scripts output', () => {
  const stat = (pid: number, start: number, comm = 'sh') => `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${start} 2387968 348 18446744073709551615`;

  it('knows a process by pid and start time, even with spaces in its name', () => {
    expect(sameProcess(stat(10, 500), stat(10, 500, 'a b) c'))).toBe(true);
    expect(sameProcess(stat(10, 500), stat(10, 501))).toBe(false);
    expect(sameProcess(stat(10, 500), stat(11, 500))).toBe(false);
  });

  it('parses each task’s state', () => {
    const text = [
      'task task_a',
      'exit 7 1700000000',
      `monitor ${stat(20, 900)}`,
      'task task_b',
      `monitor ${stat(21, 901)}`,
      `now ${stat(21, 901)}`,
      'task task_c',
      `monitor ${stat(22, 902)}`,
      `now ${stat(22, 999)}`,
      'timedout',
      'task task_d',
      'missing',
      '',
    ].join('\n');
    expect(parseStatus(text)).toEqual([
      { id: 'task_a', missing: false, exit: { code: 7, finishedAt: new Date(1700000000_000).toISOString() }, timedOut: false, monitorAlive: false },
      { id: 'task_b', missing: false, exit: null, timedOut: false, monitorAlive: true },
      { id: 'task_c', missing: false, exit: null, timedOut: true, monitorAlive: false },
      { id: 'task_d', missing: true, exit: null, timedOut: false, monitorAlive: false },
    ]);
  });

  it('parses output tails and sizes', () => {
    const text = `size 16 5\n:stdout\n${Buffer.from('begin\ngot input\n').toString('base64')}\n:stderr\n${Buffer.from([0xff, 0x0a]).toString('base64')}\n`;
    const t = parseTail(text);
    expect(t.stdout.toString()).toBe('begin\ngot input\n');
    expect([...t.stderr]).toEqual([0xff, 0x0a]);
    expect([t.stdoutBytes, t.stderrBytes]).toEqual([16, 5]);
  });
});
