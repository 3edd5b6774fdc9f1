import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import { configOf } from './bot-config.js';
import { containerName, LABEL } from '../core/labels.js';
import { now } from '../core/ids.js';

export interface UnmanagedContainer {
  id: string;
  name: string;
  botId: string | null;
}

/**
 * Start-up reconciliation, after the operations a crash cut off are settled (Operations.recoverInterrupted):
 * each bot's record is brought in line with what the engine really has. Containers carrying Berth's labels are adopted
 * when they belong to a known bot and reported otherwise. Nothing in a data dir is ever touched.
 */
export async function reconcile(deps: { store: Store; driver: RuntimeDriver; logger: Logger }): Promise<{ unmanaged: UnmanagedContainer[] }> {
  const { store, driver, logger } = deps;

  const containers = await driver.listContainers({ labels: [`${LABEL.managed}=true`] });
  const bots = new Map((await store.listBots()).map((b) => [b.id, b]));
  const unmanaged: UnmanagedContainer[] = [];
  const claimed = new Set<string>();
  // A bot whose build left a journal (the engine failed it at the end) is settled from that journal.
  const unsettled = await store.botsWithUnsettledBuild();
  const listed = new Set(containers.map((c) => c.id));

  for (const c of containers) {
    const botId = c.labels[LABEL.bot] ?? null;
    const bot = botId ? bots.get(botId) : undefined;
    if (bot && unsettled.has(bot.id)) {
      claimed.add(bot.id);
      continue;
    }
    // The container Berth recorded, whatever its name; else the one with the bot's name, unless the recorded one is there.
    const recorded = bot !== undefined && c.id === bot.container_id;
    const named = bot !== undefined && c.name === containerName(bot.id) && !(bot.container_id && bot.container_id !== c.id && listed.has(bot.container_id));
    if (!bot || (!recorded && !named)) {
      unmanaged.push({ id: c.id, name: c.name, botId });
      logger.warn({ containerId: c.id, name: c.name, botId }, 'container carries Berth labels but matches no bot; left untouched');
      continue;
    }
    claimed.add(bot.id);
    const version = Number(c.labels[LABEL.version] ?? 0);
    if (version > bot.current_version) {
      // Made by a create of a Berth from before operations kept journals, cut off after the engine
      // made it: record the version it claims. (Journaled builds are settled before this runs.)
      await store.insertVersion({
        bot_id: bot.id,
        version,
        created_at: c.createdAt || now(),
        reason: bot.current_version === 0 ? 'create' : 'recreate',
        image: c.image,
        image_id: c.imageId,
        config: JSON.stringify(configOf(bot)),
        snapshot_id: null,
      });
      logger.warn({ botId: bot.id, version }, 'adopted a container whose create was interrupted');
    }
    if (bot.container_id !== c.id) {
      await store.updateBot(bot.id, { container_id: c.id, desired_running: c.state === 'running' || c.state === 'paused' ? 1 : bot.desired_running });
      logger.info({ botId: bot.id, containerId: c.id }, 'adopted container');
    }
  }
  for (const bot of bots.values()) {
    if (!claimed.has(bot.id) && bot.container_id) {
      await store.updateBot(bot.id, { container_id: null, desired_running: 0 });
      logger.warn({ botId: bot.id, containerId: bot.container_id }, 'recorded container is gone from the engine');
    }
  }
  return { unmanaged };
}
