import type { Logger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { SnapshotStore } from '../store/snapshot-store.js';
import type { Store } from '../store/store.js';
import { containerName, LABEL, SNAPSHOT_LABEL } from '../core/labels.js';
import type { HardLinkedDataSnapshots } from './data-snapshot-store.js';

export interface SnapshotReconcileReport {
  /** Listed snapshots with a part gone. */
  incomplete: { botId: string; snapshotId: string; missing: string[] }[];
  /** Tagged snapshot images that no listed snapshot owns (left alone). */
  unknownImages: { id: string; names: string[]; botId: string | null; snapshotId: string | null }[];
  /** Snapshot trees on disk that no listed snapshot owns: left by an interrupted snapshot, removed. */
  removedDirs: { botId: string; name: string }[];
  /** Containers found paused (a snapshot cut off by a crash) and resumed. */
  unpaused: string[];
}

/**
 * Start-up reconciliation of snapshots with the engine and the disk, after the container
 * reconciliation. A listed snapshot whose image or data tree is gone is logged and marked (never
 * dropped). What Berth itself left half-done is finished: containers it paused for a snapshot are
 * resumed; staging trees, images and trees of captures a crash cut off before they were recorded are
 * removed, and so are images a delete could only untag, once unused. Snapshot images of bots Berth
 * does not know are reported and left alone.
 * Nothing in a data dir is touched.
 */
export async function reconcileSnapshots(deps: { store: Store; snapshots: SnapshotStore; driver: RuntimeDriver; data: HardLinkedDataSnapshots; logger: Logger }): Promise<SnapshotReconcileReport> {
  const { store, snapshots, driver, data, logger } = deps;
  const report: SnapshotReconcileReport = { incomplete: [], unknownImages: [], removedDirs: [], unpaused: [] };
  const bots = new Map((await store.listBots()).map((b) => [b.id, b]));

  // Berth never leaves a container paused on purpose: one paused now was cut off mid-snapshot or mid-import.
  for (const c of await driver.listContainers({ labels: [`${LABEL.managed}=true`] })) {
    const botId = c.labels[LABEL.bot] ?? '';
    if (c.state === 'paused' && bots.has(botId) && c.name === containerName(botId)) {
      await driver.unpauseContainer(c.id);
      report.unpaused.push(c.id);
      logger.warn({ botId, containerId: c.id }, 'resumed a container left paused by an interrupted snapshot or import');
    }
  }

  const rows = await snapshots.listAll();
  const listed = new Set(rows.map((r) => r.id));
  const images = await driver.listImages({ labels: [`${LABEL.managed}=true`, SNAPSHOT_LABEL] });
  const taggedRefs = new Set(images.flatMap((i) => i.names));

  for (const row of rows) {
    const missing: string[] = [];
    // A data-only snapshot (taken while the bot had no container) has no image to miss.
    if (row.image_ref && !taggedRefs.has(row.image_ref) && !(await driver.inspectImage(row.image_ref))) missing.push('rootfs');
    if (!(await data.has(row.bot_id, row.id))) missing.push('data');
    if ((row.missing ?? '') !== missing.join(',')) await snapshots.setMissing(row.id, missing);
    if (missing.length > 0) {
      report.incomplete.push({ botId: row.bot_id, snapshotId: row.id, missing });
      logger.error({ botId: row.bot_id, snapshotId: row.id, name: row.name, missing }, 'snapshot is incomplete and cannot be restored; marked, not removed');
    }
  }

  for (const image of images) {
    const snapshotId = image.labels[SNAPSHOT_LABEL] ?? null;
    if (snapshotId && listed.has(snapshotId)) continue;
    const botId = image.labels[LABEL.bot] ?? null;
    if (image.containers === 0 && botId && bots.has(botId)) {
      // Untagged by a delete while a container used it, which is gone now; or tagged by a snapshot a
      // crash cut off before it was recorded. Either way Berth's own, and nothing needs it.
      for (const ref of image.names.length > 0 ? image.names : [image.id]) {
        await driver.removeImage(ref).catch((err: unknown) => logger.warn({ err, image: image.id }, 'could not remove a snapshot image no snapshot owns'));
      }
      if (image.names.length > 0) logger.warn({ image: image.id, names: image.names, botId, snapshotId }, 'removed the image of a snapshot that was never recorded (interrupted)');
      continue;
    }
    if (image.names.length === 0) continue;
    report.unknownImages.push({ id: image.id, names: image.names, botId, snapshotId });
    logger.warn({ image: image.id, names: image.names, botId, snapshotId }, 'snapshot image matches no listed snapshot; left untouched');
  }

  for (const botId of bots.keys()) {
    const disk = await data.onDisk(botId);
    for (const name of disk.staging) {
      await data.removeStaging(botId, name);
      logger.warn({ botId, dir: name }, 'removed the staging tree of an interrupted snapshot');
    }
    for (const name of disk.snapshots) {
      if (listed.has(name)) continue;
      // Moved into place by a snapshot a crash cut off before it was recorded.
      await data.remove(botId, name);
      report.removedDirs.push({ botId, name });
      logger.warn({ botId, dir: name }, 'removed the data tree of a snapshot that was never recorded (interrupted)');
    }
  }
  return report;
}
