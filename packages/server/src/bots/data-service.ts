import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DataImportMode, DataImportResult } from '@berth/contract';
import { emptyContents, mergeContents, replaceContents } from '../archive/apply-staging.js';
import { exportArchive } from '../archive/export-archive.js';
import { DEFAULT_IMPORT_LIMITS, extractArchive, type ImportLimits } from '../archive/import-archive.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { BotPaths } from './bot-paths.js';
import type { Operations } from './operations.js';

export interface DataServiceDeps {
  store: Store;
  operations: Operations;
  paths: BotPaths;
  logger: Logger;
  /** BERTH_MAX_IMPORT_BYTES. */
  maxImportBytes: number;
  /** The other archive limits; the defaults of SPEC §5 unless a test narrows them. */
  importLimits?: Partial<Omit<ImportLimits, 'maxBytes'>>;
}

/** Work dirs of imports and resets live next to the data dir, on its file system, so moves are renames. */
const STAGING_PREFIX = '.import-';
const TRASH_PREFIX = '.trash-';

/**
 * A bot's data dir as a whole: export it as a tar.gz, import an archive into it, or reset it to empty.
 * Import and reset are operations (one at a time per bot) and change the dir in place: the directory
 * itself, which a running container has bind-mounted, is never replaced.
 */
export class DataService {
  private readonly limits: ImportLimits;

  constructor(private readonly deps: DataServiceDeps) {
    this.limits = { ...DEFAULT_IMPORT_LIMITS, ...deps.importLimits, maxBytes: deps.maxImportBytes };
  }

  /** A tar.gz of the data dir, streamed as it is read; a read, not an operation. */
  async export(idOrName: string, options: { signal?: AbortSignal } = {}): Promise<{ filename: string; stream: Readable }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const stream = exportArchive(this.deps.paths.dataDir(bot.id), options.signal ? { signal: options.signal } : {});
    return { filename: `${bot.name}-data.tar.gz`, stream };
  }

  /**
   * Streams a tar or tar.gz from `body` into the data dir, all or nothing: the archive is extracted
   * and checked in full in a staging dir first, and only then moved in.
   */
  async import(idOrName: string, body: AsyncIterable<Uint8Array>, options: { mode: DataImportMode }): Promise<DataImportResult> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const { result } = await this.deps.operations.start(bot.id, 'import', async (ctx) => {
      const dataDir = await this.prepare(bot.id);
      const botDir = this.deps.paths.botDir(bot.id);
      const staging = path.join(botDir, `${STAGING_PREFIX}${ctx.operationId}`);
      await fs.mkdir(staging, { mode: 0o700 });
      try {
        await ctx.phase('receive', 'reading the archive into a staging dir');
        const keepOwners = process.getuid?.() === 0;
        const extracted = await extractArchive(body, staging, { limits: this.limits, signal: ctx.signal, keepOwners });
        await ctx.log(`the archive holds ${extracted.entries} entries: ${extracted.files} files, ${extracted.bytes} bytes`);
        await ctx.phase('apply', options.mode === 'replace' ? 'replacing the data dir’s contents' : 'merging into the data dir');
        const apply = { staging, target: dataDir, trash: path.join(botDir, `${TRASH_PREFIX}${ctx.operationId}`), keepOwners };
        if (options.mode === 'replace') await replaceContents(apply);
        else await mergeContents(apply);
        return { container: null, files: extracted.files, bytes: extracted.bytes };
      } finally {
        await fs.rm(staging, { recursive: true, force: true });
      }
    });
    const { files, bytes } = await result;
    return { files, bytes };
  }

  /** Empties the data dir in place, without touching the container. */
  async reset(idOrName: string): Promise<void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const { result } = await this.deps.operations.start(bot.id, 'reset', async (ctx) => {
      const dataDir = await this.prepare(bot.id);
      await ctx.phase('reset', 'emptying the data dir');
      const trash = path.join(this.deps.paths.botDir(bot.id), `${TRASH_PREFIX}${ctx.operationId}`);
      const removed = await emptyContents({ target: dataDir, trash });
      await ctx.log(`removed ${removed} top-level entries`);
      return { container: null };
    });
    await result;
  }

  /**
   * Makes sure the data dir exists, and removes work dirs an interrupted import or reset left next
   * to it (the operation that made them was marked failed at start-up).
   */
  private async prepare(botId: string): Promise<string> {
    const dataDir = this.deps.paths.dataDir(botId);
    await fs.mkdir(dataDir, { recursive: true });
    const botDir = this.deps.paths.botDir(botId);
    for (const name of await fs.readdir(botDir)) {
      if (name.startsWith(STAGING_PREFIX) || name.startsWith(TRASH_PREFIX)) {
        this.deps.logger.warn({ botId, dir: name }, 'removing a work dir left by an interrupted import or reset');
        await fs.rm(path.join(botDir, name), { recursive: true, force: true });
      }
    }
    return dataDir;
  }
}
