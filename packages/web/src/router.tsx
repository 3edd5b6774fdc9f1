import { useEffect, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** A tiny history router: the URL is the state, so a reload lands on the same page and tab. */
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export type Route =
  | { page: 'login' }
  | { page: 'bots' }
  | { page: 'new-bot' }
  | { page: 'bot'; bot: string; tab: BotTab }
  | { page: 'not-found' };

export const BOT_TABS = ['container', 'files', 'terminal', 'settings'] as const;
export type BotTab = (typeof BOT_TABS)[number];

export function matchRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { page: 'bots' };
  if (parts[0] === 'login' && parts.length === 1) return { page: 'login' };
  if (parts[0] === 'bots' && parts.length === 1) return { page: 'bots' };
  if (parts[0] === 'bots' && parts[1] === 'new' && parts.length === 2) return { page: 'new-bot' };
  if (parts[0] === 'bots' && parts[1] && parts.length <= 3) {
    const tab = (parts[2] ?? 'container') as BotTab;
    if (BOT_TABS.includes(tab)) return { page: 'bot', bot: parts[1], tab };
  }
  return { page: 'not-found' };
}

export function botPath(bot: string, tab: BotTab = 'container'): string {
  return `/bots/${encodeURIComponent(bot)}${tab === 'container' ? '' : `/${tab}`}`;
}

/** An anchor that navigates without reloading; modified clicks (new tab) behave as usual. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { onClick, ...rest } = props;
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return <a {...rest} onClick={handle} />;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Berth` : 'Berth';
  }, [title]);
}
