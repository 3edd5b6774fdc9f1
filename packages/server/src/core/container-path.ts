import { AppError } from '../errors.js';

const MAX_PATH = 4096;
/** Linux's NAME_MAX: longer names fail in the kernel (ENAMETOOLONG), so they are refused up front. */
const MAX_NAME_BYTES = 255;

/**
 * A path the files and exec APIs are given, made absolute inside the container: relative paths are
 * taken from `cwd` (the data dir), `.` and `..` are resolved by name. A `..` that would climb above
 * the container's root is refused with `path_outside_root` rather than clamped, so that a request
 * never means something other than what it says. Symlinks are resolved later, inside the container
 * (or, for a stopped one, in the data dir, see data-dir-files.ts).
 */
export function containerPath(input: string, cwd: string): string {
  if (input.length === 0) throw new AppError('validation_failed', { reason: 'the path is empty' });
  if (input.includes('\0')) throw new AppError('validation_failed', { reason: 'the path contains a NUL byte' });
  if (input.length > MAX_PATH) throw new AppError('validation_failed', { reason: `the path is longer than ${MAX_PATH} characters` });
  const parts: string[] = [];
  const joined = input.startsWith('/') ? input : `${cwd}/${input}`;
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new AppError('path_outside_root', { path: input, root: "the container's root" }, { details: { path: input } });
      parts.pop();
      continue;
    }
    if (Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES) {
      throw new AppError('validation_failed', { reason: `a name in the path is longer than ${MAX_NAME_BYTES} bytes` }, { details: { path: input, maxNameBytes: MAX_NAME_BYTES } });
    }
    parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** The path below `root` (`''` for the root itself), or null when `path` is not inside it. Both normalised. */
export function relativeTo(root: string, path: string): string | null {
  if (root === '/') return path.slice(1);
  if (path === root) return '';
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : null;
}
