import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { LIMITS, numberOrWordOption, parseNumber } from './numbers.js';

describe('parseNumber', () => {
  it('reads decimals and whole numbers as typed', () => {
    expect(parseNumber('1.5')).toBe(1.5);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber(' 42 ')).toBe(42);
    expect(parseNumber('2048', { integer: true })).toBe(2048);
  });

  it.each(['abc', '', ' ', '1e3', '0x10', '10G', '1,5', 'NaN', 'Infinity', '--1', '1.2.3'])('refuses %j', (text) => {
    expect(() => parseNumber(text)).toThrow(InvalidArgumentError);
    expect(() => parseNumber(text)).toThrow('expected a number');
  });

  it('refuses fractions where a whole number is needed, and unsafe integers', () => {
    expect(() => parseNumber('1.5', { integer: true })).toThrow('expected a whole number');
    expect(() => parseNumber('99999999999999999999', { integer: true })).toThrow('expected a whole number');
  });

  it('checks the bounds the API enforces', () => {
    expect(() => parseNumber('0', LIMITS.cpus)).toThrow('must be at least 0.01');
    expect(() => parseNumber('2000', LIMITS.cpus)).toThrow('must be at most 1024');
    expect(() => parseNumber('0', LIMITS.execTimeout)).toThrow('must be more than 0');
    expect(() => parseNumber('-1', LIMITS.stopTimeout)).toThrow('must be at least 0');
    expect(() => parseNumber('5', LIMITS.memoryMb)).toThrow('must be at least 6');
    expect(parseNumber('0', LIMITS.stopTimeout)).toBe(0);
    expect(parseNumber('0.5', LIMITS.execTimeout)).toBe(0.5);
  });

  it('takes one word in place of a number when told', () => {
    const disk = numberOrWordOption('none', LIMITS.diskLimitMb);
    expect(disk('none')).toBe('none');
    expect(disk('64')).toBe(64);
    expect(() => disk('1.5')).toThrow('expected a whole number, or "none"');
    expect(() => disk('0')).toThrow('must be at least 1');
  });
});
