import { explainError } from './explain-error.js';

/** An error as a person reads it: what happened in plain words, then the server's own message. */
export function ErrorMessage({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (error === null || error === undefined) return null;
  const { lead, message } = explainError(error);
  return (
    <div className="error" role="alert">
      <div>
        <strong>{lead}</strong> <span className="error-detail">{message}</span>
      </div>
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss this error">
          Dismiss
        </button>
      )}
    </div>
  );
}
