import { useState, type FormEvent } from 'react';
import { berth } from '../api.js';
import { ErrorMessage } from '../components/error-message.js';
import { BOT_NAME_PATTERN, BotConfigFields, createBody, EMPTY_DRAFT, useHostDevices, type ConfigDraft } from '../lifecycle/index.js';
import { Link, botPath, navigate, useTitle } from '../router.js';

/** New bot: its name and config; optionally its container is created right away. */
export function NewBotPage() {
  useTitle('New bot');
  const [name, setName] = useState('');
  const [draft, setDraft] = useState<ConfigDraft>(EMPTY_DRAFT);
  const [createNow, setCreateNow] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const host = useHostDevices();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const bot = await berth.createBot(createBody(name, draft));
      // The bot page finds the running create among the bot's operations and shows its progress.
      if (createNow) await berth.createContainer(bot.id);
      navigate(botPath(bot.name));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-bot-title" className="narrow">
      <p className="crumbs">
        <Link href="/">Bots</Link> / New bot
      </p>
      <h1 id="new-bot-title">New bot</h1>
      <form className="card form" onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor="bot-name">Name</label>
          <input
            id="bot-name"
            required
            autoFocus
            maxLength={63}
            pattern={BOT_NAME_PATTERN}
            spellCheck={false}
            autoComplete="off"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-describedby="bot-name-hint"
          />
          <p className="hint" id="bot-name-hint">
            1–63 characters: lower-case letters, digits and <code>-</code>, starting with a letter or digit.
          </p>
        </div>
        <BotConfigFields draft={draft} onChange={setDraft} host={host.devices} imagePlaceholder="the default workspace image" isNew />
        <div className="check">
          <input id="create-now" type="checkbox" checked={createNow} onChange={(e) => setCreateNow(e.target.checked)} />
          <label htmlFor="create-now">Create its container now</label>
        </div>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create bot'}
          </button>
          <Link href="/" className="button">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
