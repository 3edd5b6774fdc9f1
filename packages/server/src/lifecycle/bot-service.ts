import type { Bot, CreateBotBody, PatchBotBody } from '@berth/contract';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { Failpoints } from '../failpoints.js';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import { checkImageReference } from './image-reference.js';
import { toBot } from './bot-config.js';
import { BotDeletion } from './bot-deletion.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { ChangeFeed } from '../core/change-feed.js';
import type { ContainerService } from './container-service.js';
import { newId, now } from '../core/ids.js';
import type { Operations } from '../core/operations.js';

export interface BotServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  containers: ContainerService;
  paths: BotPaths;
  changes: ChangeFeed;
  logger: Logger;
  defaultImage: string;
  defaultPidsLimit: number;
  /** The disk limit (MiB) of a bot whose create names none; null: no limit. */
  defaultDiskLimitMb?: number | null;
  /** Removes the bot's snapshot images once its container is gone. */
  snapshots?: { removeAllForBot(botId: string): Promise<void> };
  operations: Operations;
  failpoints?: Failpoints;
  /** Registries on local addresses the engine is configured with, which images may name (image-reference.ts). */
  allowedRegistries?: readonly string[];
}

/** Bots: the desired config of each bot's container, kept in the database. */
export class BotService {
  readonly deletion: BotDeletion;

  constructor(private readonly deps: BotServiceDeps) {
    this.deletion = new BotDeletion(deps);
  }

  async create(body: z.output<typeof CreateBotBody>): Promise<Bot> {
    if (body.image !== undefined) this.checkImage(body.image);
    const at = now();
    const row = await this.deps.store.insertBot({
      id: newId('bot'),
      name: body.name,
      image: body.image ?? this.deps.defaultImage,
      cdi_devices: JSON.stringify(body.cdiDevices ?? []),
      resources: JSON.stringify({
        cpus: body.resources?.cpus ?? null,
        memoryMb: body.resources?.memoryMb ?? null,
        pidsLimit: body.resources?.pidsLimit ?? this.deps.defaultPidsLimit,
      }),
      network: body.network ?? 'bridge',
      env: JSON.stringify(body.env ?? {}),
      disk_limit_mb: body.diskLimitMb === undefined ? (this.deps.defaultDiskLimitMb ?? null) : body.diskLimitMb,
      created_at: at,
      updated_at: at,
      desired_running: 0,
      container_id: null,
      current_version: 0,
      head_snapshot_id: null,
    });
    this.deps.changes.publish({ type: 'bot.created', botId: row.id, status: null });
    return toBot(row, null);
  }

  async list(): Promise<Bot[]> {
    const [rows, statuses] = await Promise.all([this.deps.store.listBots(), this.deps.containers.statuses()]);
    return rows.map((r) => toBot(r, statuses.get(r.id) ?? null));
  }

  async get(idOrName: string): Promise<Bot> {
    const row = await this.deps.store.mustGetBot(idOrName);
    return toBot(row, await this.deps.containers.statusOfBot(row));
  }

  /** Changes the desired config; a container picks it up at its next create or recreate. */
  async update(idOrName: string, patch: z.output<typeof PatchBotBody>): Promise<Bot> {
    const row = await this.deps.store.mustGetBot(idOrName);
    if (patch.image !== undefined) this.checkImage(patch.image);
    const resources = patch.resources ? { ...(JSON.parse(row.resources) as object), ...patch.resources } : undefined;
    const updated = await this.deps.store.updateBot(row.id, {
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.image !== undefined && { image: patch.image }),
      ...(patch.cdiDevices !== undefined && { cdi_devices: JSON.stringify(patch.cdiDevices) }),
      ...(resources !== undefined && { resources: JSON.stringify(resources) }),
      ...(patch.network !== undefined && { network: patch.network }),
      ...(patch.env !== undefined && { env: JSON.stringify(patch.env) }),
      // Applies at once (it needs no new container): the next measurement is judged by it.
      ...(patch.diskLimitMb !== undefined && { disk_limit_mb: patch.diskLimitMb }),
      updated_at: now(),
    });
    this.deps.changes.publish({ type: 'bot.updated', botId: row.id });
    return toBot(updated, await this.deps.containers.statusOfBot(updated));
  }

  /** An image set on a bot must be a valid reference from an allowed registry (`image_invalid`). */
  private checkImage(image: string): void {
    checkImageReference(image, { allowedRegistries: this.deps.allowedRegistries ?? [] });
  }

  /**
   * Removes the bot with its container, snapshots, data dir and records, as a `delete-bot` operation:
   * while another operation of the bot runs (a create, an import...) it answers 409
   * `operation_in_progress` and removes nothing; once it has begun the bot is gone for everything
   * else (404), and a create or import asked for meanwhile is refused. A delete of a bot whose delete
   * is already running waits for that one. A delete cut off (crash, engine error) is finished by the
   * next delete or at the next start.
   */
  async remove(idOrName: string): Promise<void> {
    const bot = await this.deps.store.findBotEvenIfDeleting(idOrName);
    if (!bot) throw new AppError('bot_not_found', { bot: idOrName });
    let started;
    try {
      started = await this.deps.operations.start(bot.id, 'delete-bot', async (ctx) => {
        await ctx.phase('mark', 'marking the bot as being deleted');
        await this.deps.store.markBotDeleting(bot.id);
        this.deps.changes.publish({ type: 'bot.deleted', botId: bot.id });
        await this.deletion.removeResources(bot.id, ctx);
        return { container: null };
      });
    } catch (err) {
      const running = err instanceof AppError && err.code === 'operation_in_progress' ? (err.details as { operationId?: string; kind?: string } | undefined) : undefined;
      if (running?.kind !== 'delete-bot' || !running.operationId) throw err;
      // Another delete of it runs: this one ends with it (and finishes what it could not).
      await this.deps.operations.settled(running.operationId);
      if (await this.deps.store.findBotEvenIfDeleting(bot.id)) return this.remove(bot.id);
      return;
    }
    await started.result;
    // The record goes after the operation has ended (its rows go with it): until then, the mark says what is left to do.
    await this.deletion.removeRecord(bot.id);
    this.deps.logger.info({ botId: bot.id, operationId: started.operation.id }, 'bot deleted');
  }
}
