import fs from 'node:fs/promises';
import type { Bot, Container, ContainerStatus, Operation } from '@berth/contract';
import type { CdiRegistry } from '../cdi/cdi-registry.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContainerSpec, ContainerState, RuntimeDriver } from '../runtime/driver.js';
import type { BotRow, Store } from '../store/store.js';
import { configOf, configOfVersion, needsRecreate, type BotConfig } from './bot-config.js';
import type { BotPaths } from './bot-paths.js';
import type { ChangeFeed } from './change-feed.js';
import { now } from './ids.js';
import type { OperationContext, Operations } from './operations.js';

export const LABEL = {
  managed: 'berth.managed',
  bot: 'berth.bot',
  version: 'berth.version',
  cdi: 'berth.cdi',
  /** Which Berth (its database) made it: start-up cleans up only its own leftovers. */
  instance: 'berth.instance',
} as const;

/** What a restore builds a container from instead of the bot's desired config and image. */
export interface SnapshotBuild {
  /** The snapshot's image (its root filesystem); null for a data-only snapshot: the config's image, pulled if absent. */
  image: string | null;
  /** The applied config of the version the snapshot was taken from; `image` in it stays the base image. */
  config: BotConfig;
  snapshotId: string;
  /** Start the new container (it was running before the restore). */
  start: boolean;
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
  /** Counts a bot's running background tasks (the exec API), read from its running container as just inspected. */
  countTasks?: (bot: BotRow, container: ContainerState) => Promise<number>;
  /** The `berth.instance` label put on containers (see store/instance-id.ts). */
  instanceId?: string;
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
      throw new AppError('container_exists', `bot "${bot.name}" already has a container; pass recreate: true to replace it (its data dir is kept)`, {
        details: { containerId: existing.id },
      });
    }
    const kind = existing ? 'recreate' : 'create';
    return this.deps.operations.start(bot.id, kind, async (ctx) => ({ container: await this.build(bot.id, kind, existing, ctx) }));
  }

  /**
   * Builds the bot's container from a snapshot's image with that snapshot's version config, inside a
   * running restore operation (which has already removed the old container and restored the data).
   */
  async buildFromSnapshot(botId: string, from: SnapshotBuild, ctx: OperationContext): Promise<Container> {
    return this.build(botId, 'restore', null, ctx, from);
  }

  /** `old` is the container being replaced, as found when the operation was accepted. */
  private async build(botId: string, reason: 'create' | 'recreate' | 'restore', old: ContainerState | null, ctx: OperationContext, from?: SnapshotBuild): Promise<Container> {
    const { driver, store } = this.deps;
    const bot = await store.mustGetBot(botId);
    const config = from?.config ?? configOf(bot);
    const imageRef = from?.image ?? config.image;

    await ctx.phase('image', `checking image ${imageRef}`);
    if (config.cdiDevices.length > 0) {
      if (!(await driver.capabilities()).cdi) {
        throw new AppError('cdi_unsupported', `the ${driver.name} runtime cannot inject CDI devices`, { details: { devices: config.cdiDevices } });
      }
      await this.deps.cdi.assertResolvable(config.cdiDevices);
    }
    let image = await driver.inspectImage(imageRef);
    if (!image && from?.image) throw new AppError('snapshot_not_found', `the snapshot's root filesystem image ${imageRef} is gone from the engine`, { details: { image: imageRef } });
    if (!image) {
      await ctx.phase('pull', `pulling ${config.image}`);
      for await (const progress of driver.pullImage(config.image, { signal: ctx.signal })) await ctx.pull(progress);
      image = await driver.inspectImage(config.image);
      if (!image) throw new AppError('image_not_found', `image ${config.image} is not present after pulling it`);
    } else {
      await ctx.log(`image ${imageRef} is present (${image.id.slice(0, 19)})`);
    }

    await ctx.phase('create', reason === 'recreate' ? 'replacing the container; the data dir is kept' : reason === 'restore' ? 'creating the container from the snapshot' : 'creating the container');
    if (old) {
      await driver.stopContainer(old.id, { timeoutSeconds: 10 });
      await driver.removeContainer(old.id);
      await store.updateBot(bot.id, { container_id: null });
    }
    const dataDir = this.deps.paths.dataDir(bot.id);
    await fs.mkdir(dataDir, { recursive: true });
    const version = bot.current_version + 1;
    const spec: ContainerSpec = {
      name: containerName(bot.id),
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
    };
    const { id } = await driver.createContainer(spec, { signal: ctx.signal, image });
    // A container built from the image starts a fresh line of snapshots (head null); a restored one
    // descends from its snapshot.
    const start = from?.start ?? true;
    await store.updateBot(bot.id, { container_id: id, desired_running: start ? 1 : 0, head_snapshot_id: from?.snapshotId ?? null, updated_at: bot.updated_at });
    await store.insertVersion({ bot_id: bot.id, version, created_at: now(), reason, image: imageRef, image_id: image.id, config: JSON.stringify(config), snapshot_id: from?.snapshotId ?? null });
    this.deps.changes.publish({ type: 'container.changed', botId: bot.id, status: 'creating' });

    if (!start) {
      await ctx.phase('ready', 'the container is restored and left stopped, as it was');
      return this.info(bot.id);
    }
    await ctx.phase('start', 'starting the container');
    await driver.startContainer(id);
    await ctx.phase('ready', 'the container is running');
    return this.info(bot.id);
  }

  async start(idOrName: string): Promise<Container> {
    const bot = await this.deps.store.mustGetBot(idOrName);
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
    const running = c.state === 'running' || c.state === 'paused';
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
      pendingRecreate: needsRecreate(applied, desired),
      resources: applied.resources,
      network: applied.network,
      runtime: this.deps.driver.name,
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
    if (!c) throw new AppError('container_not_found', `bot "${bot.name}" has no container; create one first`);
    return c;
  }
}

export function containerName(botId: string): string {
  return `berth-${botId}`;
}
