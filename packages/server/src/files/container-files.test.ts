import { describe, expect, it } from 'vitest';
import { parseListing } from './container-files.js';

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
