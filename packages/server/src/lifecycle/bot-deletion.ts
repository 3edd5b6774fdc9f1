import { AppError } from '../errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../failpoints.js';
import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import type { BotPaths } from '../core/bot-paths.js';
import { containerName, LABEL, SNAPSHOT_LABEL } from '../core/labels.js';
import type { OperationContext } from '../core/operations.js';
import { removeTree } from '../core/safe-fs.js';

export interface BotDeletionDeps {
  store: Store;
  driver: RuntimeDriver;
  paths: BotPaths;
  logger: Logger;
  /** Removes the bot's snapshot images once its container is gone. */
  snapshots?: { removeAllForBot(botId: string): Promise<void> };
  failpoints?: Failpoints;
}

/**
 * What deleting a bot takes away, in an order a crash can resume from: the bot is marked deleting
 * first (hidden, nothing new starts on it), then its containers and network, snapshot images and directory go,
 * and its record last, so that until everything is gone the mark says what is left to do. Each
 * step may be run again; `bot-delete.<step>` failpoints sit before each.
 */
export class BotDeletion {
  private readonly failpoints: Failpoints;

  constructor(private readonly deps: BotDeletionDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
  }

  /** Removes the bot's containers, network, snapshot images and directory; the bot must be marked deleting. */
  async removeResources(botId: string, ctx?: OperationContext): Promise<void> {
    const { driver } = this.deps;
    await this.failpoints.hit('bot-delete.container');
    await ctx?.phase('container', 'removing the container');
    // Every container labelled for the bot, whatever its name, and the one with its name.
    const labelled = await driver.listContainers({ labels: [`${LABEL.managed}=true`, `${LABEL.bot}=${botId}`] });
    const ids = new Set(labelled.map((c) => c.id));
    const named = await driver.inspectContainer(containerName(botId));
    if (named?.labels[LABEL.bot] === botId) ids.add(named.id);
    for (const id of ids) await driver.removeContainer(id);
    // Its own network, once no container is on it.
    for (const net of await driver.listNetworks({ labels: [`${LABEL.managed}=true`, `${LABEL.bot}=${botId}`] })) await driver.removeNetwork(net.name);

    await this.failpoints.hit('bot-delete.images');
    await ctx?.phase('snapshots', 'removing the snapshot images');
    await this.deps.snapshots?.removeAllForBot(botId);
    const left = await driver.listImages({ labels: [`${LABEL.bot}=${botId}`, SNAPSHOT_LABEL] });
    if (left.length > 0) {
      throw new AppError('internal', { reason: `could not remove ${left.length} snapshot image(s) of the bot; the delete is finished at the next try or start` }, {
        details: { images: left.map((i) => i.id) },
      });
    }

    await this.failpoints.hit('bot-delete.files');
    await ctx?.phase('files', 'removing the data dir and snapshot trees');
    await removeTree(this.deps.paths.botDir(botId));
  }

  /** The last step: the record, with its versions, operations, snapshots, tasks and tokens. */
  async removeRecord(botId: string): Promise<void> {
    await this.failpoints.hit('bot-delete.record');
    await this.deps.store.deleteBot(botId);
  }
}
