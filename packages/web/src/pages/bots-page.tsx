import { useCallback, useEffect, useState } from 'react';
import type { Bot } from '@berth/contract';
import { berth } from '../api.js';
import { formatTime } from '../components/format.js';
import { ErrorMessage } from '../components/error-message.js';
import { StatusBadge } from '../components/status-badge.js';
import { useLiveRefresh } from '../live.js';
import { Link, botPath, useTitle } from '../router.js';

/** Every bot with its container's live status. */
export function BotsPage() {
  useTitle('Bots');
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(() => {
    berth.listBots().then(
      (b) => {
        setBots(b);
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, []);
  useEffect(load, [load]);
  useLiveRefresh(null, load);

  return (
    <section aria-labelledby="bots-title">
      <div className="page-head">
        <h1 id="bots-title">Bots</h1>
        <Link href="/bots/new" className="button primary">
          New bot
        </Link>
      </div>
      <ErrorMessage error={error} />
      {bots === null ? (
        !error && <p className="muted">Loading…</p>
      ) : bots.length === 0 ? (
        <div className="card empty">
          <p>No bots yet.</p>
          <Link href="/bots/new" className="button primary">
            Create the first bot
          </Link>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="bots-table stack-table">
            <caption className="visually-hidden">Bots, with the status of their containers</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Image</th>
                <th scope="col">Version</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {bots.map((b) => (
                <tr key={b.id} data-bot={b.name}>
                  <th scope="row">
                    <Link href={botPath(b.name)}>{b.name}</Link>
                  </th>
                  <td data-label="Status">
                    <StatusBadge status={b.status} />
                  </td>
                  <td data-label="Image" className="mono wrap">
                    {b.image}
                  </td>
                  <td data-label="Version">{b.version > 0 ? b.version : '—'}</td>
                  <td data-label="Created">
                    <time dateTime={b.createdAt}>{formatTime(b.createdAt)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
