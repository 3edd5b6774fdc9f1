/** The UI's addresses: the URL is the state, so a reload lands on the same page and tab. */
export type Route =
  | { page: 'login' }
  | { page: 'bots' }
  | { page: 'new-bot' }
  | { page: 'bot'; bot: string; tab: BotTab }
  | { page: 'not-found' };

export const BOT_TABS = ['container', 'files', 'terminal', 'settings'] as const;
export type BotTab = (typeof BOT_TABS)[number];

export function matchRoute(path: string): Route {
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  } catch {
    // A stray `%` in a typed address is no page, not a crash.
    return { page: 'not-found' };
  }
  if (parts.length === 0) return { page: 'bots' };
  if (parts[0] === 'login' && parts.length === 1) return { page: 'login' };
  if (parts[0] === 'bots' && parts.length === 1) return { page: 'bots' };
  if (parts[0] === 'bots' && parts[1] === 'new' && parts.length === 2) return { page: 'new-bot' };
  if (parts[0] === 'bots' && parts[1] && parts.length <= 3) {
    const tab = parts[2] ?? 'container';
    if (isBotTab(tab)) return { page: 'bot', bot: parts[1], tab };
  }
  return { page: 'not-found' };
}

function isBotTab(s: string): s is BotTab {
  return (BOT_TABS as readonly string[]).includes(s);
}

/** A bot's page; the Container tab has the short address, except for a bot named `new` (that is New bot). */
export function botPath(bot: string, tab: BotTab = 'container'): string {
  return `/bots/${encodeURIComponent(bot)}${tab === 'container' && bot !== 'new' ? '' : `/${tab}`}`;
}
