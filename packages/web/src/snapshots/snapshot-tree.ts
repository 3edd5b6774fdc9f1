import type { Snapshot, Version } from '@berth/contract';

export interface SnapshotNode {
  snapshot: Snapshot;
  children: SnapshotNode[];
}

/**
 * Snapshots as a tree by parent, oldest first among siblings. An orphan becomes a root, and so does a
 * snapshot whose parents lead back to itself, which would otherwise hang from no root and not be shown.
 */
export function snapshotTree(snapshots: readonly Snapshot[]): SnapshotNode[] {
  const nodes = new Map(snapshots.map((s) => [s.id, { snapshot: s, children: [] as SnapshotNode[] }]));
  const roots: SnapshotNode[] = [];
  const byTime = [...snapshots].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  for (const s of byTime) {
    const node = nodes.get(s.id);
    if (!node) continue;
    const parent = s.parentId && !inCycle(s.id, nodes) ? nodes.get(s.parentId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

function inCycle(id: string, nodes: ReadonlyMap<string, SnapshotNode>): boolean {
  let at = nodes.get(id)?.snapshot.parentId ?? null;
  for (let steps = 0; at !== null && steps <= nodes.size; steps++) {
    if (at === id) return true;
    at = nodes.get(at)?.snapshot.parentId ?? null;
  }
  return false;
}

/** What deleting a snapshot does to its children, said before it is done. */
export function deleteSnapshotMessage(childCount: number): string {
  const children = childCount === 0 ? '' : childCount === 1 ? 'Its child takes its parent as its own. ' : `Its ${childCount} children take its parent as theirs. `;
  return `${children}The container is not changed.`;
}

/** The rule the server holds snapshot names to, for the name field. */
export const SNAPSHOT_NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9.\\-]*';

const REASONS: Record<Version['reason'], string> = { create: 'created', recreate: 'recreated', restore: 'restored' };

/** How a version came to be, and from which snapshot (by name while it exists, else by id). */
export function versionOrigin(v: Pick<Version, 'reason' | 'snapshotId'>, snapshotNames: ReadonlyMap<string, string>): { what: string; from: string | null } {
  const what = Object.hasOwn(REASONS, v.reason) ? REASONS[v.reason] : v.reason;
  return { what, from: v.snapshotId ? (snapshotNames.get(v.snapshotId) ?? v.snapshotId) : null };
}
