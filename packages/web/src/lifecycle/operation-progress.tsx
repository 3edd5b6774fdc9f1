import { formatBytes } from '../components/format.js';
import { ErrorMessage } from '../components/error-message.js';
import { createPhaseStates, isCreateKind, operationHeading, type OperationView } from './operation-view.js';

/** Live progress of an operation: its phases, per-layer pull bars with bytes, and its log. */
export function OperationProgress({ view, onDismiss }: { view: OperationView; onDismiss?: (() => void) | undefined }) {
  const isCreate = isCreateKind(view.kind);
  const heading = operationHeading(view);

  return (
    <section className={`progress-panel progress-${view.status}`} aria-labelledby={`op-${view.id}`} data-operation={view.id} data-status={view.status}>
      <div className="progress-head">
        <h3 id={`op-${view.id}`} aria-live="polite">
          {heading}
        </h3>
        {onDismiss && (
          <button type="button" className="link-button" onClick={onDismiss}>
            Hide
          </button>
        )}
      </div>
      {view.reconnecting && <p className="muted">The connection dropped; resuming where it left off…</p>}
      {isCreate ? (
        <ol className="phases">
          {createPhaseStates(view).map(({ phase, label, state, message }) => (
            <li key={phase} className={`phase phase-${state}`} data-phase={phase} data-state={state}>
              <span className="phase-mark" aria-hidden="true" />
              <span className="phase-name">{label}</span>
              <span className="visually-hidden">: {state === 'skipped' ? 'not needed' : state}</span>
              {message && <span className="phase-message muted"> — {message}</span>}
            </li>
          ))}
        </ol>
      ) : (
        <ol className="phases">
          {view.phases.map((p, i) => (
            <li key={i} className={`phase phase-${i === view.phases.length - 1 && view.status === 'running' ? 'current' : 'done'}`}>
              <span className="phase-mark" aria-hidden="true" />
              <span className="phase-name">{p.message}</span>
            </li>
          ))}
        </ol>
      )}

      {view.pull && (
        <div className="pull" aria-label={`Pulling ${view.pull.image}`}>
          <div className="pull-total">
            <label htmlFor={`pull-${view.id}`}>
              {view.pull.image}: {formatBytes(view.pull.current)} of {formatBytes(view.pull.total)}
            </label>
            <progress id={`pull-${view.id}`} value={view.pull.current} max={Math.max(view.pull.total, 1)} />
          </div>
          <ul className="layers plain">
            {view.pull.layers.map((l) => (
              <li key={l.id} className="layer" data-layer={l.id}>
                <span className="layer-id mono">{l.id.replace(/^sha256:/, '').slice(0, 12)}</span>
                <progress value={l.total > 0 ? l.current : 1} max={Math.max(l.total, 1)} aria-label={`Layer ${l.id.slice(0, 12)}`} />
                <span className="layer-bytes">{l.total > 0 ? `${formatBytes(l.current)} / ${formatBytes(l.total)}` : ''}</span>
                <span className="layer-status muted">{l.status}</span>
              </li>
            ))}
          </ul>
        </div>
      )}

      {view.logs.length > 0 && (
        <ul className="op-log plain mono">
          {view.logs.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
      {view.error && <ErrorMessage error={view.error} />}
    </section>
  );
}
