/** Snapshots: saved states of a bot (image + data), their tree, restore, and the version history. */
export { SnapshotService, snapshotsDir } from './snapshot-service.js';
export { HardLinkedDataSnapshots } from './data-snapshot-store.js';
export { reconcileSnapshots } from './snapshot-reconciler.js';
