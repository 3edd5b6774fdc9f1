import { useCallback, useEffect, useState } from 'react';
import type { Bot, Snapshot, SnapshotList } from '@berth/contract';
import { berth } from '../api.js';
import { formatBytes, formatTime } from '../components/format.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';
import { useLiveRefresh } from '../live.js';
import { deleteSnapshotMessage, SNAPSHOT_NAME_PATTERN, snapshotTree, type SnapshotNode as Node } from './snapshot-tree.js';

/** Snapshots: take one (asks a name), the tree with times and sizes, restore and delete each. */
export function SnapshotsPanel({ bot, hasContainer, busy }: { bot: Bot; hasContainer: boolean; busy: boolean }) {
  const [list, setList] = useState<SnapshotList | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [working, setWorking] = useState<string | null>(null);
  const { dialog, ask } = useDialog();

  const load = useCallback(() => {
    berth.listSnapshots(bot.id).then(
      (l) => {
        setList(l);
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, [bot.id]);
  useEffect(load, [load]);
  useLiveRefresh(bot.id, load);

  const run = async (label: string, fn: () => Promise<unknown>) => {
    setWorking(label);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setWorking(null);
      load();
    }
  };

  const create = async () => {
    const answer = await ask({
      title: 'Create a snapshot',
      message: <p>Captures the container’s file system changes and its data directory. A running container keeps running.</p>,
      input: { label: 'Snapshot name', placeholder: 'before-upgrade', pattern: SNAPSHOT_NAME_PATTERN, hint: 'Letters, digits, . and -, starting with a letter or digit.' },
      confirmLabel: 'Create snapshot',
    });
    if (answer) await run('create', () => berth.createSnapshot(bot.id, { name: answer.value }));
  };

  const restore = async (s: Snapshot) => {
    const answer = await ask({
      title: `Restore “${s.name}”?`,
      message: (
        <p>
          The container’s file system and its data directory go back to how they were at {formatTime(s.createdAt)}. Running processes are restarted. Other snapshots are kept.
        </p>
      ),
      checkbox: { label: 'Discard the current state instead of keeping it as an automatic snapshot' },
      confirmLabel: 'Restore',
      danger: true,
    });
    if (answer) await run(`restore-${s.id}`, () => berth.restoreSnapshot(bot.id, s.id, { keepCurrent: !answer.checked }));
  };

  const remove = async (s: Snapshot, childCount: number) => {
    const ok = await ask({
      title: `Delete the snapshot “${s.name}”?`,
      message: <p>{deleteSnapshotMessage(childCount)}</p>,
      confirmLabel: 'Delete snapshot',
      danger: true,
    });
    if (ok) await run(`delete-${s.id}`, () => berth.deleteSnapshot(bot.id, s.id));
  };

  const disabled = busy || working !== null;
  const tree = list ? snapshotTree(list.snapshots) : [];

  const renderNode = (n: Node) => {
    const s = n.snapshot;
    const isHead = list?.head === s.id;
    return (
      <li key={s.id} data-snapshot={s.name}>
        <div className={`snapshot ${isHead ? 'snapshot-head' : ''}`}>
          <div className="snapshot-main">
            <span className="snapshot-name">{s.name}</span>
            {s.source === 'auto' && <span className="badge">auto</span>}
            {s.image === null && (
              <span className="badge" title="Taken while the bot had no container: it holds the data directory; restoring it builds the container from the bot’s image">
                data only
              </span>
            )}
            {isHead && (
              <span className="badge badge-creating" title="The current state descends from this snapshot">
                current
              </span>
            )}
            {s.missing.length > 0 && <span className="badge badge-error">missing {s.missing.join(' and ')}</span>}
            <div className="muted small">
              <time dateTime={s.createdAt}>{formatTime(s.createdAt)}</time> · {formatBytes(s.sizeBytes)} · version {s.version}
            </div>
          </div>
          <div className="actions">
            <button type="button" className="small" disabled={disabled || !hasContainer || s.missing.length > 0} onClick={() => void restore(s)} aria-label={`Restore ${s.name}`}>
              {working === `restore-${s.id}` ? 'Restoring…' : 'Restore'}
            </button>
            <button type="button" className="small danger" disabled={disabled} onClick={() => void remove(s, n.children.length)} aria-label={`Delete ${s.name}`}>
              Delete
            </button>
          </div>
        </div>
        {n.children.length > 0 && <ul className="snapshot-tree">{n.children.map(renderNode)}</ul>}
      </li>
    );
  };

  return (
    <section className="card" aria-labelledby="snapshots-title">
      {dialog}
      <div className="card-head">
        <h2 id="snapshots-title">Snapshots</h2>
        <button type="button" className="primary" disabled={disabled || !hasContainer} onClick={() => void create()}>
          {working === 'create' ? 'Creating snapshot…' : 'Create snapshot'}
        </button>
      </div>
      <ErrorMessage error={error} onDismiss={() => setError(null)} />
      {!list ? (
        !error && <p className="muted">Loading…</p>
      ) : list.snapshots.length === 0 ? (
        <p className="muted">{hasContainer ? 'No snapshots yet.' : 'No snapshots. Create the container first, then take one.'}</p>
      ) : (
        <ul className="snapshot-tree snapshot-root" aria-label="Snapshots by parent">
          {tree.map(renderNode)}
        </ul>
      )}
    </section>
  );
}
