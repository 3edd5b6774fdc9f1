import { describe, expect, it } from 'vitest';
import { parseStatus, parseTail, sameProcess } from './task-scripts.js';
import { tailOutputLimit } from './task-service.js';

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
