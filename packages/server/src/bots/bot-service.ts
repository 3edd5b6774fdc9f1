import fs from 'node:fs/promises';
import type { Bot, CreateBotBody, PatchBotBody } from '@berth/contract';
import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import { toBot } from './bot-config.js';
import type { BotPaths } from './bot-paths.js';
import type { ChangeFeed } from './change-feed.js';
import type { ContainerService } from './container-service.js';
import { newId, now } from './ids.js';

export interface BotServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  containers: ContainerService;
  paths: BotPaths;
  changes: ChangeFeed;
  logger: Logger;
  defaultImage: string;
  defaultPidsLimit: number;
  /** Removes the bot's snapshot images once its container is gone. */
  snapshots?: { removeAllForBot(botId: string): Promise<void> };
}

/** Bots: the desired config of each bot's container, kept in the database. */
export class BotService {
  constructor(private readonly deps: BotServiceDeps) {}

  async create(body: z.output<typeof CreateBotBody>): Promise<Bot> {
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
    const resources = patch.resources ? { ...(JSON.parse(row.resources) as object), ...patch.resources } : undefined;
    const updated = await this.deps.store.updateBot(row.id, {
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.image !== undefined && { image: patch.image }),
      ...(patch.cdiDevices !== undefined && { cdi_devices: JSON.stringify(patch.cdiDevices) }),
      ...(resources !== undefined && { resources: JSON.stringify(resources) }),
      ...(patch.network !== undefined && { network: patch.network }),
      ...(patch.env !== undefined && { env: JSON.stringify(patch.env) }),
      updated_at: now(),
    });
    this.deps.changes.publish({ type: 'bot.updated', botId: row.id });
    return toBot(updated, await this.deps.containers.statusOfBot(updated));
  }

  /** Removes the bot with its container, data dir and records. */
  async remove(idOrName: string): Promise<void> {
    const row = await this.deps.store.mustGetBot(idOrName);
    await this.deps.store.assertNoRunningOperation(row.id);
    const c = await this.deps.containers.engineContainer(row);
    if (c) await this.deps.driver.removeContainer(c.id);
    await this.deps.snapshots?.removeAllForBot(row.id);
    await this.deps.store.deleteBot(row.id);
    await fs.rm(this.deps.paths.botDir(row.id), { recursive: true, force: true });
    this.deps.logger.info({ botId: row.id }, 'bot deleted');
    this.deps.changes.publish({ type: 'bot.deleted', botId: row.id });
  }
}
