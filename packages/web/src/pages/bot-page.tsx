import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import type { Bot } from '@berth/contract';
import { berth } from '../api.js';
import { isApiError } from '../components/explain-error.js';
import { ErrorMessage } from '../components/error-message.js';
import { StatusBadge } from '../components/status-badge.js';
import { FilesTab } from '../files/index.js';
import { ContainerTab, SettingsTab } from '../lifecycle/index.js';
import { useLive } from '../live.js';
import { BOT_TABS, Link, botPath, type BotTab, useTitle } from '../router.js';

// xterm.js is most of the UI's code: it loads when the Terminal tab is first opened.
const TerminalTab = lazy(() => import('../terminal/index.js').then((m) => ({ default: m.TerminalTab })));

const TAB_LABELS: Record<BotTab, string> = { container: 'Container', files: 'Files', terminal: 'Terminal', settings: 'Settings' };

/** One bot: its header and the Container, Files, Terminal and Settings tabs. */
export function BotPage({ bot: idOrName, tab }: { bot: string; tab: BotTab }) {
  const [bot, setBot] = useState<Bot | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [gone, setGone] = useState(false);
  useTitle(bot ? `${bot.name} · ${TAB_LABELS[tab]}` : idOrName);

  const load = useCallback(() => {
    berth.getBot(idOrName).then(
      (b) => {
        setBot(b);
        setError(null);
      },
      (e: unknown) => {
        if (isApiError(e, 'bot_not_found')) setGone(true);
        setError(e);
      },
    );
  }, [idOrName]);
  useEffect(load, [load]);
  useLive((ev) => {
    if (ev.type === 'resync' || ev.botId === bot?.id) {
      if (ev.type === 'bot.deleted') setGone(true);
      else load();
    }
  });

  if (gone) {
    return (
      <section>
        <h1>{idOrName}</h1>
        <p role="status">This bot does not exist (any more).</p>
        <Link href="/" className="button">
          Back to the bots
        </Link>
      </section>
    );
  }
  if (!bot) return error ? <ErrorMessage error={error} /> : <p className="muted">Loading…</p>;

  return (
    <section aria-labelledby="bot-title">
      <p className="crumbs">
        <Link href="/">Bots</Link> / {bot.name}
      </p>
      <div className="page-head">
        <h1 id="bot-title">{bot.name}</h1>
        <StatusBadge status={bot.status} />
      </div>
      <nav className="tabs" aria-label={`${bot.name} sections`}>
        {BOT_TABS.map((t) => (
          <Link key={t} href={botPath(bot.name, t)} className="tab" aria-current={t === tab ? 'page' : undefined}>
            {TAB_LABELS[t]}
          </Link>
        ))}
      </nav>
      <ErrorMessage error={error} />
      <div className="tab-panel">
        {tab === 'container' && <ContainerTab bot={bot} onBotChanged={setBot} />}
        {tab === 'settings' && <SettingsTab bot={bot} onBotChanged={setBot} />}
        {tab === 'files' && <FilesTab bot={bot} />}
        {tab === 'terminal' && (
          <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
            <TerminalTab bot={bot} running={bot.status === 'running'} />
          </Suspense>
        )}
      </div>
    </section>
  );
}

