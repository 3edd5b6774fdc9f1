import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { BerthApiError, ChangeEvent } from '@berth/contract';
import { berth } from './api.js';

/** A change from `/events`, or `resync` after (re)connecting: anything may have changed meanwhile. */
export type LiveEvent = ChangeEvent | { type: 'resync' };
type Listener = (ev: LiveEvent) => void;

interface Live {
  connected: boolean;
  subscribe(listener: Listener): () => void;
}

const LiveContext = createContext<Live>({ connected: false, subscribe: () => () => undefined });

/**
 * Holds one `/events` stream for the whole UI and fans its changes out, reconnecting with a growing
 * pause when it drops, so that pages never need a manual refresh.
 */
export function LiveProvider({ children, onUnauthorized }: { children: ReactNode; onUnauthorized: () => void }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);
  const unauthorized = useRef(onUnauthorized);
  unauthorized.current = onUnauthorized;

  useEffect(() => {
    const abort = new AbortController();
    const emit = (ev: LiveEvent) => {
      for (const l of listeners.current) l(ev);
    };
    void (async () => {
      let pause = 500;
      while (!abort.signal.aborted) {
        try {
          for await (const frame of berth.changes({ signal: abort.signal })) {
            if (frame.event === 'ready') {
              setConnected(true);
              pause = 500;
              emit({ type: 'resync' });
              continue;
            }
            const parsed = ChangeEvent.safeParse(safeJson(frame.data));
            if (parsed.success) emit(parsed.data);
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          if (err instanceof BerthApiError && err.status === 401) {
            unauthorized.current();
            return;
          }
        }
        setConnected(false);
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 10_000);
      }
    })();
    return () => abort.abort();
  }, []);

  const value = useRef<Live>({
    connected: false,
    subscribe: (listener) => {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  });
  return <LiveContext.Provider value={{ ...value.current, connected }}>{children}</LiveContext.Provider>;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export function useLiveConnected(): boolean {
  return useContext(LiveContext).connected;
}

/** Calls `handler` for every live change (the latest handler, without resubscribing). */
export function useLive(handler: Listener): void {
  const { subscribe } = useContext(LiveContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => subscribe((ev) => ref.current(ev)), [subscribe]);
}

/**
 * Runs `refresh` when something changes for the given bot (any bot when `botId` is null), coalescing
 * bursts of events into one reload.
 */
export function useLiveRefresh(botId: string | null, refresh: () => void): void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  useLive((ev) => {
    if (ev.type !== 'resync' && botId !== null && ev.botId !== botId) return;
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current(), 80);
  });
}
