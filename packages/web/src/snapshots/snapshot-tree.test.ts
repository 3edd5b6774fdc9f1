import { describe, expect, it } from 'vitest';
import { SnapshotName, type Snapshot } from '@berth/contract';
import { deleteSnapshotMessage, SNAPSHOT_NAME_PATTERN, snapshotTree, versionOrigin, type SnapshotNode } from './snapshot-tree.js';

function snap(id: string, parentId: string | null, minute: number): Snapshot {
  return { id, name: id, createdAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`, parentId, version: 1, source: 'manual', sizeBytes: 0, image: 'img', missing: [] };
}

/** The tree as `id(children…)`, easy to compare. */
function shape(nodes: SnapshotNode[]): string {
  return nodes.map((n) => (n.children.length ? `${n.snapshot.id}(${shape(n.children)})` : n.snapshot.id)).join(' ');
}

describe('snapshotTree', () => {
  it('hangs each snapshot under its parent, oldest first among siblings, whatever order they came in', () => {
    const list = [snap('c', 'a', 3), snap('b', 'a', 2), snap('a', null, 1), snap('d', 'b', 4), snap('e', null, 5)];
    expect(shape(snapshotTree(list))).toBe('a(b(d) c) e');
  });

  it('makes an orphan a root: its parent was deleted', () => {
    expect(shape(snapshotTree([snap('a', null, 1), snap('b', 'gone', 2)]))).toBe('a b');
  });

  it('shows snapshots whose parents lead back to themselves instead of losing them', () => {
    const tree = snapshotTree([snap('a', 'b', 1), snap('b', 'a', 2), snap('s', 's', 3)]);
    const seen = new Set<string>();
    const walk = (ns: SnapshotNode[]) => ns.forEach((n) => (seen.add(n.snapshot.id), walk(n.children)));
    walk(tree);
    expect([...seen].sort()).toEqual(['a', 'b', 's']);
  });

  it('is empty for no snapshots', () => {
    expect(snapshotTree([])).toEqual([]);
  });
});

describe('deleteSnapshotMessage', () => {
  it('says what happens to the children', () => {
    expect(deleteSnapshotMessage(0)).toBe('The container is not changed.');
    expect(deleteSnapshotMessage(1)).toBe('Its child takes its parent as its own. The container is not changed.');
    expect(deleteSnapshotMessage(3)).toBe('Its 3 children take its parent as theirs. The container is not changed.');
  });
});

describe('the snapshot name field', () => {
  it('accepts in the browser what the server accepts, and refuses what it refuses', () => {
    // Browsers match `pattern` as a whole, with the `v` flag.
    const field = new RegExp(`^(?:${SNAPSHOT_NAME_PATTERN})$`, 'v');
    for (const name of ['before-upgrade', 'v1.2', 'A', '9lives', 'x-', 'a_b', '-a', '.a', 'a b', 'a/b', 'ü']) {
      expect(field.test(name), name).toBe(SnapshotName.safeParse(name).success);
    }
  });
});

describe('versionOrigin', () => {
  it('says how a version came to be, and from which snapshot', () => {
    const names = new Map([['snap_1', 'first']]);
    expect(versionOrigin({ reason: 'create', snapshotId: null }, names)).toEqual({ what: 'created', from: null });
    expect(versionOrigin({ reason: 'recreate', snapshotId: null }, names)).toEqual({ what: 'recreated', from: null });
    expect(versionOrigin({ reason: 'restore', snapshotId: 'snap_1' }, names)).toEqual({ what: 'restored', from: 'first' });
  });

  it('names a deleted snapshot by its id', () => {
    expect(versionOrigin({ reason: 'restore', snapshotId: 'snap_9' }, new Map())).toEqual({ what: 'restored', from: 'snap_9' });
  });
});
