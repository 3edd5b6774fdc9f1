import type { Container, DiskLimitInfo } from '@berth/contract';
import { formatMib as mib, formatTime } from '../components/format.js';
import { StatusBadge } from '../components/status-badge.js';
import { deviceNodesText, diskUsedText, enforcementText, resourcesText, shortImageId } from './container-facts.js';

/** What the engine reports about the container, as SPEC §6 lists it. */
export function ContainerInfo({ container: c, onRecreate, recreateDisabled }: { container: Container; onRecreate: () => void; recreateDisabled: boolean }) {
  return (
    <>
      {c.pendingRecreate && (
        <div className="notice" role="status">
          <span>The bot’s settings changed since this container was made, or it was made before bots were isolated from each other’s network. It works as it is; recreate it to apply them.</span>
          <button type="button" onClick={onRecreate} disabled={recreateDisabled}>
            Recreate now
          </button>
        </div>
      )}
      {c.diskLimit.exceeded && <DiskLimitWarning disk={c.diskLimit} dataPath={c.paths.container} />}
      <dl className="info" aria-label="Container info">
        <div>
          <dt>Container ID</dt>
          <dd className="mono wrap" data-field="id" title={c.id}>
            {c.id}
          </dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd data-field="status">
            <StatusBadge status={c.status} />
            {c.status === 'exited' && c.exitCode !== null && <span className="muted"> exit code {c.exitCode}</span>}
            {c.status === 'running' && c.startedAt && <span className="muted"> since {formatTime(c.startedAt)}</span>}
          </dd>
        </div>
        <div>
          <dt>Image</dt>
          <dd className="mono wrap" data-field="image">
            {c.image}
            <div className="muted small">{shortImageId(c.imageId)}</div>
          </dd>
        </div>
        <div>
          <dt>Paths</dt>
          <dd data-field="paths">
            <div>
              <span className="muted">Host</span> <code className="wrap">{c.paths.host}</code>
            </div>
            <div>
              <span className="muted">Container</span> <code>{c.paths.container}</code>
            </div>
          </dd>
        </div>
        <div>
          <dt>Tasks</dt>
          <dd data-field="tasks">
            {c.tasks} running <span className="muted">· {c.processes} processes</span>
          </dd>
        </div>
        <div>
          <dt>CDI Devices</dt>
          <dd data-field="cdi">
            {c.cdiDevices.length === 0 ? (
              <span className="muted">none</span>
            ) : (
              <ul className="plain">
                {c.cdiDevices.map((d) => (
                  <li key={d}>
                    <code>{d}</code>
                  </li>
                ))}
              </ul>
            )}
            {c.devices.length > 0 && (
              <div className="muted small">
                Device nodes: {deviceNodesText(c.devices)}
              </div>
            )}
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd data-field="version">{c.version}</dd>
        </div>
        <div>
          <dt>Resources</dt>
          <dd data-field="resources">
            {resourcesText(c)}
          </dd>
        </div>
        <div>
          <dt>Disk</dt>
          <dd data-field="disk">
            <DiskUsage disk={c.diskLimit} />
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <time dateTime={c.createdAt}>{formatTime(c.createdAt)}</time> <span className="muted">on {c.runtime}</span>
          </dd>
        </div>
      </dl>
    </>
  );
}

/** Usage against the limit, as last measured, and how the limit is enforced. */
function DiskUsage({ disk: d }: { disk: DiskLimitInfo }) {
  const measured = d.measuredAt !== null;
  const used = diskUsedText(d);
  return (
    <>
      <div>
        {used}
        {d.mb === null ? <span className="muted"> · no limit</span> : <span> of {mib(d.mb)}</span>}
        {d.exceeded && (
          <>
            {' '}
            <span className="badge badge-error">over the limit</span>
          </>
        )}
      </div>
      {d.mb !== null && d.usedMb !== null && <meter className="disk-meter" min={0} max={d.mb} low={d.mb * 0.8} high={d.mb * 0.95} optimum={0} value={Math.min(d.usedMb, d.mb)} aria-label="Disk used of the limit" />}
      {d.usedMb !== null && (
        <div className="muted small">
          data {mib(d.dataMb ?? 0)} · file system changes {mib(d.layerMb ?? 0)}
        </div>
      )}
      <div className="muted small" data-testid="disk-enforcement">
        {enforcementText(d)}
        {measured && <> · measured {formatTime(d.measuredAt)}</>}
      </div>
    </>
  );
}

/** Over the limit, what is refused and how to get out of it. */
function DiskLimitWarning({ disk: d, dataPath }: { disk: DiskLimitInfo; dataPath: string }) {
  const usage = d.usedMb === null ? 'its usage could not be measured' : `it uses ${mib(d.usedMb)}`;
  return (
    <div className="notice over" role="alert">
      <span>
        <strong>This bot is over its disk limit</strong> of {d.mb === null ? 'none' : mib(d.mb)}: {usage}. Saving files and importing data are refused, and past a margin the container is
        stopped and cannot start. Free space in <code>{dataPath}</code>, raise the limit in Settings, or recreate the container to drop its other file system changes.
      </span>
    </div>
  );
}
