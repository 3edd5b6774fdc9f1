export { SnapshotsPanel } from './snapshots-panel.js';
export { VersionsPanel } from './versions-panel.js';
