import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Container, Operation, Snapshot, SnapshotList, Version, VersionList } from '@berth/contract';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContainerState, RuntimeDriver } from '../runtime/driver.js';
import { snapshotNameTaken, type SnapshotRow, type SnapshotStore } from '../store/snapshot-store.js';
import type { BotRow, OperationRow, Store } from '../store/store.js';
import { configOf, configOfVersion, type ContainerService, type PauseWatchdog } from '../lifecycle/index.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { ChangeFeed } from '../core/change-feed.js';
import { LABEL, SNAPSHOT_LABEL } from '../core/labels.js';
import { journalOf, replaceContents } from '../core/apply-staging.js';
import { pathExists, removeTree } from '../core/safe-fs.js';
import type { Failpoints } from '../failpoints.js';
import { restoreWorkDirs } from '../data/index.js';
import type { HardLinkedDataSnapshots, StagedRestore } from './data-snapshot-store.js';
import { newId, now } from '../core/ids.js';
import type { OperationContext, OperationJournal, Operations, RecoveredOperation } from '../core/operations.js';

/** Snapshot images: `localhost/berth-snapshot/<botId>:<snapId>`, labelled so nothing prunes them unseen. */
const SNAPSHOT_REPO = 'localhost/berth-snapshot';

function snapshotImageRef(botId: string, snapId: string): string {
  return `${SNAPSHOT_REPO}/${botId}:${snapId}`;
}

export function snapshotsDir(paths: BotPaths, botId: string): string {
  return path.join(paths.botDir(botId), 'snapshots');
}

export interface SnapshotServiceDeps {
  store: Store;
  snapshots: SnapshotStore;
  driver: RuntimeDriver;
  operations: Operations;
  containers: ContainerService;
  data: HardLinkedDataSnapshots;
  paths: BotPaths;
  changes: ChangeFeed;
  logger: Logger;
  failpoints: Failpoints;
  /** Ends the commit's pause, and keeps retrying when the engine does not answer. */
  pauses: Pick<PauseWatchdog, 'unpause'>;
}

/**
 * Snapshots of a bot's container: its root filesystem changes (an engine commit, stored as an image
 * layer on top of its parent image) and its data dir (a hard-linked tree). Taking and restoring are
 * operations, one at a time per bot; a delete waits for neither and is refused while one runs.
 */
export class SnapshotService {
  /** Per-bot serialisation of snapshot, restore and delete, so a delete never meets a capture. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: SnapshotServiceDeps) {}

  /** Takes a snapshot; a running container keeps running (paused briefly), a stopped one stays stopped. */
  async create(idOrName: string, body: { name: string }): Promise<{ operation: Operation; result: Promise<{ container: Container; snapshot: Snapshot }> }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    if (await this.deps.snapshots.nameTaken(bot.id, body.name)) throw snapshotNameTaken(body.name);
    await this.mustHaveContainer(bot);
    return this.deps.operations.start(bot.id, 'snapshot', (ctx) =>
      this.locked(bot.id, async () => {
        const row = await this.take(bot.id, await this.mustHaveContainer(bot), body.name, 'manual', ctx);
        return { container: await this.deps.containers.info(bot.id), snapshot: toSnapshot(row) };
      }),
    );
  }

  async list(idOrName: string): Promise<SnapshotList> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const rows = await this.deps.snapshots.list(bot.id);
    return { snapshots: rows.map(toSnapshot), head: bot.head_snapshot_id };
  }

  async get(idOrName: string, snap: string): Promise<Snapshot> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    return toSnapshot(await this.deps.snapshots.mustGet(bot.id, snap));
  }

  /**
   * Restores a snapshot in place. Unless `keepCurrent` is false, the state being left is saved first
   * as an automatic snapshot (the data dir alone when the bot has no container: a deleted container
   * leaves its data behind, and that must not be lost). The container is rebuilt from the snapshot's
   * image with the config of the version it was taken from (a data-only snapshot: from the bot's
   * image and config), the data dir gets the snapshot's files (the directory itself stays), and the
   * container runs again if it was running (or if there was none).
   */
  async restore(idOrName: string, snap: string, options: { keepCurrent?: boolean } = {}): Promise<{ operation: Operation; result: Promise<{ container: Container }> }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const target = await this.deps.snapshots.mustGet(bot.id, snap);
    await this.assertRestorable(bot, target);
    return this.deps.operations.start(bot.id, 'restore', (ctx) => this.locked(bot.id, async () => ({ container: await this.doRestore(bot.id, target.id, options.keepCurrent !== false, ctx) })));
  }

  /** Deletes a snapshot: its children take its parent, its image and the data only it holds go. */
  async remove(idOrName: string, snap: string): Promise<void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const row = await this.deps.snapshots.mustGet(bot.id, snap);
    await this.deps.operations.assertIdle(bot.id);
    await this.locked(bot.id, async () => {
      // A data-only snapshot has no image to remove.
      const { removed } = row.image_ref ? await this.deps.driver.removeImage(row.image_ref) : { removed: true };
      await this.deps.snapshots.delete(row);
      await this.deps.data.remove(bot.id, row.id);
      this.deps.logger.info({ botId: bot.id, snapshotId: row.id, imageRemoved: removed }, removed ? 'snapshot deleted' : 'snapshot deleted; its image stays until the container using it is gone');
      await this.sweepImages(bot.id);
    });
    this.deps.changes.publish({ type: 'bot.updated', botId: bot.id });
  }

  async versions(idOrName: string): Promise<VersionList> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const rows = await this.deps.store.listVersions(bot.id);
    const history: Version[] = rows.map((r) => {
      const config = configOfVersion(r);
      return {
        version: r.version,
        createdAt: r.created_at,
        reason: r.reason as Version['reason'],
        image: r.image,
        imageId: r.image_id,
        cdiDevices: config.cdiDevices,
        resources: config.resources,
        snapshotId: r.snapshot_id,
      };
    });
    return { current: bot.current_version, history };
  }

  /**
   * Removes every snapshot image of a bot whose container is already gone (bot delete). Newest first,
   * so no image is asked to go before the ones built on it.
   */
  async removeAllForBot(botId: string): Promise<void> {
    const images = await this.deps.driver.listImages({ labels: [`${LABEL.bot}=${botId}`, SNAPSHOT_LABEL] });
    images.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    for (const image of images) {
      for (const ref of image.names.length > 0 ? image.names : [image.id]) {
        await this.deps.driver.removeImage(ref).catch((err: unknown) => this.deps.logger.warn({ err, botId, image: ref }, 'could not remove a snapshot image of a deleted bot'));
      }
    }
  }

  // --- the work -----------------------------------------------------------------------------------

  /**
   * Captures the container as a new snapshot whose parent is the bot's head, and makes it the head.
   * Running container: the data dir is pre-copied while it runs; then it is paused just for the
   * engine commit and a catch-up pass over what changed meanwhile, and unpaused. No container (`c`
   * null): a data-only snapshot, with no root filesystem image.
   */
  private async take(botId: string, c: ContainerState | null, name: string, source: 'manual' | 'auto', ctx: OperationContext): Promise<SnapshotRow> {
    const { driver, store, snapshots, data } = this.deps;
    const bot = await store.mustGetBot(botId);
    const snapId = newId('snap');
    const ref = snapshotImageRef(bot.id, snapId);
    const version = Number(c?.labels[LABEL.version] ?? bot.current_version);
    const parent = bot.head_snapshot_id ? await snapshots.find(bot.id, bot.head_snapshot_id) : undefined;
    const running = c?.state === 'running';
    const log = this.deps.logger.child({ botId: bot.id, snapshotId: snapId, operationId: ctx.operationId });

    // A crash from here on leaves an image and a tree that only this journal names (see `recover`).
    await ctx.journal({ type: 'snapshot', snapshotId: snapId, imageRef: ref });
    await ctx.phase('data', `copying the data dir for snapshot ${name}`);
    const started = performance.now();
    const capture = await data.begin(bot.id, snapId, this.deps.paths.dataDir(bot.id));
    let committed: { imageId: string; size: number } | null = null;
    let pausedMs = 0;
    try {
      await capture.precopy({ signal: ctx.signal });
      await this.deps.failpoints.hit('snapshot.precopy');
      const precopyMs = performance.now() - started;
      let createdAt = now();
      if (c) {
        await ctx.phase('commit', running ? 'pausing the container to commit its root filesystem' : 'committing the root filesystem');
        const labels = { [LABEL.managed]: 'true', [LABEL.bot]: bot.id, [SNAPSHOT_LABEL]: snapId };
        createdAt = now();
        const pausedAt = performance.now();
        if (running) await driver.pauseContainer(c.id);
        try {
          committed = await driver.commitContainer(c.id, { ref, labels, pause: false, signal: ctx.signal });
          await capture.catchUp({ signal: ctx.signal });
        } finally {
          if (running) await this.deps.pauses.unpause(c.id, { botId: bot.id, operationId: ctx.operationId });
          pausedMs = performance.now() - pausedAt;
        }
      } else {
        await capture.catchUp({ signal: ctx.signal });
      }
      await this.deps.failpoints.hit('snapshot.commit');
      const summary = await capture.commit();
      const rootfsBytes = committed?.size ?? 0;
      log.info({ precopyMs: Math.round(precopyMs), pausedMs: Math.round(pausedMs), ...summary, rootfsBytes, dataOnly: !committed }, 'snapshot taken');
      await ctx.log(
        `${running ? `container paused for ${Math.round(pausedMs)} ms; ` : ''}data: ${summary.files} files (${summary.copiedFiles} copied, ${summary.linkedFiles} unchanged), ${summary.newBytes} new bytes; ${committed ? `root filesystem layer: ${committed.size} bytes` : 'no container, so no root filesystem'}`,
      );
      // The record and the head in one transaction: the snapshot exists from here on.
      const row = await snapshots.insert({
        id: snapId,
        bot_id: bot.id,
        name,
        created_at: createdAt,
        parent_id: parent?.id ?? null,
        version,
        source,
        size_bytes: summary.newBytes + rootfsBytes,
        data_bytes: summary.newBytes,
        rootfs_bytes: rootfsBytes,
        image_ref: committed ? ref : null,
        image_id: committed?.imageId ?? null,
        missing: null,
      }, { asHead: true });
      await ctx.journal(null);
      this.deps.changes.publish({ type: 'bot.updated', botId: bot.id });
      return row;
    } catch (err) {
      await capture.abort().catch(() => undefined);
      await data.remove(bot.id, snapId).catch(() => undefined);
      if (committed) await driver.removeImage(ref).catch((e: unknown) => log.warn({ err: e }, 'could not remove the image of a failed snapshot'));
      // The start-up reconciliation removes an image that could not be removed now (it names no snapshot).
      await ctx.journal(null).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The restore, all or nothing: the snapshot's data is copied beside the data dir while the bot runs
   * on; then the container build (ContainerService) makes the new container, stops the old one,
   * swaps the staged data in (journaled renames), starts the new one and commits. Until that commit
   * every step is undone on failure, and by the next start after a crash.
   */
  private async doRestore(botId: string, snapId: string, keepCurrent: boolean, ctx: OperationContext): Promise<Container> {
    const { store, snapshots, failpoints } = this.deps;
    let bot = await store.mustGetBot(botId);
    const target = await snapshots.mustGet(bot.id, snapId);
    await this.assertRestorable(bot, target);
    const c = await this.deps.containers.engineContainer(bot);
    const dataDir = this.deps.paths.dataDir(bot.id);
    await fs.mkdir(dataDir, { recursive: true });

    if (keepCurrent) {
      const name = await this.autoName(bot.id);
      await ctx.phase('snapshot', c ? `saving the current state as ${name}` : `saving the data dir as ${name} (there is no container, so no root filesystem)`);
      await this.take(bot.id, c, name, 'auto', ctx);
      await failpoints.hit('restore.snapshot');
    }
    // Running again afterwards if it was running; a bot without a container gets a running one, as a create would.
    const start = !c || c.state === 'running' || c.state === 'paused';

    await ctx.phase('stage', `copying the data of ${target.name} beside the data dir`);
    const { staging, trash } = restoreWorkDirs(this.deps.paths, bot.id, ctx.operationId);
    let staged: StagedRestore;
    let container: Container;
    try {
      staged = await this.deps.data.stage(bot.id, target.id, staging, { signal: ctx.signal });
      await ctx.log(`the snapshot's data is staged: ${staged.files} files, ${staged.bytes} bytes`);
      await failpoints.hit('restore.staged');

      bot = await store.mustGetBot(bot.id);
      // A data-only snapshot has no root filesystem of its own: the container is built as a create would.
      const versionRow = target.image_ref ? await store.getVersion(bot.id, target.version) : undefined;
      const config = versionRow ? configOfVersion(versionRow) : configOf(bot);
      const data = { trash, apply: () => replaceContents({ staging, target: dataDir, trash, keepTrash: true, midway: () => failpoints.hit('restore.midway') }) };
      container = await this.deps.containers.buildFromSnapshot(bot.id, c, { image: target.image_ref, config, snapshotId: target.id, start, data }, ctx);
    } finally {
      // Moved in, or moved back and removed by the undo; what is left never reached the data dir.
      // While the swap's journal is still there (its undo waits for the engine), it may move entries back here.
      if (!(await pathExists(journalOf(trash)))) await removeTree(staging).catch(() => undefined);
    }
    await this.deps.data.recordRestored(staged);
    // The replaced container may have held the last use of a deleted snapshot's image.
    await this.sweepImages(bot.id).catch((err: unknown) => this.deps.logger.warn({ err, botId: bot.id }, 'could not sweep released snapshot images'));
    return container;
  }

  /**
   * Settles a snapshot that a crash cut off: recorded means taken (a snapshot operation then counts as
   * succeeded); otherwise its image and tree are removed. A container it left paused is resumed by
   * the start-up reconciliation.
   */
  async recover(op: OperationRow, journal: Extract<OperationJournal, { type: 'snapshot' }>): Promise<RecoveredOperation> {
    if (await this.deps.snapshots.find(op.bot_id, journal.snapshotId)) {
      if (op.kind !== 'snapshot') return { status: 'failed' };
      return { status: 'succeeded', container: await this.deps.containers.info(op.bot_id).catch(() => null) };
    }
    await this.deps.driver.removeImage(journal.imageRef);
    await this.deps.data.remove(op.bot_id, journal.snapshotId);
    this.deps.logger.warn({ botId: op.bot_id, snapshotId: journal.snapshotId }, 'removed what an interrupted snapshot left');
    return { status: 'failed' };
  }

  private async assertRestorable(bot: BotRow, target: SnapshotRow): Promise<void> {
    const missing: string[] = [];
    if (target.image_ref && !(await this.deps.driver.inspectImage(target.image_ref))) missing.push('rootfs');
    if (!(await this.deps.data.has(bot.id, target.id))) missing.push('data');
    if (missing.length > 0) {
      await this.deps.snapshots.setMissing(target.id, missing);
      throw new AppError('snapshot_not_found', { snapshot: target.name, reason: `it cannot be restored: its ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} gone` }, {
        details: { snapshotId: target.id, missing },
      });
    }
  }

  /**
   * Removes this bot's snapshot images that a delete could only untag because a container still used
   * them, once nothing uses them any more.
   */
  private async sweepImages(botId: string): Promise<void> {
    const known = new Set((await this.deps.snapshots.list(botId)).map((s) => s.id));
    const images = await this.deps.driver.listImages({ labels: [`${LABEL.bot}=${botId}`, SNAPSHOT_LABEL] });
    for (const image of images) {
      const snap = image.labels[SNAPSHOT_LABEL] ?? '';
      if (image.names.length === 0 && image.containers === 0 && !known.has(snap)) {
        const { removed } = await this.deps.driver.removeImage(image.id);
        if (removed) this.deps.logger.info({ botId, image: image.id, snapshotId: snap }, 'removed the image of a deleted snapshot');
      }
    }
  }

  private async autoName(botId: string): Promise<string> {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '');
    const base = `auto-before-restore-${stamp}`;
    for (let i = 1; ; i++) {
      const name = i === 1 ? base : `${base}-${i}`;
      if (!(await this.deps.snapshots.nameTaken(botId, name))) return name;
    }
  }

  private async mustHaveContainer(bot: BotRow): Promise<ContainerState> {
    const c = await this.deps.containers.engineContainer(bot);
    if (!c) throw new AppError('container_not_found', { target: `bot "${bot.name}"`, reason: 'create one before taking a snapshot' });
    return c;
  }

  private locked<T>(botId: string, work: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(botId) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => undefined);
    this.locks.set(botId, tail);
    void tail.then(() => {
      if (this.locks.get(botId) === tail) this.locks.delete(botId);
    });
    return next;
  }
}

function toSnapshot(row: SnapshotRow): Snapshot {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    parentId: row.parent_id,
    version: row.version,
    source: row.source === 'auto' ? 'auto' : 'manual',
    sizeBytes: row.size_bytes,
    image: row.image_ref,
    missing: (row.missing ?? '').split(',').filter((m): m is 'rootfs' | 'data' => m === 'rootfs' || m === 'data'),
  };
}
