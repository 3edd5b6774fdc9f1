import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';

export interface AskOptions {
  title: string;
  message?: ReactNode;
  confirmLabel: string;
  /** Styles the confirm button as destructive. */
  danger?: boolean;
  /** Asks for a value (e.g. a snapshot's name). */
  input?: { label: string; initial?: string; placeholder?: string; pattern?: string; hint?: string };
  /** An extra choice, e.g. "also remove the data". */
  checkbox?: { label: string };
}

export interface Answer {
  value: string;
  checked: boolean;
}

interface Pending extends AskOptions {
  resolve: (answer: Answer | null) => void;
}

/**
 * A modal question on the native <dialog>: focus moves into it, Escape cancels, and the page behind
 * cannot be used until it is answered.
 */
export function useDialog(): { dialog: ReactNode; ask: (options: AskOptions) => Promise<Answer | null> } {
  const [pending, setPending] = useState<Pending | null>(null);
  const ask = useCallback((options: AskOptions) => new Promise<Answer | null>((resolve) => setPending({ ...options, resolve })), []);
  const close = (answer: Answer | null) => {
    pending?.resolve(answer);
    setPending(null);
  };
  return { ask, dialog: pending ? <Dialog key={pending.title} pending={pending} onClose={close} /> : null };
}

function Dialog({ pending, onClose }: { pending: Pending; onClose: (answer: Answer | null) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(pending.input?.initial ?? '');
  const [checked, setChecked] = useState(false);
  const titleId = useId();
  const inputId = useId();
  const hintId = useId();
  const checkId = useId();

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (pending.input && !value.trim()) return;
    onClose({ value: value.trim(), checked });
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={(e) => {
      e.preventDefault();
      onClose(null);
    }}>
      <form onSubmit={submit}>
        <h2 id={titleId}>{pending.title}</h2>
        {pending.message && <div className="dialog-message">{pending.message}</div>}
        {pending.input && (
          <div className="field">
            <label htmlFor={inputId}>{pending.input.label}</label>
            <input
              id={inputId}
              value={value}
              required
              autoFocus
              placeholder={pending.input.placeholder}
              pattern={pending.input.pattern}
              aria-describedby={pending.input.hint ? hintId : undefined}
              onChange={(e) => setValue(e.target.value)}
            />
            {pending.input.hint && <p className="hint" id={hintId}>{pending.input.hint}</p>}
          </div>
        )}
        {pending.checkbox && (
          <div className="check">
            <input id={checkId} type="checkbox" checked={checked} onChange={(e) => setChecked(e.target.checked)} />
            <label htmlFor={checkId}>{pending.checkbox.label}</label>
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={() => onClose(null)} autoFocus={!pending.input}>
            Cancel
          </button>
          <button type="submit" className={pending.danger ? 'danger' : 'primary'}>
            {pending.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
