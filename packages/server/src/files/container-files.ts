import { randomBytes } from 'node:crypto';
import type { FileEntry } from '@berth/contract';
import { AppError, isAppError } from '../errors.js';
import type { ExecSession, RuntimeDriver } from '../runtime/driver.js';
import { type ByteRange, type FileStat, MAX_LIST_ENTRIES, entryOf, typeOfMode } from './file-format.js';
import { HelperOutput } from '../core/helper-output.js';
import { PAUSE_WAIT_MS, waitWhilePaused } from '../core/pause-wait.js';

/**
 * The files API inside a running container: every operation is one exec of a small POSIX `sh`
 * script (busybox and coreutils alike), so paths are resolved by the container's own kernel, in
 * the container's own mount namespace and root. A `..` or a symlink, absolute or relative, can lead
 * anywhere inside the container and nowhere outside it: the host's files are simply not there. The
 * files API thereby has exactly the reach the bot has through exec, no more.
 *
 * Exit codes of the script say what went wrong; its messages are in stderr, which reaches the log
 * (as the error's cause) but never the client.
 */
const FILES_SCRIPT = `op=$1; shift
case "$op" in
read)
  p=$1; off=$2; len=$3
  [ -e "$p" ] || exit 3
  if [ -d "$p" ]; then
    cd -- "$p" || exit 9
    printf 'D\\n'
    find . -mindepth 1 -maxdepth 1 -exec sh -c '
      stat -c "%f %s %Y %n/" -- "$@"
      for f; do if [ -L "$f" ]; then printf "L%s/\\n" "$f"; readlink -- "$f" | od -An -tx1 -v; printf ".\\n"; fi; done
    ' berth-ls {} +
    exit 0
  fi
  [ -f "$p" ] || exit 8
  set -- $(stat -L -c '%s %f %Y' -- "$p")
  s=$1
  if [ "$off" -lt 0 ]; then off=$((s + off)); [ "$off" -ge 0 ] || off=0; fi
  printf 'F %s %s %s %s\\n' "$1" "$2" "$3" "$off"
  if [ "$off" -gt 0 ]; then tail -c +"$((off + 1))" -- "$p"; else cat -- "$p"; fi | head -c "$len"
  ;;
write)
  p=$1; m=$2
  d=\${p%/*}; [ -n "$d" ] || d=/
  # Refused before the upload is read: it is read to its end all the same, so the engine never
  # sees its stdin closed under a write (which it may answer by dropping the whole session).
  if [ -d "$p" ] && [ ! -L "$p" ]; then cat >/dev/null; exit 4; fi
  mkdir -p -- "$d" 2>/dev/null || [ -d "$d" ] || { cat >/dev/null; exit 5; }
  t="$d/.berth-upload-$3"
  cat >"$t" || { rm -f -- "$t"; exit 1; }
  s=$(stat -c %s -- "$t") && [ "$s" -ge 16 ] && [ "$(tail -c 16 -- "$t")" = "$4" ] &&
    dd if=/dev/null of="$t" bs=1 seek=$((s - 16)) 2>/dev/null || { rm -f -- "$t"; exit 1; }
  if [ -n "$m" ]; then chmod "$m" "$t"; elif [ -e "$p" ]; then chmod "$(stat -L -c %a -- "$p")" "$t"; fi
  mv -fT -- "$t" "$p" || { rm -f -- "$t"; exit 1; }
  stat -c '%f %s %Y' -- "$p"
  ;;
rm)
  p=$1; r=$2
  [ -e "$p" ] || [ -L "$p" ] || exit 3
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    if [ "$r" = 1 ]; then rm -rf -- "$p" || exit 1; else rmdir -- "$p" 2>/dev/null || exit 7; fi
  else
    rm -f -- "$p" || exit 1
  fi
  ;;
mv)
  f=$1; t=$2; o=$3
  [ -e "$f" ] || [ -L "$f" ] || exit 3
  if [ -e "$t" ] || [ -L "$t" ]; then [ "$o" = 1 ] || exit 6; fi
  if [ -d "$t" ] && [ ! -L "$t" ] && { [ ! -d "$f" ] || [ -L "$f" ]; }; then exit 4; fi
  d=\${t%/*}; [ -n "$d" ] || d=/
  mkdir -p -- "$d" 2>/dev/null || [ -d "$d" ] || exit 5
  mv -fT -- "$f" "$t" || exit 1
  stat -c '%f %s %Y' -- "$t"
  ;;
mkdir)
  p=$1
  if { [ -e "$p" ] || [ -L "$p" ]; } && [ ! -d "$p" ]; then exit 10; fi
  mkdir -p -- "$p" 2>/dev/null || [ -d "$p" ] || exit 5
  stat -L -c '%f %s %Y' -- "$p"
  ;;
find)
  p=$1; n=$2; m=$3
  [ -e "$p" ] || exit 3
  [ -d "$p" ] || exit 11
  cd -- "$p" || exit 9
  # Paths end with NUL (a name may hold a newline); the walk never follows a symlink.
  set -- . -mindepth 1
  if [ -n "$m" ]; then set -- "$@" -maxdepth "$m"; fi
  if [ -n "$n" ]; then set -- "$@" -name "$n"; fi
  find "$@" -print0 2>/dev/null
  exit 0
  ;;
*) exit 2 ;;
esac`;

/** A file opened for reading: what it is, then its bytes as they stream. */
export interface OpenedFile {
  stat: FileStat;
  /** Where the bytes start (a suffix range resolved against the size). */
  offset: number;
  body: AsyncIterable<Buffer>;
  /** Stops the read early (the client went away). */
  cancel(): Promise<void>;
}

export type ReadResult = { kind: 'file'; file: OpenedFile } | { kind: 'directory'; entries: FileEntry[]; truncated: boolean };

/** Most bytes a listing's raw output may take before it is cut (and called truncated). */
const MAX_LIST_OUTPUT = 16 * 1024 * 1024;
/** Longer than any path a `find` prints (PATH_MAX is 4096 bytes). */
const MAX_FOUND_PATH = 64 * 1024;
/** The longest answer line the script prints (`F …` before a file's bytes, a stat line): numbers and a letter. */
const MAX_ANSWER_LINE = 4096;

export class ContainerFiles {
  constructor(
    private readonly driver: RuntimeDriver,
    private readonly containerId: string,
    private readonly options: { botId?: string; pauseWaitMs?: number } = {},
  ) {}

  /**
   * A file's bytes from `range` (at most `length`, which the caller caps), or a directory's
   * listing. A symlink is followed, as `cat` and `ls` would. The script's answer is read with
   * bounds (helper-output.ts): past one, or when the answer makes no sense, the script is killed.
   */
  async read(path: string, range: ByteRange, length: number): Promise<ReadResult> {
    const s = await this.run(['read', path, String(range.offset), String(length)]);
    const out = new HelperOutput(s.output, 'the files helper');
    let opened: OpenedFile;
    try {
      const head = await out.line(MAX_ANSWER_LINE);
      if (head === null || head.length === 0) {
        await out.end(MAX_ANSWER_LINE);
        throw await this.failure(s, out, path);
      }
      if (head === 'D') {
        const { raw, cut } = await out.rest(MAX_LIST_OUTPUT);
        if (cut) await s.kill();
        else await this.checkExit(s, out, path);
        const { entries, more } = parseListing(raw);
        return { kind: 'directory', entries, truncated: cut || more };
      }
      const m = /^F (\d{1,16}) ([0-9a-f]{1,8}) (\d{1,12}) (\d{1,16})$/.exec(head);
      if (!m) throw new AppError('internal', { reason: `unexpected answer from the container while reading ${path}` });
      const stat: FileStat = { type: 'file', size: Number(m[1]), perm: Number.parseInt(m[2] ?? '0', 16) & 0o7777, mtime: new Date(Number(m[3]) * 1000) };
      const checkExit = () => this.checkExit(s, out, path);
      opened = {
        stat,
        offset: Number(m[4]),
        // No more than the script was asked for: a helper that prints more is stopped there.
        body: (async function* body() {
          let ended = false;
          try {
            yield* out.stdout(length);
            ended = true;
          } finally {
            // Stopped early (the client went away, or had all it needed) or failed: nothing stays behind.
            if (!ended) await s.kill();
          }
          await checkExit();
        })(),
        cancel: () => s.kill(),
      };
    } catch (err) {
      await s.kill();
      throw err;
    }
    return { kind: 'file', file: opened };
  }

  /** Writes the body to a temporary file beside `path` and renames it over `path` (parents created). */
  async write(path: string, body: AsyncIterable<Uint8Array>, options: { mode?: number }): Promise<FileStat> {
    // The temporary file's name is chosen here, so that an upload that fails can be cleaned up after.
    const id = randomBytes(6).toString('hex');
    // The upload ends with this mark: a stdin that ends without it (an upload cut, or its exec killed
    // midway, which may close stdin first) never replaces the file. The script takes the mark off.
    const mark = randomBytes(8).toString('hex');
    const s = await this.run(['write', path, options.mode === undefined ? '' : options.mode.toString(8), id, mark], true);
    const upload: { failed: boolean; err?: unknown } = { failed: false };
    const writing = (async () => {
      const it = body[Symbol.asyncIterator]();
      for (;;) {
        let next;
        try {
          next = await it.next();
        } catch (err) {
          // The upload failed (the client, or the disk room): the script is killed, never let reach its rename.
          upload.failed = true;
          upload.err = err;
          await s.kill();
          return;
        }
        if (next.done) break;
        const chunk = next.value;
        // A failure here is the script's, which its answer reports.
        await s.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      await s.write(Buffer.from(mark));
      s.end();
    })();
    writing.catch(() => undefined);
    let line;
    try {
      line = await this.answer(s, path, statAnswer);
    } catch (err) {
      if (!upload.failed) throw err;
      await writing;
      const dir = path.slice(0, path.lastIndexOf('/'));
      await this.remove(`${dir}/.berth-upload-${id}`, { recursive: false }).catch(() => undefined);
      const cause = upload.err;
      // A disk limit met midway is the bot's; anything else failing the upload is the client's side.
      if (isAppError(cause, 'disk_limit_exceeded')) throw cause;
      throw new AppError('validation_failed', { reason: `the upload of ${path} did not complete` }, { cause });
    }
    // The script read all of stdin before it could succeed.
    await writing;
    return parseStatLine(line ?? '', path);
  }

  async remove(path: string, options: { recursive: boolean }): Promise<void> {
    const s = await this.run(['rm', path, options.recursive ? '1' : '0']);
    await this.answer(s, path, (out) => out.end(MAX_ANSWER_LINE));
  }

  /** Makes a directory and its missing parents; one that exists already is answered as it is. */
  async makeDirectory(path: string): Promise<FileStat> {
    const s = await this.run(['mkdir', path]);
    const line = await this.answer(s, path, statAnswer);
    return parseStatLine(line ?? '', path);
  }

  /**
   * The paths below the directory `path` (relative to it, without `./`), as `find` walks them:
   * `name` filters by the last segment, `maxDepth` bounds the depth. At most `maxBytes` of output
   * are read (`cut` after that). Stopping early (`return`) or `signal` kills the walk.
   */
  async *find(path: string, options: { name: string | null; maxDepth: number | null; maxBytes: number; signal?: AbortSignal }): AsyncGenerator<string, { cut: boolean }> {
    const s = await this.run(['find', path, options.name ?? '', options.maxDepth === null ? '' : String(options.maxDepth)], false, options.signal);
    const out = new HelperOutput(s.output, 'the files helper');
    let ended = false;
    try {
      let carry: Buffer[] = [];
      let carried = 0;
      let skipping = false;
      let seen = 0;
      let cut = false;
      for await (const chunk of out.stdout(Number.MAX_SAFE_INTEGER)) {
        let from = 0;
        for (let nul = chunk.indexOf(0, from); nul >= 0; nul = chunk.indexOf(0, from)) {
          const piece = chunk.subarray(from, nul);
          from = nul + 1;
          if (!skipping) {
            const rel = (carried > 0 ? Buffer.concat([...carry, piece]) : piece).toString('utf8');
            if (rel.startsWith('./')) yield rel.slice(2);
          }
          carry = [];
          carried = 0;
          skipping = false;
        }
        if (from < chunk.length && !skipping) {
          carry.push(chunk.subarray(from));
          carried += chunk.length - from;
          // No real path is this long (PATH_MAX is 4096): it is skipped, so memory stays bounded.
          if (carried > MAX_FOUND_PATH) {
            carry = [];
            carried = 0;
            skipping = true;
          }
        }
        seen += chunk.length;
        if (seen >= options.maxBytes) {
          cut = true;
          break;
        }
      }
      if (cut) await s.kill();
      else await this.checkExit(s, out, path);
      ended = true;
      return { cut };
    } finally {
      // Stopped early (enough matches, the client went away) or failed: the walk ends with it.
      if (!ended) await s.kill();
    }
  }

  async move(from: string, to: string, options: { overwrite: boolean }): Promise<FileStat> {
    const s = await this.run(['mv', from, to, options.overwrite ? '1' : '0']);
    const line = await this.answer(s, from, statAnswer, to);
    return parseStatLine(line ?? '', to);
  }

  /** Reads the script's short answer with `read`, then its exit; on any failure the script is killed. */
  private async answer<T>(s: ExecSession, path: string, read: (out: HelperOutput) => Promise<T>, to?: string): Promise<T> {
    const out = new HelperOutput(s.output, 'the files helper');
    try {
      const value = await read(out);
      await this.checkExit(s, out, path, to);
      return value;
    } catch (err) {
      await s.kill();
      throw err;
    }
  }

  /**
   * Starts the script. A container paused after it was found running (a snapshot's commit) refuses
   * the exec; it is tried once more when the pause is over. Nothing ran yet, so that is safe.
   */
  private async run(args: string[], stdin = false, signal?: AbortSignal): Promise<ExecSession> {
    const start = () => this.driver.execStream(this.containerId, { command: ['/bin/sh', '-c', FILES_SCRIPT, 'berth-files', ...args], stdin, cwd: '/', ...(signal && { signal }) });
    try {
      return await start();
    } catch (err) {
      if (!isAppError(err, 'container_not_running')) throw err;
      const state = await waitWhilePaused(this.driver, this.containerId, { timeoutMs: this.options.pauseWaitMs ?? PAUSE_WAIT_MS });
      if (state?.state !== 'running') throw err;
      return start();
    }
  }

  private async checkExit(s: ExecSession, out: HelperOutput, path: string, to?: string): Promise<void> {
    const code = await s.exitCode;
    if (code !== 0) throw this.error(code, out.stderrText(), path, to);
  }

  private async failure(s: ExecSession, out: HelperOutput, path: string): Promise<AppError> {
    return this.error(await s.exitCode, out.stderrText(), path);
  }

  /** The error for the script's exit code; an unexpected one is `internal`, its stderr only in the cause (logged). */
  private error(code: number, stderr: string, path: string, to?: string): AppError {
    const details = { path, ...(to !== undefined && { to }) };
    switch (code) {
      case 3:
        return new AppError('file_not_found', { path }, { details });
      case 4:
        return new AppError('validation_failed', { reason: `${to ?? path} is a directory` }, { details });
      case 5:
        return new AppError('validation_failed', { reason: `a parent of ${to ?? path} is not a directory` }, { details });
      case 6:
        return new AppError('file_exists', { path: to ?? path, reason: 'set overwrite to replace it' }, { details });
      case 7:
        return new AppError('validation_failed', { reason: `the directory ${path} is not empty; pass recursive=true to remove it with its contents` }, { details });
      case 8:
        return new AppError('validation_failed', { reason: `${path} is not a regular file or directory` }, { details });
      case 10:
        return new AppError('file_exists', { path, reason: 'it is not a directory' }, { details });
      case 11:
        return new AppError('validation_failed', { reason: `${path} is not a directory` }, { details });
      default: {
        const bot = this.options.botId ? `bot ${this.options.botId}, ` : '';
        const cause = new Error(`the files script exited with ${code} (${bot}container ${this.containerId}, path ${path}${to !== undefined ? ` to ${to}` : ''}): ${stderr.trim().slice(-2000) || 'no message'}`);
        return new AppError('internal', { reason: 'the file operation failed inside the container' }, { details, cause });
      }
    }
  }
}

/** `<hex mode> <size> <mtime>` as the scripts print it after a write or move. */
function parseStatLine(line: string, path: string): FileStat {
  const m = /^([0-9a-f]{1,8}) (\d{1,16}) (\d{1,12})$/.exec(line.trim());
  if (!m) throw new AppError('internal', { reason: `unexpected answer from the container about ${path}` });
  const mode = Number.parseInt(m[1] ?? '0', 16);
  return { type: typeOfMode(mode), size: Number(m[2]), perm: mode & 0o7777, mtime: new Date(Number(m[3]) * 1000) };
}

/**
 * Parses the listing part of FILES_SCRIPT's `read`: records `<hex mode> <size> <mtime> ./<name>/\n`
 * (a name holds no `/`, so the first `/` after `./` ends it, whatever else it holds), and for
 * symlinks `L./<name>/\n` followed by the target's bytes in hex (`od`) and a line `.`. Answers the
 * first `limit` entries by name (`more` when there were others). Every step moves forward through
 * `raw`, and at most 2 × `limit` entries are held at once, whatever the container printed.
 */
export function parseListing(raw: Buffer, limit = MAX_LIST_ENTRIES): { entries: FileEntry[]; more: boolean } {
  const stats = new Map<string, FileStat>();
  const links = new Map<string, string>();
  let more = false;
  const prune = () => {
    const drop = [...stats.keys()].sort(byName).slice(limit);
    for (const name of drop) {
      stats.delete(name);
      links.delete(name);
    }
    more ||= drop.length > 0;
  };
  let i = 0;
  const slash = 0x2f;
  while (i < raw.length) {
    if (raw[i] === 0x4c /* L */) {
      // L./name/\n
      const start = i + 3;
      const end = raw.indexOf(slash, start);
      const nl = end < 0 ? -1 : raw.indexOf(0x0a, end);
      if (nl < 0) break;
      const name = raw.subarray(start, end).toString('utf8');
      let j = nl + 1;
      const hex: string[] = [];
      while (j < raw.length) {
        const eol = raw.indexOf(0x0a, j);
        const line = raw.subarray(j, eol < 0 ? raw.length : eol).toString('latin1');
        j = eol < 0 ? raw.length : eol + 1;
        if (line === '.') break;
        hex.push(line);
      }
      let target = Buffer.from(hex.join('').replace(/\s+/g, ''), 'hex');
      // readlink ends its answer with a newline.
      if (target.length > 0 && target[target.length - 1] === 0x0a) target = target.subarray(0, target.length - 1);
      if (stats.has(name)) links.set(name, target.toString('utf8'));
      i = j;
      continue;
    }
    const sp1 = raw.indexOf(0x20, i);
    const sp2 = sp1 < 0 ? -1 : raw.indexOf(0x20, sp1 + 1);
    const sp3 = sp2 < 0 ? -1 : raw.indexOf(0x20, sp2 + 1);
    if (sp3 < 0) break;
    const start = sp3 + 3; // past " ./"
    const end = raw.indexOf(slash, start);
    if (end < 0) break;
    const mode = Number.parseInt(raw.subarray(i, sp1).toString('latin1'), 16);
    const size = Number(raw.subarray(sp1 + 1, sp2).toString('latin1'));
    const mtime = Number(raw.subarray(sp2 + 1, sp3).toString('latin1'));
    const name = raw.subarray(start, end).toString('utf8');
    if (Number.isFinite(mode) && Number.isFinite(size) && Math.abs(mtime) < MAX_EPOCH_SECONDS) {
      stats.set(name, { type: typeOfMode(mode), size, perm: mode & 0o7777, mtime: new Date(mtime * 1000) });
      if (stats.size >= 2 * limit) prune();
    }
    i = end + 2; // past "/\n"
  }
  if (stats.size > limit) prune();
  const entries = [...stats]
    .map(([name, st]) => entryOf(name, st, st.type === 'symlink' ? (links.get(name) ?? '') : undefined))
    .sort((a, b) => byName(a.name, b.name));
  return { entries, more };
}

/** Beyond this many seconds a Date is invalid (ECMAScript's range); such an answer is not a time. */
const MAX_EPOCH_SECONDS = 8.64e12;

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stat line (after a write or move), and nothing after it. */
async function statAnswer(out: HelperOutput): Promise<string | null> {
  const line = await out.line(MAX_ANSWER_LINE);
  await out.end(MAX_ANSWER_LINE);
  return line;
}
