import { describe, expect, it } from 'vitest';
import { importedSentence } from './data-text.js';

describe('importedSentence', () => {
  it('says how many entries and bytes came from which archive', () => {
    expect(importedSentence({ files: 1, bytes: 512 }, 'one.tar.gz')).toBe('Imported 1 entry (512 B) from one.tar.gz.');
    expect(importedSentence({ files: 12, bytes: 1_400_000 }, 'all.tar')).toBe('Imported 12 entries (1.4 MB) from all.tar.');
  });
});
