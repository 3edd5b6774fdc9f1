import type { FileEntry } from '@berth/contract';

/** Files larger than this open read-only as a notice: a textarea is no place for them. */
export const MAX_EDIT_BYTES = 2 * 1024 * 1024;

/** A name inside a folder; the folder may end in slashes (`/`, `/data/`). */
export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/** The folder above; `/` is its own parent, and a relative path with no folder above is `.`. */
export function parentPath(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  const i = trimmed.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : trimmed.slice(0, i);
}

/** The last part of a path: a download's file name. */
export function baseName(p: string): string {
  return p.replace(/\/+$/, '').split('/').pop() || p;
}

/** Where "New file" writes: a name typed with a leading `/` is a path of its own, else it is in `dir`. */
export function newFilePath(dir: string, typed: string): string {
  return typed.startsWith('/') ? typed : joinPath(dir, typed);
}

/** Folders first, then by name. */
export function sortEntries(entries: readonly FileEntry[]): FileEntry[] {
  return [...entries].sort((a, b) => ((a.type === 'directory') !== (b.type === 'directory') ? (a.type === 'directory' ? -1 : 1) : a.name.localeCompare(b.name)));
}

/** A file's download address: the browser streams it to disk with the session cookie. */
export function fileDownloadHref(botId: string, path: string): string {
  return `/api/v1/bots/${encodeURIComponent(botId)}/files?${new URLSearchParams({ path }).toString()}`;
}

/** The file as text if it is UTF-8, else null: the editor shows only what it can save unchanged. */
export function decodeText(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** After an upload: one file by name, several by count. */
export function uploadedSentence(names: readonly string[], dir: string): string {
  return `Uploaded ${names.length === 1 ? names[0] : `${names.length} files`} to ${dir}.`;
}
