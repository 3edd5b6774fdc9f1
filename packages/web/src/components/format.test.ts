import { describe, expect, it } from 'vitest';
import { formatBytes, formatMib, formatTime, plural } from './format.js';

describe('formatBytes', () => {
  it('shows bytes as they are and larger sizes in powers of 1000', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.0 kB');
    expect(formatBytes(1_400_000)).toBe('1.4 MB');
    expect(formatBytes(25_000_000)).toBe('25 MB');
    expect(formatBytes(3_000_000_000)).toBe('3.0 GB');
  });

  it('stops at TB rather than running out of units', () => {
    expect(formatBytes(5e15)).toBe('5000 TB');
  });

  it('shows a dash for a size that is not known', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('—');
  });
});

describe('formatTime', () => {
  it('shows a time in the given locale and zone', () => {
    expect(formatTime('2026-03-04T05:06:07Z', 'en-GB', { timeZone: 'UTC', dateStyle: 'short', timeStyle: 'medium' })).toBe('04/03/2026, 05:06:07');
  });

  it('shows an unparseable value as it came, and a dash for none', () => {
    expect(formatTime('yesterday')).toBe('yesterday');
    expect(formatTime(null)).toBe('—');
    expect(formatTime('')).toBe('—');
  });
});

describe('formatMib and plural', () => {
  it('groups digits the reader’s way', () => {
    expect(formatMib(2048, 'en-US')).toBe('2,048 MiB');
    expect(formatMib(2048, 'de-DE')).toBe('2.048 MiB');
  });

  it('picks the word by the count', () => {
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(0, 'entry', 'entries')).toBe('0 entries');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });
});
