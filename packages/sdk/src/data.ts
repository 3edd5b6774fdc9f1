import type { DataImportMode, DataImportResult } from '@berth/contract';
import { routes } from '@berth/contract';
import type { Transport, UploadData } from './http.js';

/** `bot.data`: the bot's data dir as a whole. */
export class DataGroup {
  constructor(
    private readonly http: Transport,
    private readonly bot: string,
  ) {}

  /** The data dir as a tar.gz stream, read as it is consumed (nothing is held whole). */
  async export(options: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const res = await this.exportResponse(options);
    if (!res.body) throw new TypeError('the export answered no body');
    return res.body;
  }

  /** The export's Response, unread (its Content-Disposition names `<bot>-data.tar.gz`). */
  exportResponse(options: { signal?: AbortSignal | undefined } = {}): Promise<Response> {
    return this.http.call(routes.data.export, { params: { bot: this.bot } }, { accept: 'application/gzip', signal: options.signal });
  }

  /**
   * Imports a tar or tar.gz (recognised by its content), all or nothing; a stream is sent as it is
   * read. `merge` (the default) keeps entries the archive does not name; `replace` leaves only its own.
   */
  import(archive: UploadData, options: { mode?: DataImportMode; signal?: AbortSignal | undefined } = {}): Promise<DataImportResult> {
    return this.http.json(routes.data.import, { params: { bot: this.bot }, query: { mode: options.mode ?? 'merge' }, upload: archive }, { signal: options.signal });
  }

  /** Empties the data dir in place; the container keeps running. */
  async reset(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.http.json(routes.data.reset, { params: { bot: this.bot }, body: {} }, { signal: options.signal });
  }
}
