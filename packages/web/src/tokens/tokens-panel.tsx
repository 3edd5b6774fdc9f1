import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { Bot, BotToken, IssuedBotToken } from '@berth/contract';
import { berth } from '../api.js';
import { formatTime } from '../components/format.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';

/** The bot's tokens: issue one (its secret is shown once), list them, revoke one. */
export function TokensPanel({ bot }: { bot: Bot }) {
  const [tokens, setTokens] = useState<BotToken[] | null>(null);
  const [name, setName] = useState('');
  const [issued, setIssued] = useState<IssuedBotToken | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { dialog, ask } = useDialog();

  const load = useCallback(() => {
    berth.listTokens(bot.id).then(setTokens, (e: unknown) => setError(e));
  }, [bot.id]);
  useEffect(load, [load]);

  const issue = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setIssued(await berth.createToken(bot.id, { name: name.trim() }));
      setName('');
      load();
    } catch (err) {
      setError(err);
    }
  };

  const revoke = async (t: BotToken) => {
    const ok = await ask({ title: `Revoke the token “${t.name}”?`, message: <p>Whoever holds it loses access at once.</p>, confirmLabel: 'Revoke', danger: true });
    if (!ok) return;
    try {
      await berth.revokeToken(bot.id, t.id);
      if (issued?.id === t.id) setIssued(null);
      load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-labelledby="tokens-title">
      {dialog}
      <h2 id="tokens-title">Tokens</h2>
      <p className="muted">A bot token reaches only this bot: its container info, exec, tasks, files and terminal.</p>
      <form className="inline-form" onSubmit={(e) => void issue(e)}>
        <div className="field">
          <label htmlFor="token-name">New token’s name</label>
          <input id="token-name" required maxLength={100} placeholder="e.g. agent-runner" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <button type="submit" disabled={!name.trim()}>
          Issue token
        </button>
      </form>
      {issued && (
        <div className="notice secret" role="status">
          <div>
            <strong>Copy the token “{issued.name}” now; it is not shown again.</strong>
            <div>
              <code className="wrap" data-testid="issued-token">
                {issued.token}
              </code>
            </div>
          </div>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(issued.token)}>
            Copy
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
      {tokens && tokens.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-token={t.name}>
                  <td>{t.name}</td>
                  <td>{formatTime(t.createdAt)}</td>
                  <td>{t.lastUsedAt ? formatTime(t.lastUsedAt) : 'never'}</td>
                  <td className="right">
                    <button type="button" className="danger small" onClick={() => void revoke(t)} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        tokens && <p className="muted">No tokens.</p>
      )}
    </section>
  );
}
