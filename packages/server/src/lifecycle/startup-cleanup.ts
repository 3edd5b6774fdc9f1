import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import type { BotDeletion } from './bot-deletion.js';
import { LABEL } from '../core/labels.js';
import { removeTree } from '../core/safe-fs.js';

export interface StartupCleanupReport {
  /** Bots whose delete was cut off, now deleted. */
  finishedDeletes: string[];
  /** Containers of this Berth labelled for a bot that does not exist, now removed. */
  orphanContainers: { id: string; name: string; botId: string | null }[];
  /** Networks of this Berth made for a bot that does not exist, now removed. */
  orphanNetworks: { name: string; botId: string | null }[];
  /** Directories under BERTH_HOME/bots of no bot, now removed. */
  orphanDirs: string[];
}

/**
 * Start-up, before the reconciliation with the engine: finishes the deletes a crash cut off, then
 * removes what no bot owns any more — containers and networks this Berth made (its `berth.instance`
 * label) for bots that do not exist, and bot directories without a bot. Containers of other Berths, and those
 * made before containers carried the instance label, are left to the reconciliation, which reports
 * them. Each removal is logged; a failure is logged and left for the next start. On the first start
 * of a database, directories are only reported: a lost or replaced database must not take the data
 * dirs with it.
 */
export async function cleanUpAtStart(deps: {
  store: Store;
  driver: RuntimeDriver;
  deletion: BotDeletion;
  home: string;
  instanceId: string;
  /** The database is new (or from before instance ids): directories without a bot may be data it never knew; keep them. */
  keepOrphanDirs?: boolean;
  logger: Logger;
}): Promise<StartupCleanupReport> {
  const { store, driver, deletion, logger } = deps;
  const report: StartupCleanupReport = { finishedDeletes: [], orphanContainers: [], orphanNetworks: [], orphanDirs: [] };

  for (const bot of await store.listDeletingBots()) {
    try {
      await deletion.removeResources(bot.id);
      await deletion.removeRecord(bot.id);
      report.finishedDeletes.push(bot.id);
      logger.warn({ botId: bot.id, name: bot.name }, 'finished deleting a bot whose delete was interrupted');
    } catch (err) {
      logger.error({ err, botId: bot.id }, 'could not finish deleting a bot whose delete was interrupted; tried again at the next start or delete');
    }
  }

  const bots = await store.allBotIds();
  for (const c of await driver.listContainers({ labels: [`${LABEL.managed}=true`, `${LABEL.instance}=${deps.instanceId}`] })) {
    const botId = c.labels[LABEL.bot] ?? null;
    if (botId && bots.has(botId)) continue;
    try {
      await driver.removeContainer(c.id);
      report.orphanContainers.push({ id: c.id, name: c.name, botId });
      logger.warn({ containerId: c.id, name: c.name, botId }, 'removed a container of a bot that no longer exists');
    } catch (err) {
      logger.error({ err, containerId: c.id, name: c.name, botId }, 'could not remove a container of a bot that no longer exists');
    }
  }

  // After the containers: a network goes only once nothing is on it.
  for (const n of await driver.listNetworks({ labels: [`${LABEL.managed}=true`, `${LABEL.instance}=${deps.instanceId}`] })) {
    const botId = n.labels[LABEL.bot] ?? null;
    if (botId && bots.has(botId)) continue;
    try {
      await driver.removeNetwork(n.name);
      report.orphanNetworks.push({ name: n.name, botId });
      logger.warn({ network: n.name, botId }, 'removed the network of a bot that no longer exists');
    } catch (err) {
      logger.error({ err, network: n.name, botId }, 'could not remove the network of a bot that no longer exists');
    }
  }

  const botsDir = path.join(deps.home, 'bots');
  const entries = await fs.readdir(botsDir, { withFileTypes: true }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  });
  for (const entry of entries) {
    if (!entry.isDirectory() || bots.has(entry.name)) continue;
    const dir = path.join(botsDir, entry.name);
    if (deps.keepOrphanDirs) {
      logger.warn({ dir }, 'a directory of no bot is kept: the database is new here, so it may hold data it never knew; it is removed from the next start on');
      continue;
    }
    try {
      await removeTree(dir);
      report.orphanDirs.push(dir);
      logger.warn({ dir }, 'removed the directory of a bot that no longer exists');
    } catch (err) {
      logger.error({ err, dir }, 'could not remove the directory of a bot that no longer exists');
    }
  }
  return report;
}
