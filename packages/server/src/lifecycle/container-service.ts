import fs from 'node:fs/promises';
import type { Bot, Container, ContainerStatus, DiskLimitInfo, Operation } from '@berth/contract';
import { finishApply, journalOf, undoApply } from '../core/apply-staging.js';
import type { CdiRegistry } from '../cdi/cdi-registry.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContainerSpec, ContainerState, RuntimeDriver } from '../runtime/driver.js';
import type { Failpoints } from '../failpoints.js';
import type { BotRow, OperationRow, Store } from '../store/store.js';
import { configOf, configOfVersion, needsRecreate, type BotConfig } from './bot-config.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { ChangeFeed } from '../core/change-feed.js';
import { retryWhileEngineDown } from '../core/engine-retry.js';
import { now } from '../core/ids.js';
import type { OperationContext, OperationJournal, Operations, RecoveredOperation } from '../core/operations.js';
import { pathExists } from '../core/safe-fs.js';
import { botNetworkName, containerName, LABEL } from '../core/labels.js';

/** What a restore builds a container from instead of the bot's desired config and image. */
export interface SnapshotBuild {
  /** The snapshot's image (its root filesystem); null for a data-only snapshot: the config's image, pulled if absent. */
  image: string | null;
  /** The applied config of the version the snapshot was taken from; `image` in it stays the base image. */
  config: BotConfig;
  snapshotId: string;
  /** Start the new container (it was running before the restore). */
  start: boolean;
  /** Swaps the snapshot's data in once the old container is stopped. */
  data: DataSwap;
}

export interface ContainerServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  operations: Operations;
  cdi: CdiRegistry;
  paths: BotPaths;
  changes: ChangeFeed;
  logger: Logger;
  containerDataPath: string;
  failpoints: Failpoints;
  /** Counts a bot's running background tasks (the exec API), read from its running container as just inspected. */
  countTasks?: (bot: BotRow, container: ContainerState) => Promise<number>;
  /** The `berth.instance` label put on containers (see store/instance-id.ts). */
  instanceId?: string;
  /** The bot's disk limit and usage (DiskLimits.describe); without it nothing enforces a limit, and the info says so. */
  diskLimit?: (bot: BotRow, container: ContainerState) => Promise<DiskLimitInfo>;
  /** Refuses the start of a bot past its disk limit by the margin (DiskLimits.assertMayStart). */
  admitStart?: (bot: BotRow) => Promise<void>;
}

/** One container per bot: its life cycle as operations, and its info read from the engine. */
export class ContainerService {
  constructor(private readonly deps: ContainerServiceDeps) {}

  /** Starts a create (or recreate) operation. Checks that need no engine work answer at once. */
  async create(idOrName: string, options: { recreate?: boolean } = {}): Promise<{ operation: Operation; result: Promise<{ container: Container }> }> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const recreate = options.recreate === true;
    const existing = await this.engineContainer(bot);
    if (existing && !recreate) {
      throw new AppError('container_exists', { target: `bot "${bot.name}"`, reason: 'recreate it to replace it (its data dir is kept)' }, {
        details: { containerId: existing.id },
      });
    }
    const kind = existing ? 'recreate' : 'create';
    return this.deps.operations.start(bot.id, kind, async (ctx) => ({ container: await this.build(bot.id, kind, existing, ctx) }));
  }

  /**
   * Builds the bot's container from a snapshot's image with that snapshot's version config, inside a
   * running restore operation, in place of `old` (all or nothing, as every build).
   */
  async buildFromSnapshot(botId: string, old: ContainerState | null, from: SnapshotBuild, ctx: OperationContext): Promise<Container> {
    return this.build(botId, 'restore', old, ctx, from);
  }

  /**
   * Builds the bot's container, all or nothing. `old` is the container being replaced, as found when
   * the operation was accepted. The new container is made beside it under a temporary name; the old
   * one is stopped (a restore then swaps the data dir's contents) and the new one started. Only then
   * is the new version recorded (the commit, one transaction, which also marks the operation's journal
   * committed), the old container removed and the new one renamed. A failure before the commit undoes
   * every step: the bot keeps its old container, its data and its state, running if it ran. A crash is
   * settled the same way at the next start (`recover`), from the operation's journal.
   */
  private async build(botId: string, reason: 'create' | 'recreate' | 'restore', old: ContainerState | null, ctx: OperationContext, from?: SnapshotBuild): Promise<Container> {
    const { driver, store, failpoints } = this.deps;
    const bot = await store.mustGetBot(botId);
    const config = from?.config ?? configOf(bot);
    const imageRef = from?.image ?? config.image;

    await ctx.phase('image', `checking image ${imageRef}`);
    if (config.cdiDevices.length > 0) {
      if (!(await driver.capabilities()).cdi) {
        throw new AppError('cdi_unsupported', { runtime: driver.name }, { details: { devices: config.cdiDevices } });
      }
      await this.deps.cdi.assertResolvable(config.cdiDevices);
    }
    let image = await driver.inspectImage(imageRef);
    if (!image && from?.image) throw new AppError('snapshot_not_found', { snapshot: from.snapshotId, reason: `its root filesystem image ${imageRef} is gone from the engine` }, { details: { image: imageRef } });
    if (!image) {
      await ctx.phase('pull', `pulling ${config.image}`);
      for await (const progress of driver.pullImage(config.image, { signal: ctx.signal })) await ctx.pull(progress);
      image = await driver.inspectImage(config.image);
      if (!image) throw new AppError('image_not_found', { image: config.image, reason: 'it is not present after pulling it' });
    } else {
      await ctx.log(`image ${imageRef} is present (${image.id.slice(0, 19)})`);
    }

    await ctx.phase('create', reason === 'recreate' ? 'creating the new container beside the old one; the data dir is kept' : reason === 'restore' ? 'creating the container from the snapshot' : 'creating the container');
    const dataDir = this.deps.paths.dataDir(bot.id);
    await fs.mkdir(dataDir, { recursive: true });
    // What an earlier build of the bot left for later (the engine failed it at the end) is settled
    // first; then the container being replaced is looked at again, as that may have changed it.
    await this.settleLeftovers(bot.id);
    if (old) old = await this.engineContainer(await store.mustGetBot(bot.id));
    const version = bot.current_version + 1;
    const journal: ReplaceJournal = {
      type: 'replace',
      old: old ? { id: old.id, running: isRunning(old) } : null,
      name: old ? temporaryName(bot.id) : containerName(bot.id),
      id: null,
      version,
      committed: false,
      dataTrash: from?.data?.trash ?? null,
    };
    // A stray replacement no journal names any more (its name is needed now).
    await this.removeReplacement(bot.id, journal);
    await ctx.journal(journal);
    const spec: ContainerSpec = {
      name: journal.name,
      image: imageRef,
      labels: {
        [LABEL.managed]: 'true',
        [LABEL.bot]: bot.id,
        [LABEL.version]: String(version),
        [LABEL.cdi]: config.cdiDevices.join(','),
        ...(this.deps.instanceId !== undefined && { [LABEL.instance]: this.deps.instanceId }),
      },
      env: config.env,
      dataMount: { hostPath: dataDir, containerPath: this.deps.containerDataPath },
      cdiDevices: config.cdiDevices,
      resources: config.resources,
      network: config.network,
      // Each bot its own network: no other bot shares its bridge (see podman-isolation.ts).
      ...(config.network === 'bridge' && {
        privateNetwork: {
          name: botNetworkName(bot.id),
          labels: {
            [LABEL.managed]: 'true',
            [LABEL.bot]: bot.id,
            ...(this.deps.instanceId !== undefined && { [LABEL.instance]: this.deps.instanceId }),
          },
        },
      }),
    };

    // A container built from the image starts a fresh line of snapshots (head null); a restored one
    // descends from its snapshot.
    const start = from?.start ?? true;
    try {
      // Inside the undo's reach: an engine that times out may still make the container.
      const { id } = await driver.createContainer(spec, { signal: ctx.signal, image });
      journal.id = id;
      this.deps.changes.publish({ type: 'container.changed', botId: bot.id, status: 'creating' });
      await ctx.journal(journal);
      await failpoints.hit(`${reason}.created`);
      if (old && journal.old?.running) {
        // A create's phases are fixed (SPEC §4): a recreate stops the old container within `start`.
        if (from) await ctx.phase('stop', 'stopping the current container');
        else await ctx.phase('start', 'stopping the old container, then starting the new one');
        await driver.stopContainer(old.id, { timeoutSeconds: 10 });
        await failpoints.hit(`${reason}.stopped`);
      }
      if (from) {
        await ctx.phase('data', 'moving the snapshot’s data into the data dir');
        await from.data.apply();
        await failpoints.hit(`${reason}.data`);
      }
      if (start) {
        if (from || !journal.old?.running) await ctx.phase('start', 'starting the container');
        await driver.startContainer(id);
        await failpoints.hit(`${reason}.started`);
      }
      // The commit. A transaction that throws has changed nothing, so it too is undone below.
      const versionRow = { bot_id: bot.id, version, created_at: now(), reason, image: imageRef, image_id: image.id, config: JSON.stringify(config), snapshot_id: from?.snapshotId ?? null };
      await store.commitVersion(versionRow, { container_id: id, desired_running: start ? 1 : 0, head_snapshot_id: from?.snapshotId ?? null }, { id: ctx.operationId, journal: JSON.stringify({ ...journal, committed: true }) });
    } catch (err) {
      await ctx.log('undoing: the new container is removed and the bot is left as it was');
      // The bot stays busy until it is back in order; when the engine itself failed, as soon as it answers again.
      try {
        await retryWhileEngineDown(() => this.undoReplace(bot.id, journal), { signal: ctx.signal, onRetry: (e) => this.deps.logger.warn({ err: e, botId: bot.id }, 'the engine does not answer; undoing the build again shortly') });
        await ctx.journal(null);
      } catch (undoErr) {
        // The journal stays: the next build of the bot, or the next start, undoes what is left.
        this.deps.logger.error({ err: undoErr, botId: bot.id, operationId: ctx.operationId }, 'could not undo a failed container build; it is undone before the next build or at the next start');
      }
      throw err;
    }

    try {
      await failpoints.hit(`${reason}.committed`);
      await retryWhileEngineDown(() => this.finishReplace(bot.id, journal), { signal: ctx.signal });
      await ctx.journal(null);
    } catch (err) {
      // The new container runs and is recorded; the journal stays, and the next build or start tidies up.
      this.deps.logger.error({ err, botId: bot.id, operationId: ctx.operationId }, 'the new container is in place, but removing the old one or renaming the new one failed');
    }
    await ctx.phase('ready', start ? 'the container is running' : 'the container is restored and left stopped, as it was');
    return this.info(bot.id);
  }

  /**
   * Settles a create, recreate or restore that a crash cut off, from its journal: committed ones are
   * finished (the old container removed, the new one renamed, the data swap's trash removed) and
   * count as succeeded; others are undone (the new container removed, the old data moved back, the
   * old container started if it ran).
   */
  async recover(op: OperationRow, journal: ReplaceJournal): Promise<RecoveredOperation> {
    if (journal.committed) {
      await this.finishReplace(op.bot_id, journal);
      return { status: 'succeeded', container: await this.info(op.bot_id).catch(() => null) };
    }
    await this.undoReplace(op.bot_id, journal);
    return { status: 'failed' };
  }

  /**
   * Finishes or undoes what earlier builds of the bot left when the engine failed them at the end (a
   * journal kept on a finished operation); the start-up recovery does the same for every bot.
   */
  private async settleLeftovers(botId: string): Promise<void> {
    for (const op of await this.deps.store.finishedOperationsWithJournal(botId)) {
      const journal = JSON.parse(op.journal ?? 'null') as OperationJournal | null;
      if (journal?.type !== 'replace') continue;
      await this.recover(op, journal);
      await this.deps.store.updateOperation(op.id, { journal: null });
    }
  }

  /** A start or stop cut off by a crash counts as succeeded when the engine shows its effect. */
  async recoverUnjournaled(op: OperationRow): Promise<RecoveredOperation> {
    if (op.kind !== 'start' && op.kind !== 'stop') return { status: 'failed' };
    const bot = await this.deps.store.findBot(op.bot_id);
    const c = bot ? await this.engineContainer(bot) : null;
    if (!bot || !c || isRunning(c) !== (op.kind === 'start')) return { status: 'failed' };
    return { status: 'succeeded', container: await this.describe(bot, c) };
  }

  /** After the commit: the old container goes, the new one takes the bot's name, the old data goes. */
  private async finishReplace(botId: string, journal: ReplaceJournal): Promise<void> {
    const { driver } = this.deps;
    if (journal.old) await driver.removeContainer(journal.old.id);
    if (journal.id && journal.name !== containerName(botId)) {
      const next = await driver.inspectContainer(journal.id);
      if (next && next.name !== containerName(botId)) await driver.renameContainer(journal.id, containerName(botId));
    }
    if (journal.dataTrash) await ifJournaled(journal.dataTrash, finishApply);
  }

  /**
   * Before the commit: the new container goes (first, so that nothing in it writes to the data dir
   * while the old data moves back), the old data comes back, the old container runs again if it ran.
   */
  private async undoReplace(botId: string, journal: ReplaceJournal): Promise<void> {
    const { driver } = this.deps;
    await this.removeReplacement(botId, journal);
    if (journal.dataTrash) await ifJournaled(journal.dataTrash, undoApply);
    if (journal.old?.running) {
      const o = await driver.inspectContainer(journal.old.id);
      if (o && !isRunning(o)) await driver.startContainer(journal.old.id);
    }
  }

  /** Removes the container a build made (by its id, or by its name and labels when the crash came before the id was recorded), never the old one. */
  private async removeReplacement(botId: string, journal: ReplaceJournal): Promise<void> {
    const { driver } = this.deps;
    const made = journal.id ? await driver.inspectContainer(journal.id) : await driver.inspectContainer(journal.name);
    if (!made || made.id === journal.old?.id || made.labels[LABEL.bot] !== botId) return;
    if (!journal.id && made.labels[LABEL.version] !== String(journal.version) && made.name !== temporaryName(botId)) return;
    await driver.removeContainer(made.id);
  }

  async start(idOrName: string): Promise<Container> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    await this.deps.admitStart?.(bot);
    const id = await this.containerId(bot);
    const { result } = await this.deps.operations.start(bot.id, 'start', async (ctx) => {
      await ctx.phase('start', 'starting the container');
      await this.deps.store.updateBot(bot.id, { desired_running: 1 });
      await this.deps.driver.startContainer(id);
      return { container: await this.info(bot.id) };
    });
    return (await result).container;
  }

  async stop(idOrName: string, options: { timeoutSeconds?: number } = {}): Promise<Container> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const id = await this.containerId(bot);
    const { result } = await this.deps.operations.start(bot.id, 'stop', async (ctx) => {
      await ctx.phase('stop', 'stopping the container');
      await this.deps.store.updateBot(bot.id, { desired_running: 0 });
      await this.deps.driver.stopContainer(id, { timeoutSeconds: options.timeoutSeconds ?? 10 });
      return { container: await this.info(bot.id) };
    });
    return (await result).container;
  }

  /** Removes the container; the data dir is kept unless `purgeData`. */
  async remove(idOrName: string, options: { purgeData?: boolean } = {}): Promise<void> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const c = await this.mustHaveContainer(bot);
    const { result } = await this.deps.operations.start(bot.id, 'delete', async (ctx) => {
      await ctx.phase('delete', 'removing the container');
      await this.deps.driver.stopContainer(c.id, { timeoutSeconds: 10 });
      await this.deps.driver.removeContainer(c.id);
      await this.deps.store.updateBot(bot.id, { container_id: null, desired_running: 0 });
      if (options.purgeData) {
        await ctx.log('removing the data dir');
        await fs.rm(this.deps.paths.dataDir(bot.id), { recursive: true, force: true });
      }
      return { container: null };
    });
    await result;
  }

  /** The container's info, read from the engine; `container_not_found` when the bot has none. */
  async info(idOrName: string): Promise<Container> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const c = await this.mustHaveContainer(bot);
    return this.describe(bot, c);
  }

  /** Observed status of every bot's container, from one engine listing. */
  async statuses(): Promise<Map<string, ContainerStatus>> {
    const [containers, bots] = await Promise.all([this.deps.driver.listContainers({ labels: [`${LABEL.managed}=true`] }), this.deps.store.listBots()]);
    const byBot = new Map(bots.map((b) => [b.id, b]));
    const out = new Map<string, ContainerStatus>();
    for (const c of containers) {
      const bot = byBot.get(c.labels[LABEL.bot] ?? '');
      if (bot && (bot.container_id === c.id || c.name === containerName(bot.id))) out.set(bot.id, await this.statusOf(bot, c));
    }
    return out;
  }

  async statusOfBot(bot: BotRow): Promise<Bot['status']> {
    const c = await this.engineContainer(bot).catch(() => null);
    return c ? this.statusOf(bot, c) : null;
  }

  private async describe(bot: BotRow, c: ContainerState): Promise<Container> {
    const desired = configOf(bot);
    const version = Number(c.labels[LABEL.version] ?? bot.current_version);
    const versionRow = await this.deps.store.getVersion(bot.id, version);
    const applied = versionRow ? configOfVersion(versionRow) : desired;
    const running = isRunning(c);
    return {
      id: c.id,
      name: c.name,
      botId: bot.id,
      status: await this.statusOf(bot, c),
      image: c.image,
      imageId: c.imageId,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      exitCode: running ? null : c.exitCode,
      paths: { host: this.deps.paths.dataDir(bot.id), container: this.deps.containerDataPath },
      tasks: running && this.deps.countTasks ? await this.deps.countTasks(bot, c) : 0,
      processes: running ? (c.processes ?? (await this.deps.driver.countProcesses(c.id))) : 0,
      cdiDevices: (c.labels[LABEL.cdi] ?? '').split(',').filter(Boolean),
      devices: c.devices,
      version,
      // A container made before bots had networks of their own is isolated once it is recreated.
      pendingRecreate: needsRecreate(applied, desired) || (applied.network === 'bridge' && c.networks !== undefined && !c.networks.includes(botNetworkName(bot.id))),
      resources: applied.resources,
      network: applied.network,
      runtime: this.deps.driver.name,
      diskLimit: this.deps.diskLimit
        ? await this.deps.diskLimit(bot, c)
        : { mb: bot.disk_limit_mb, enforcement: 'none', usedMb: null, dataMb: null, layerMb: null, exceeded: false, measuredAt: null },
    };
  }

  /**
   * Maps the engine's state to Berth's status. The engine says `exited` both for a container Berth
   * stopped and for one that died on its own; the desired state tells them apart.
   */
  private async statusOf(bot: BotRow, c: ContainerState): Promise<ContainerStatus> {
    switch (c.state) {
      case 'running':
      case 'paused':
        return 'running';
      case 'created': {
        const op = await this.deps.store.runningOperationFor(bot.id);
        return op && (op.kind === 'create' || op.kind === 'recreate') ? 'creating' : 'stopped';
      }
      case 'exited':
        return bot.desired_running ? 'exited' : 'stopped';
      default:
        return 'error';
    }
  }

  /** The bot's container as the engine has it: by recorded id, else by Berth's name for it. */
  async engineContainer(bot: BotRow): Promise<ContainerState | null> {
    if (bot.container_id) {
      const byId = await this.deps.driver.inspectContainer(bot.container_id);
      if (byId) return byId;
    }
    const byName = await this.deps.driver.inspectContainer(containerName(bot.id));
    return byName && byName.labels[LABEL.bot] === bot.id ? byName : null;
  }

  /**
   * The engine id of the bot's container without asking the engine when Berth recorded it: start and
   * stop are hot paths, and the engine answers `container_not_found` itself for one that is gone.
   */
  private async containerId(bot: BotRow): Promise<string> {
    return bot.container_id ?? (await this.mustHaveContainer(bot)).id;
  }

  private async mustHaveContainer(bot: BotRow): Promise<ContainerState> {
    const c = await this.engineContainer(bot);
    if (!c) throw new AppError('container_not_found', { target: `bot "${bot.name}"`, reason: 'create one first' });
    return c;
  }
}

/** The name a replacement is built under while the container it replaces still has the bot's name. */
function temporaryName(botId: string): string {
  return `berth-${botId}-next`;
}

function isRunning(c: ContainerState): boolean {
  return c.state === 'running' || c.state === 'paused';
}

export type ReplaceJournal = Extract<OperationJournal, { type: 'replace' }>;

/** A restore's data swap, as the container build drives it (DataService implements it). */
export interface DataSwap {
  /** The trash dir of the swap's journaled apply: the key `finish` and `undo` take after a crash too. */
  trash: string;
  /** Moves the staged data in, journaled (a failure rolls it back itself). */
  apply(): Promise<void>;
}

/**
 * Finishes or undoes a data swap whose journal is still there; none means the swap never began (or
 * was already settled).
 */
async function ifJournaled(trash: string, settle: (trash: string) => Promise<void>): Promise<void> {
  if (await pathExists(journalOf(trash))) await settle(trash);
}
