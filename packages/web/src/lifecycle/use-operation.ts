import { useEffect, useRef, useState } from 'react';
import { BerthApiError } from '@berth/contract';
import { berth } from '../api.js';
import { applyOperationEvent, newOperationView, type OperationView } from './operation-view.js';

/**
 * Follows one operation's events from the start (so a reloaded page rebuilds the whole picture) and,
 * when the stream drops while it still runs, resumes after the last event seen with Last-Event-ID.
 */
export function useOperationStream(operationId: string | null, kind: string, onEnd?: (view: OperationView) => void): OperationView | null {
  const [view, setView] = useState<OperationView | null>(null);
  const ended = useRef(onEnd);
  ended.current = onEnd;

  useEffect(() => {
    if (!operationId) {
      setView(null);
      return;
    }
    const abort = new AbortController();
    let current = newOperationView(operationId, kind);
    setView(current);
    void (async () => {
      let pause = 300;
      while (!abort.signal.aborted && current.status === 'running') {
        try {
          for await (const ev of berth.operationEvents(operationId, { lastEventId: current.lastSeq, signal: abort.signal })) {
            current = applyOperationEvent(current, ev);
            setView(current);
            pause = 300;
          }
          if (current.status === 'running') {
            // Ended without done/error: it finished while we were away, or the stream was cut.
            const op = await berth.getOperation(operationId);
            if (op.status !== 'running') {
              current = { ...current, status: op.status, error: op.error };
              setView(current);
            } else {
              await new Promise((r) => setTimeout(r, pause));
            }
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          if (err instanceof BerthApiError && err.status < 500) {
            // Gone or not ours (404, 401): retrying cannot help.
            current = { ...current, status: 'failed', error: { code: err.code, message: err.message } };
            setView(current);
            break;
          }
          current = { ...current, reconnecting: true };
          setView(current);
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(pause * 2, 5000);
        }
      }
      if (!abort.signal.aborted && current.status !== 'running') ended.current?.(current);
    })();
    return () => abort.abort();
  }, [operationId, kind]);

  return view;
}
