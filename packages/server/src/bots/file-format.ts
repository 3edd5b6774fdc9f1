import type { FileEntry, FileType } from '@berth/contract';
import { AppError } from '../errors.js';

/** What the files API shows of a path, whichever side (container or data dir) read it. */
export interface FileStat {
  type: FileType;
  size: number;
  /** Permission bits (`mode & 0o7777`). */
  perm: number;
  mtime: Date;
}

/** Directory listings stop here; `truncated` says so. */
export const MAX_LIST_ENTRIES = 10_000;

export function typeOfMode(mode: number): FileType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

export function octal(perm: number): string {
  return (perm & 0o7777).toString(8).padStart(4, '0');
}

/** `0644`, `755`, `1777`: octal permission bits as a query gives them. */
export function parseMode(mode: string | undefined): number | undefined {
  if (mode === undefined || mode === '') return undefined;
  if (!/^[0-7]{3,4}$/.test(mode)) throw new AppError('validation_failed', `mode must be octal permission bits such as 0644 (got ${mode})`);
  return Number.parseInt(mode, 8);
}

export function entryOf(name: string, st: FileStat, linkTarget?: string): FileEntry {
  const entry: FileEntry = { name, type: st.type, size: st.size, mode: octal(st.perm), mtime: st.mtime.toISOString() };
  if (linkTarget !== undefined) entry.linkTarget = linkTarget;
  return entry;
}

/** A byte range asked for: from `offset` (negative: that many bytes before the end), `length` bytes or to the end. */
export interface ByteRange {
  offset: number;
  length?: number;
}

/**
 * Parses a `Range` header (one range of bytes: `a-b`, `a-`, `-n`) or the `offset`/`length` query.
 * Several ranges are not supported: the answer is then the whole file, as HTTP allows.
 */
export function parseRange(header: string | undefined, query: { offset?: number; length?: number }): ByteRange | undefined {
  if (query.offset !== undefined || query.length !== undefined) {
    return { offset: query.offset ?? 0, ...(query.length !== undefined && { length: query.length }) };
  }
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) {
    if (/^\s*bytes\s*=.*,/i.test(header)) return undefined;
    throw new AppError('validation_failed', `unsupported Range header: ${header}`);
  }
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') throw new AppError('validation_failed', `unsupported Range header: ${header}`);
  // Past 2^53 a byte position is no longer exact (and no file is that large); refused, not rounded.
  if (!isSafeInteger(a) || !isSafeInteger(b)) throw new AppError('validation_failed', `the Range header's positions are larger than any file can be: ${header.slice(0, 100)}`);
  if (a === '') return { offset: -Number(b) };
  const offset = Number(a);
  if (b === '') return { offset };
  const end = Number(b);
  if (end < offset) throw new AppError('validation_failed', `the Range header ends before it starts: ${header}`);
  return { offset, length: end - offset + 1 };
}

function isSafeInteger(digits: string): boolean {
  return digits === '' || (digits.length <= 16 && Number.isSafeInteger(Number(digits)));
}

/**
 * Where a read starts and how much it answers, given the file's size, the range asked for and the
 * read cap. A range that starts beyond the end is refused; one that runs past it is cut there.
 */
export function planRead(size: number, range: ByteRange | undefined, limit: number): { offset: number; length: number; partial: boolean; truncated: boolean } {
  let offset = range?.offset ?? 0;
  if (offset < 0) offset = Math.max(0, size + offset);
  if (range && offset > 0 && offset >= size) {
    throw new AppError('range_not_satisfiable', `the range starts at byte ${offset}, beyond the end of the file (${size} bytes)`, { details: { size } });
  }
  const wanted = Math.min(range?.length ?? Infinity, Math.max(0, size - offset));
  const length = Math.min(wanted, limit);
  const truncated = length < wanted;
  return { offset, length, partial: range !== undefined || truncated, truncated };
}

/** Exactly one occurrence of `needle` in `text`, counting overlapping ones (so "aa" in "aaa" is ambiguous). */
export function countOccurrences(text: string, needle: string): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
    if (first < 0) first = i;
    count++;
  }
  return { count, first };
}
