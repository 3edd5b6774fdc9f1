import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DataImportMode, DataImportResult } from '@berth/contract';
import { performance } from 'node:perf_hooks';
import { emptyContents, type Exclusive, INCOMPLETE_SUFFIX, incompleteOf, JOURNAL_SUFFIX, journalOf, mergeContents, recoverApply, replaceContents, type RecoveryResult } from '../core/apply-staging.js';
import { exportArchive } from './export-archive.js';
import { DEFAULT_IMPORT_LIMITS, extractArchive, type ImportLimits } from './import-archive.js';
import { pathExists, removeTree } from '../core/safe-fs.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Failpoints } from '../failpoints.js';
import type { OperationRow, Store } from '../store/store.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { ContainerService, DiskLimits, PauseWatchdog } from '../lifecycle/index.js';
import type { OperationJournal, Operations, RecoveredOperation } from '../core/operations.js';
import { retryWhileEngineDown } from '../core/engine-retry.js';

export interface DataServiceDeps {
  store: Store;
  operations: Operations;
  paths: BotPaths;
  logger: Logger;
  /** To pause a running container while an import or reset swaps entries of its data dir. */
  driver: Pick<RuntimeDriver, 'pauseContainer'>;
  containers: Pick<ContainerService, 'engineContainer'>;
  failpoints: Failpoints;
  /** Ends the pause, and keeps retrying when the engine does not answer. */
  pauses: Pick<PauseWatchdog, 'unpause'>;
  /** BERTH_MAX_IMPORT_BYTES. */
  maxImportBytes: number;
  /** The other archive limits; the defaults of SPEC §5 unless a test narrows them. */
  importLimits?: Partial<Omit<ImportLimits, 'maxBytes'>>;
  /** Refuses imports into a bot at or over its disk limit (507 `disk_limit_exceeded`). */
  diskLimits?: Pick<DiskLimits, 'assertRoom'>;
}

/** Work dirs of imports and resets live next to the data dir, on its file system, so moves are renames. */
const STAGING_PREFIX = '.import-';
const TRASH_PREFIX = '.trash-';
/** A restore's: settled by the restore's own recovery (ContainerService), never by `recoverBot`. */
const RESTORE_STAGING_PREFIX = '.restore-';
const RESTORE_TRASH_PREFIX = '.restore-trash-';

/** The work dirs of an import or reset: beside the data dir, on its file system. */
function applyWorkDirs(paths: BotPaths, botId: string, operationId: string): { staging: string; trash: string } {
  const botDir = paths.botDir(botId);
  return { staging: path.join(botDir, `${STAGING_PREFIX}${operationId}`), trash: path.join(botDir, `${TRASH_PREFIX}${operationId}`) };
}

/**
 * The work dirs of a restore's data swap, beside the data dir. Its journal is settled only by the
 * restore (which must remove the new container before it moves old data back); `recoverBot` only
 * removes a staging dir no journal needs.
 */
export function restoreWorkDirs(paths: BotPaths, botId: string, operationId: string): { staging: string; trash: string } {
  const botDir = paths.botDir(botId);
  return { staging: path.join(botDir, `${RESTORE_STAGING_PREFIX}${operationId}`), trash: path.join(botDir, `${RESTORE_TRASH_PREFIX}${operationId}`) };
}

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
    const room = (await this.deps.diskLimits?.assertRoom(bot.id)) ?? null;
    // What the archive unpacks to counts against the bot's disk room as well as BERTH_MAX_IMPORT_BYTES.
    const byRoom = room !== null && room < this.limits.maxBytes;
    const limits = byRoom ? { ...this.limits, maxBytes: room } : this.limits;
    const { result } = await this.deps.operations.start(bot.id, 'import', async (ctx) => {
      const dataDir = await this.prepare(bot.id);
      const { staging, trash } = applyWorkDirs(this.deps.paths, bot.id, ctx.operationId);
      await fs.mkdir(staging, { mode: 0o700 });
      try {
        await ctx.phase('receive', 'reading the archive into a staging dir');
        const keepOwners = process.getuid?.() === 0;
        const extracted = await extractArchive(body, staging, { limits, signal: ctx.signal, keepOwners }).catch((err: unknown) => {
          if (!byRoom || !isAppError(err, 'archive_too_large')) throw err;
          throw new AppError('disk_limit_exceeded', { reason: `the archive unpacks to more than the ${room} bytes left under the bot's disk limit; nothing was imported` }, {
            details: { roomBytes: room },
          });
        });
        await this.deps.failpoints.hit('import.received');
        await ctx.log(`the archive holds ${extracted.entries} entries: ${extracted.files} files, ${extracted.bytes} bytes`);
        await ctx.phase('apply', options.mode === 'replace' ? 'replacing the data dir’s contents' : 'merging into the data dir');
        const journal = { type: 'data', trash, committed: false } as const;
        await ctx.journal(journal);
        const onCommitted = () => ctx.journal({ ...journal, committed: true });
        const pause = this.pauser(bot.id);
        const apply = { staging, target: dataDir, trash, keepOwners, exclusive: pause.exclusive, onCommitted, midway: () => this.deps.failpoints.hit('import.midway') };
        await (options.mode === 'replace' ? replaceContents(apply) : mergeContents(apply));
        await this.deps.failpoints.hit('import.applied');
        await ctx.journal(null);
        if (pause.ms !== null) await ctx.log(`the container was paused for ${Math.round(pause.ms)} ms while the data dir changed`);
        return { container: null, files: extracted.files, bytes: extracted.bytes };
      } finally {
        // After a rollback that could not be completed, the staging dir is kept with the trash.
        if (!(await pathExists(journalOf(trash))) && !(await pathExists(incompleteOf(trash)))) await removeTree(staging).catch((err: unknown) => this.deps.logger.warn({ err, botId: bot.id }, 'could not remove an import’s staging dir'));
      }
    });
    const { files, bytes } = await result;
    return { files, bytes };
  }

  /** Empties the data dir in place; a running container is paused only while the entries are moved aside. */
  async reset(idOrName: string): Promise<void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const { result } = await this.deps.operations.start(bot.id, 'reset', async (ctx) => {
      const dataDir = await this.prepare(bot.id);
      await ctx.phase('reset', 'emptying the data dir');
      const { trash } = applyWorkDirs(this.deps.paths, bot.id, ctx.operationId);
      const journal = { type: 'data', trash, committed: false } as const;
      await ctx.journal(journal);
      const pause = this.pauser(bot.id);
      const removed = await emptyContents({ target: dataDir, trash, exclusive: pause.exclusive, onCommitted: () => ctx.journal({ ...journal, committed: true }), midway: () => this.deps.failpoints.hit('reset.midway') });
      await this.deps.failpoints.hit('reset.applied');
      await ctx.journal(null);
      await ctx.log(`removed ${removed} top-level entries`);
      if (pause.ms !== null) await ctx.log(`the container was paused for ${Math.round(pause.ms)} ms while the data dir changed`);
      return { container: null };
    });
    await result;
  }

  /**
   * Settles an import or reset that a crash cut off: one whose apply was committed is finished (its
   * trash removed) and counts as succeeded; any other is rolled back from its journal.
   */
  async recover(op: OperationRow, journal: Extract<OperationJournal, { type: 'data' }>): Promise<RecoveredOperation> {
    const file = journalOf(journal.trash);
    if (!(await pathExists(file))) return journal.committed ? { status: 'succeeded', container: null } : { status: 'failed' };
    let result: RecoveryResult | undefined;
    // A committed apply only loses its trash: no pause (nor engine) needed.
    if (journal.committed) result = await recoverApply(file);
    else {
      await this.whilePaused(op.bot_id, async () => {
        result = await recoverApply(file);
      });
    }
    const outcome = result?.outcome ?? 'kept';
    if (outcome === 'completed') return { status: 'succeeded', container: null };
    if (outcome === 'kept') return { status: 'failed', message: 'the operation was interrupted by a stop of the server and could not be rolled back in full; the old data is kept in its trash dir (see the server log)' };
    return { status: 'failed' };
  }

  /**
   * Start-up: finishes or rolls back imports and resets that a crash cut off while they changed a
   * data dir (their operations were marked failed just before), from their journals.
   */
  async recoverInterrupted(): Promise<void> {
    for (const bot of await this.deps.store.listBots()) {
      await this.recoverBot(bot.id).catch((err: unknown) => this.deps.logger.error({ err, botId: bot.id }, 'could not recover an interrupted import or reset of the data dir'));
    }
  }

  /**
   * Makes sure the data dir exists, finishes what an interrupted import or reset left (see
   * `recoverBot`), and removes work dirs it left that hold nothing needed.
   */
  private async prepare(botId: string): Promise<string> {
    const dataDir = this.deps.paths.dataDir(botId);
    await fs.mkdir(dataDir, { recursive: true });
    await this.recoverBot(botId);
    return dataDir;
  }

  /**
   * An apply's journal says whether it finished: a finished one only loses its leftovers, an
   * unfinished one is rolled back, the running container paused meanwhile. The trash and staging
   * dirs of one whose rollback could not be completed are kept (they hold the only copy of the old
   * data), and so is a non-empty trash dir without a journal (the journal is removed only after the
   * trash). A staging dir without a journal never held anything of the data dir.
   */
  private async recoverBot(botId: string): Promise<void> {
    const botDir = this.deps.paths.botDir(botId);
    const names = await fs.readdir(botDir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw err;
    });
    const trashOf = (name: string, suffix: string) => (name.startsWith(TRASH_PREFIX) && name.endsWith(suffix) ? name.slice(0, -suffix.length) : null);
    const stagingOf = (trash: string) => `${STAGING_PREFIX}${trash.slice(TRASH_PREFIX.length)}`;
    // Work dirs that a journal accounts for: its recovery removes them, or keeps them when it must.
    const journaled = new Set<string>();
    const pending: string[] = [];
    for (const name of names) {
      const unfinished = trashOf(name, JOURNAL_SUFFIX);
      const incomplete = trashOf(name, INCOMPLETE_SUFFIX);
      const trash = unfinished ?? incomplete;
      if (trash !== null) journaled.add(trash).add(stagingOf(trash)).add(name);
      if (unfinished !== null) pending.push(name);
      if (incomplete !== null) {
        this.deps.logger.error({ botId, trash: path.join(botDir, incomplete), journal: path.join(botDir, name) }, 'an import or reset could not be rolled back in full: the entries it moved aside are kept in its trash dir, and its journal says where each came from');
      }
    }
    if (pending.length > 0) {
      await this.whilePaused(botId, async () => {
        for (const name of pending) {
          const { outcome, failures } = await recoverApply(path.join(botDir, name));
          if (outcome === 'kept') {
            this.deps.logger.error({ botId, journal: name, failures }, 'an interrupted import or reset could not be rolled back in full; its old data stays in its trash dir');
          } else {
            this.deps.logger.warn({ botId, journal: name, outcome }, outcome === 'completed' ? 'removed what a finished import or reset left' : 'rolled back an import or reset that was interrupted');
          }
        }
      });
    }
    for (const name of names) {
      if (journaled.has(name)) continue;
      const dir = path.join(botDir, name);
      if (name.startsWith(RESTORE_TRASH_PREFIX)) {
        this.deps.logger.error({ botId, dir: name }, 'a restore left its data swap unsettled; it is settled at the next start (the old data is in this dir)');
      } else if (name.startsWith(RESTORE_STAGING_PREFIX)) {
        // A copy of a snapshot's data; needed only while a swap's journal may move entries back into it.
        if (!names.includes(`${RESTORE_TRASH_PREFIX}${name.slice(RESTORE_STAGING_PREFIX.length)}${JOURNAL_SUFFIX}`)) await removeTree(dir);
      } else if (name.startsWith(STAGING_PREFIX)) {
        this.deps.logger.warn({ botId, dir: name }, 'removing a staging dir left by an interrupted import');
        await removeTree(dir);
      } else if (name.startsWith(TRASH_PREFIX)) {
        if ((await fs.readdir(dir).catch(() => [])).length === 0) await removeTree(dir);
        else this.deps.logger.error({ botId, dir: name }, 'a trash dir without a journal is kept: it may hold the only copy of data an interrupted import or reset moved aside');
      }
    }
  }

  /**
   * The exclusive step of an apply (see apply-staging.ts): run with the container paused if it is
   * running; `ms` is then how long it was paused.
   */
  private pauser(botId: string): { exclusive: Exclusive; readonly ms: number | null } {
    const pause = {
      ms: null as number | null,
      exclusive: async (step: () => Promise<void>) => {
        pause.ms = await this.whilePaused(botId, step);
      },
    };
    return pause;
  }

  /**
   * Runs `work` with the bot's container paused if it is running, so that nothing in it changes the
   * data dir meanwhile (it could otherwise swap a directory for a link under the apply's feet); the
   * milliseconds it was paused, or null when it was not running.
   */
  private async whilePaused(botId: string, work: () => Promise<unknown>): Promise<number | null> {
    const bot = await this.deps.store.mustGetBot(botId);
    const c = await this.deps.containers.engineContainer(bot);
    if (c?.state !== 'running') {
      await work();
      return null;
    }
    const pausedAt = performance.now();
    try {
      // An apply half done waits for its pause: when the engine does not answer, until it does.
      await retryWhileEngineDown(() => this.deps.driver.pauseContainer(c.id));
    } catch (err) {
      // It may have stopped on its own since it was looked at; then nothing runs in it anyway.
      if ((await this.deps.containers.engineContainer(bot))?.state === 'running') throw err;
      await work();
      return null;
    }
    try {
      await work();
    } finally {
      // The work is done (or undone) whatever the unpause says: one the engine refuses now is retried
      // until it answers, and the watchdog ends any pause left behind.
      await this.deps.pauses.unpause(c.id, { botId }).catch((err: unknown) => this.deps.logger.warn({ err, botId }, 'could not unpause the container yet; it is retried'));
    }
    return performance.now() - pausedAt;
  }
}

