import { describe, expect, it } from 'vitest';
import type { FileEntry } from '@berth/contract';
import { baseName, decodeText, fileDownloadHref, joinPath, newFilePath, parentPath, sortEntries, uploadedSentence } from './file-paths.js';

const entry = (name: string, type: FileEntry['type']): FileEntry => ({ name, type, size: 0, mode: '0644', mtime: '2026-01-01T00:00:00Z' });

describe('paths in the Files tab', () => {
  it('joins a name to a folder, with or without trailing slashes', () => {
    expect(joinPath('/data', 'a.txt')).toBe('/data/a.txt');
    expect(joinPath('/data//', 'a.txt')).toBe('/data/a.txt');
    expect(joinPath('/', 'etc')).toBe('/etc');
  });

  it('goes up one folder, stopping at the root', () => {
    expect(parentPath('/data/notes/a')).toBe('/data/notes');
    expect(parentPath('/data/')).toBe('/');
    expect(parentPath('/data')).toBe('/');
    expect(parentPath('/')).toBe('/');
    expect(parentPath('data/x')).toBe('data');
    expect(parentPath('data')).toBe('.');
  });

  it('writes a new file in the open folder unless its name is a path from the root', () => {
    expect(newFilePath('/data', 'notes.txt')).toBe('/data/notes.txt');
    expect(newFilePath('/data', 'sub/notes.txt')).toBe('/data/sub/notes.txt');
    expect(newFilePath('/data', '/tmp/x')).toBe('/tmp/x');
  });

  it('names a download after the file', () => {
    expect(baseName('/data/report.csv')).toBe('report.csv');
    expect(baseName('report.csv')).toBe('report.csv');
  });

  it('addresses a download with the path encoded, whatever it contains', () => {
    const href = fileDownloadHref('bot 1', '/data/a&b=c #1.txt');
    expect(href.startsWith('/api/v1/bots/bot%201/files?')).toBe(true);
    expect(new URL(href, 'http://x').searchParams.get('path')).toBe('/data/a&b=c #1.txt');
  });
});

describe('sortEntries', () => {
  it('lists folders first, then by name, without changing the listing it was given', () => {
    const entries = [entry('b.txt', 'file'), entry('z', 'directory'), entry('a.txt', 'file'), entry('link', 'symlink'), entry('a', 'directory')];
    expect(sortEntries(entries).map((e) => e.name)).toEqual(['a', 'z', 'a.txt', 'b.txt', 'link']);
    expect(entries[0]?.name).toBe('b.txt');
  });
});

describe('decodeText', () => {
  it('opens UTF-8 text, keeping a byte order mark so that saving writes the file back unchanged', () => {
    expect(decodeText(new TextEncoder().encode('héllo\n'))).toBe('héllo\n');
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
    const text = decodeText(withBom);
    expect(text).toBe('\uFEFFa');
    expect(new TextEncoder().encode(text ?? '')).toEqual(withBom);
  });

  it('refuses bytes that are not UTF-8: editing them would corrupt the file', () => {
    expect(decodeText(new Uint8Array([0xff, 0xfe, 0x00]))).toBeNull();
    expect(decodeText(new Uint8Array([0x61, 0xc3]))).toBeNull();
  });

  it('opens an empty file as empty text', () => {
    expect(decodeText(new Uint8Array())).toBe('');
  });
});

describe('uploadedSentence', () => {
  it('names one file, counts several', () => {
    expect(uploadedSentence(['a.txt'], '/data')).toBe('Uploaded a.txt to /data.');
    expect(uploadedSentence(['a', 'b', 'c'], '/data')).toBe('Uploaded 3 files to /data.');
  });
});
