/** Lifecycle: bots, their one container, its builds, start-up reconciliation and crash recovery. */
export { BotService } from './bot-service.js';
export { configOf, configOfVersion, type BotConfig } from './bot-config.js';
export { BotDeletion } from './bot-deletion.js';
export { ContainerService, type DataSwap, type SnapshotBuild } from './container-service.js';
export { DiskLimits, withinRoom } from './disk-limits.js';
export { PauseWatchdog } from './pause-watchdog.js';
export { reconcile, type UnmanagedContainer } from './reconciler.js';
export { operationRecovery } from './recovery.js';
export { cleanUpAtStart } from './startup-cleanup.js';
export { checkImageReference } from './image-reference.js';
