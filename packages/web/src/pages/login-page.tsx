import { useState, type FormEvent } from 'react';
import { BerthApiError } from '@berth/contract';
import { berth } from '../api.js';
import { ErrorMessage } from '../components/error-message.js';
import { useTitle } from '../router.js';

/** Trades the admin token for a session cookie; the token itself is never kept by the page. */
export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  useTitle('Log in');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await berth.login(token.trim());
      setToken('');
      onLoggedIn();
    } catch (err) {
      setError(err instanceof BerthApiError && err.status === 401 ? new Error('That is not a valid admin token.') : err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form className="card login-card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">
          <span className="brand-mark" aria-hidden="true" /> Berth
        </h1>
        <p className="muted">Every bot its own isolated, persistent container.</p>
        <div className="field">
          <label htmlFor="login-token">Admin token</label>
          <input
            id="login-token"
            type="password"
            autoComplete="current-password"
            required
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby="login-hint"
          />
          <p className="hint" id="login-hint">
            Kept in <code>admin-token</code> in the server’s home (<code>.berth/admin-token</code> by default); the server names that file when it generates the token.
          </p>
        </div>
        <ErrorMessage error={error} />
        <button type="submit" className="primary" disabled={busy || !token.trim()}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
