import { BerthApiError, type DirectoryListing, type FileEditBody, type FileEditResult, type FileGlobResult, type FileInfo, type FileMoveBody, routes } from '@berth/contract';
import type { Transport, UploadData } from './http.js';

export interface ReadOptions {
  /** Start at this byte. */
  offset?: number | undefined;
  /** Read at most this many bytes. */
  length?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A file being read: its bytes as a stream, and what the server said about them. */
export interface FileDownload {
  /** The bytes, read from the container as they are consumed; cancel it to stop the read. */
  stream: ReadableStream<Uint8Array>;
  /** The whole file's size in bytes. */
  size: number;
  /** True when the server's read limit cut the answer short (read the rest with `offset`). */
  truncated: boolean;
  /** Permission bits in octal, e.g. "0644". */
  mode: string | undefined;
  /** The whole (remaining) stream as text; for files known to be small. */
  text(): Promise<string>;
  /** The whole (remaining) stream as bytes; for files known to be small. */
  bytes(): Promise<Uint8Array>;
}

/** `bot.files`: files inside the container (paths relative to the data dir; links never lead out of it). */
export class FilesGroup {
  constructor(
    private readonly http: Transport,
    private readonly bot: string,
  ) {}

  /** Opens a file for reading; its bytes are streamed, never held whole. A directory throws (use `list`). */
  async read(path: string, options: ReadOptions = {}): Promise<FileDownload> {
    const res = await this.readResponse(path, options);
    if (!res.body) throw new TypeError(`reading ${path} answered no body`);
    const stream = res.body;
    const mode = res.headers.get('x-berth-file-mode') ?? undefined;
    return {
      stream,
      size: Number(res.headers.get('x-berth-file-size') ?? res.headers.get('content-length') ?? 0),
      truncated: res.headers.get('x-berth-truncated') === 'true',
      mode,
      text: () => new Response(stream).text(),
      bytes: async () => new Uint8Array(await new Response(stream).arrayBuffer()),
    };
  }

  /** A (small) file's text, whole. */
  async readText(path: string, options: ReadOptions = {}): Promise<string> {
    return (await this.read(path, options)).text();
  }

  /** A (small) file's bytes, whole. */
  async readBytes(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
    return (await this.read(path, options)).bytes();
  }

  /**
   * The read's Response, unread (the low-level form): status 206 and `Content-Range` for a part,
   * `x-berth-truncated: true` when the server's read limit cut it.
   */
  async readResponse(path: string, options: ReadOptions = {}): Promise<Response> {
    const res = await this.http.call(
      routes.files.read,
      { params: { bot: this.bot }, query: { path, offset: options.offset, length: options.length } },
      { accept: 'application/octet-stream, application/json', signal: options.signal },
    );
    if (res.headers.get('x-berth-file-type') === 'directory') {
      await res.body?.cancel();
      throw new BerthApiError(400, 'validation_failed', `${path} is a directory; list it instead`);
    }
    return res;
  }

  /** A directory's entries (symlinks shown with their targets, never followed). */
  async list(path: string, options: { signal?: AbortSignal | undefined } = {}): Promise<DirectoryListing> {
    const res = await this.http.call(routes.files.read, { params: { bot: this.bot }, query: { path } }, { signal: options.signal });
    if (res.headers.get('x-berth-file-type') !== 'directory') {
      await res.body?.cancel();
      throw new BerthApiError(400, 'validation_failed', `${path} is not a directory`);
    }
    return (await res.json()) as DirectoryListing;
  }

  /** Writes a file atomically (parents are made); a stream is sent as it is read. `mode` is octal, e.g. "0644". */
  write(path: string, data: UploadData, options: { mode?: string | undefined; signal?: AbortSignal | undefined } = {}): Promise<FileInfo> {
    return this.http.json(routes.files.write, { params: { bot: this.bot }, query: { path, mode: options.mode }, upload: data }, { signal: options.signal });
  }

  /** Removes a file or a link (not its target); a non-empty directory needs `recursive`. */
  async delete(path: string, options: { recursive?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.files.remove, { params: { bot: this.bot }, query: { path, recursive: options.recursive ? 'true' : undefined } }, { signal: options.signal });
  }

  /** Replaces text that occurs exactly once (else `edit_no_match`, with `details.occurrences`). */
  edit(body: FileEditBody, options: { signal?: AbortSignal } = {}): Promise<FileEditResult> {
    return this.http.json(routes.files.edit, { params: { bot: this.bot }, body }, { signal: options.signal });
  }

  /** Moves or renames; an existing `to` needs `overwrite`. */
  move(body: FileMoveBody, options: { signal?: AbortSignal } = {}): Promise<FileInfo> {
    return this.http.json(routes.files.move, { params: { bot: this.bot }, body }, { signal: options.signal });
  }

  /** Makes a directory with any missing parents; one that exists already is answered as it is. */
  mkdir(path: string, options: { signal?: AbortSignal | undefined } = {}): Promise<FileInfo> {
    return this.http.json(routes.files.mkdir, { params: { bot: this.bot }, body: { path } }, { signal: options.signal });
  }

  /**
   * The paths under `path` (default: the data dir) matching a glob pattern (`**\/*.ts`), sorted, at
   * most `limit` (default 200, at most 5000); `truncated` when there were more.
   */
  glob(pattern: string, options: { path?: string | undefined; limit?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<FileGlobResult> {
    return this.http.json(routes.files.glob, { params: { bot: this.bot }, query: { pattern, path: options.path, limit: options.limit } }, { signal: options.signal });
  }
}
