import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { BerthApiError } from '@berth/contract';
import { berth } from './api.js';
import { ErrorMessage } from './components/error-message.js';
import { LiveProvider, useLiveConnected } from './live.js';
import { BotPage } from './pages/bot-page.js';
import { BotsPage } from './pages/bots-page.js';
import { LoginPage } from './pages/login-page.js';
import { NewBotPage } from './pages/new-bot-page.js';
import { Link, matchRoute, navigate, usePath } from './router.js';

type Session = 'checking' | 'in' | 'out' | { error: unknown };

/** Asks the server whether the session cookie is valid; 401 means "log in". */
async function checkSession(): Promise<Session> {
  try {
    await berth.info();
    return 'in';
  } catch (err) {
    if (err instanceof BerthApiError && err.status === 401) return 'out';
    return { error: err };
  }
}

export function App() {
  const [session, setSession] = useState<Session>('checking');
  const path = usePath();
  const route = matchRoute(path);

  useEffect(() => {
    void checkSession().then(setSession);
  }, []);

  const loggedOut = useCallback(() => setSession('out'), []);

  useEffect(() => {
    // Any API answer of 401 (the cookie expired, the token changed) lands on the login page.
    const onUnauthorized = () => setSession('out');
    window.addEventListener('berth:unauthorized', onUnauthorized);
    return () => window.removeEventListener('berth:unauthorized', onUnauthorized);
  }, []);

  if (session === 'checking') return <p className="center muted">Loading…</p>;
  if (typeof session === 'object') {
    return (
      <main className="center narrow">
        <ErrorMessage error={session.error} />
        <button type="button" onClick={() => void checkSession().then(setSession)}>
          Try again
        </button>
      </main>
    );
  }
  if (session === 'out') {
    return (
      <LoginPage
        onLoggedIn={() => {
          setSession('in');
          if (route.page === 'login') navigate('/', { replace: true });
        }}
      />
    );
  }

  return (
    <LiveProvider onUnauthorized={loggedOut}>
      <Shell onLogout={loggedOut}>
        {route.page === 'bots' || route.page === 'login' ? (
          <BotsPage />
        ) : route.page === 'new-bot' ? (
          <NewBotPage />
        ) : route.page === 'bot' ? (
          <BotPage key={route.bot} bot={route.bot} tab={route.tab} />
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              There is no page here. <Link href="/">Back to the bots</Link>
            </p>
          </section>
        )}
      </Shell>
    </LiveProvider>
  );
}

function Shell({ children, onLogout }: { children: ReactNode; onLogout: () => void }) {
  const connected = useLiveConnected();
  const logout = async () => {
    await berth.logout().catch(() => undefined);
    onLogout();
  };
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="Berth, all bots">
          <span className="brand-mark" aria-hidden="true" />
          Berth
        </Link>
        <nav aria-label="Main">
          <Link href="/">Bots</Link>
        </nav>
        <span className={`live ${connected ? 'live-on' : 'live-off'}`} role="status" title={connected ? 'Changes appear as they happen' : 'Reconnecting to live updates'}>
          {connected ? 'Live' : 'Reconnecting…'}
        </span>
        <button type="button" className="link-button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
