import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Pack } from 'tar-stream';

/**
 * A recursive listing of everything under `dir`, one line per entry, sorted: type, mode (with set-uid,
 * set-gid and sticky bits), owner, size and SHA-256 of files, symlink targets, hard-link groups, and
 * with `times` every mtime and the inode of `dir` itself. Two equal listings mean the trees are the
 * same byte for byte as far as a program in the container can tell.
 */
export function listTree(dir: string, options: { times?: boolean } = {}): string[] {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const root = fs.lstatSync(dir);
  if (options.times) lines.push(`. inode=${root.ino} mode=${mode(root)} mtime=${root.mtimeMs}`);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      let line = `${r} ${kind(st)} mode=${mode(st)} owner=${st.uid}:${st.gid}`;
      if (st.isFile()) {
        line += ` size=${st.size} sha256=${createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex')}`;
        if (st.nlink > 1) {
          const first = inodes.get(st.ino);
          if (first === undefined) inodes.set(st.ino, r);
          line += ` links=${st.nlink}${first === undefined ? '' : ` same-as=${first}`}`;
        }
      }
      if (st.isSymbolicLink()) line += ` -> ${fs.readlinkSync(path.join(dir, r))}`;
      if (options.times) line += ` mtime=${st.mtimeMs}`;
      lines.push(line);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return lines;
}

function kind(st: fs.Stats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function mode(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

export type TarEntry = Parameters<Pack['entry']>[0] & { body?: string | Buffer };

/** A tar archive of exactly the entries given, for feeding the importer what a real tool might not make. */
export async function buildTar(entries: TarEntry[], options: { gzip?: boolean; endMarker?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body !== undefined) pack.entry(header, body, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  let out = Buffer.concat(chunks);
  // tar-stream always ends with two zero blocks; cut them to make an archive without an end marker.
  if (options.endMarker === false) out = out.subarray(0, out.length - 1024);
  return options.gzip ? gzipSync(out) : out;
}
