import type { Container } from '@berth/contract';
import { formatTime } from '../api.js';
import { StatusBadge } from '../components/status-badge.js';

/** What the engine reports about the container, as SPEC §6 lists it. */
export function ContainerInfo({ container: c, onRecreate, recreateDisabled }: { container: Container; onRecreate: () => void; recreateDisabled: boolean }) {
  return (
    <>
      {c.pendingRecreate && (
        <div className="notice" role="status">
          <span>The bot’s settings changed since this container was made. Recreate it to apply them.</span>
          <button type="button" onClick={onRecreate} disabled={recreateDisabled}>
            Recreate now
          </button>
        </div>
      )}
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
            <div className="muted small">{c.imageId.replace(/^sha256:/, '').slice(0, 12)}</div>
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
                Device nodes: {c.devices.map((d) => (d.hostPath === d.containerPath ? d.containerPath : `${d.hostPath} → ${d.containerPath}`)).join(', ')}
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
            {c.resources.cpus === null ? 'any CPUs' : `${c.resources.cpus} CPUs`} · {c.resources.memoryMb === null ? 'no memory limit' : `${c.resources.memoryMb} MB`} · {c.resources.pidsLimit} processes max · network {c.network}
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
