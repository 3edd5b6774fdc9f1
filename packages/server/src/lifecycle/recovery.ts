import type { OperationRow } from '../store/store.js';
import type { ContainerService } from './container-service.js';
import type { DataService } from '../data/index.js';
import type { OperationJournal, RecoveredOperation } from '../core/operations.js';
import type { SnapshotService } from '../snapshots/index.js';

/**
 * Start-up: how each operation a crash cut off is settled, by what its journal says it was doing
 * (a restore's journal says `snapshot` while it takes its automatic snapshot, `replace` once it
 * builds the container). Without a journal nothing was begun that needs undoing, or a start or stop
 * whose effect the engine shows.
 */
export function operationRecovery(deps: { containers: ContainerService; snapshots: SnapshotService; data: DataService }) {
  return (op: OperationRow, journal: OperationJournal | null): Promise<RecoveredOperation> => {
    switch (journal?.type) {
      case 'replace':
        return deps.containers.recover(op, journal);
      case 'snapshot':
        return deps.snapshots.recover(op, journal);
      case 'data':
        return deps.data.recover(op, journal);
      default:
        return deps.containers.recoverUnjournaled(op);
    }
  };
}
