import { useCallback, useEffect, useState } from 'react';
import type { Bot, Snapshot, VersionList } from '@berth/contract';
import { berth } from '../api.js';
import { formatTime } from '../components/format.js';
import { ErrorMessage } from '../components/error-message.js';
import { useLiveRefresh } from '../live.js';
import { versionOrigin } from './snapshot-tree.js';

/** Versions: the current container version and every instance built for the bot, newest first. */
export function VersionsPanel({ bot }: { bot: Bot }) {
  const [versions, setVersions] = useState<VersionList | null>(null);
  const [snapshotNames, setSnapshotNames] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(() => {
    Promise.all([berth.listVersions(bot.id), berth.listSnapshots(bot.id).catch(() => ({ snapshots: [] as Snapshot[] }))]).then(
      ([v, s]) => {
        setVersions(v);
        setSnapshotNames(new Map(s.snapshots.map((x) => [x.id, x.name])));
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, [bot.id]);
  useEffect(load, [load]);
  useLiveRefresh(bot.id, load);

  return (
    <section className="card" aria-labelledby="versions-title">
      <div className="card-head">
        <h2 id="versions-title">Versions</h2>
        {versions && (
          <span data-testid="current-version">
            Current: <strong>{versions.current > 0 ? `version ${versions.current}` : 'none yet'}</strong>
          </span>
        )}
      </div>
      <ErrorMessage error={error} />
      {versions && versions.history.length === 0 && <p className="muted">No container has been built for this bot yet.</p>}
      {versions && versions.history.length > 0 && (
        <div className="table-wrap">
          <table className="versions-table stack-table">
            <caption className="visually-hidden">Every container version, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Image</th>
                <th scope="col">CDI devices</th>
              </tr>
            </thead>
            <tbody>
              {[...versions.history].reverse().map((v) => {
                const origin = versionOrigin(v, snapshotNames);
                return (
                <tr key={v.version} data-version={v.version} className={v.version === versions.current ? 'current-row' : undefined}>
                  <th scope="row">
                    {v.version}
                    {v.version === versions.current && <span className="badge badge-running">current</span>}
                  </th>
                  <td data-label="When">
                    <time dateTime={v.createdAt}>{formatTime(v.createdAt)}</time>
                  </td>
                  <td data-label="What">
                    {origin.what}
                    {origin.from !== null && <span className="muted"> from “{origin.from}”</span>}
                  </td>
                  <td data-label="Image" className="mono wrap">
                    {v.image}
                  </td>
                  <td data-label="CDI devices" className="mono wrap">
                    {v.cdiDevices.length > 0 ? v.cdiDevices.join(', ') : <span className="muted">none</span>}
                  </td>
                </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
