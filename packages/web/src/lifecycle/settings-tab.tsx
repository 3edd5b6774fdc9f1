import { useState, type FormEvent } from 'react';
import type { Bot } from '@berth/contract';
import { berth } from '../api.js';
import { draftFromBot, needsRecreate, patchBody, type ConfigDraft } from './bot-config.js';
import { BotConfigFields } from './bot-config-fields.js';
import { useHostDevices } from './cdi-devices-field.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';
import { navigate } from '../router.js';
import { TokensPanel } from '../tokens/index.js';

/** Settings: the bot's config (applied at the next create or recreate), its tokens, and deleting it. */
export function SettingsTab({ bot, onBotChanged }: { bot: Bot; onBotChanged: (b: Bot) => void }) {
  const host = useHostDevices();
  const [draft, setDraft] = useState<ConfigDraft>(() => draftFromBot(bot));
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<'disk' | 'recreate' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const { dialog, ask } = useDialog();

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setSaved(null);
    setError(null);
    try {
      const updated = await berth.updateBot(bot.id, patchBody(draft));
      onBotChanged(updated);
      setDraft(draftFromBot(updated));
      setSaved(needsRecreate(bot, updated) ? 'recreate' : 'disk');
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    const answer = await ask({
      title: `Delete the bot ${bot.name}?`,
      message: <p>Its container, data, snapshots, tokens and history are removed for good.</p>,
      input: { label: `Type ${bot.name} to confirm`, placeholder: bot.name, hint: 'This cannot be undone.' },
      confirmLabel: 'Delete bot',
      danger: true,
    });
    if (!answer) return;
    if (answer.value !== bot.name) {
      setDeleteError(new Error(`The name typed was "${answer.value}", not "${bot.name}"; nothing was deleted.`));
      return;
    }
    try {
      await berth.deleteBot(bot.id);
      navigate('/');
    } catch (err) {
      setDeleteError(err);
    }
  };

  return (
    <div className="settings-tab">
      {dialog}
      <section className="card" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <p className="muted">Changes are applied when the container is next created or recreated; a disk limit applies at once.</p>
        <form className="form" onSubmit={(e) => void save(e)}>
          <BotConfigFields draft={draft} onChange={(d) => {
            setDraft(d);
            setSaved(null);
          }} host={host.devices} />
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={saving}>
              {saving ? 'Saving…' : 'Save settings'}
            </button>
            {saved === 'recreate' && <span role="status">Saved. Recreate the container to apply the changes.</span>}
            {saved === 'disk' && <span role="status">Saved. The disk limit applies at once.</span>}
          </div>
        </form>
      </section>

      <TokensPanel bot={bot} />

      <section className="card danger-zone" aria-labelledby="delete-title">
        <h2 id="delete-title">Delete this bot</h2>
        <p>Removes the bot with its container, data directory, snapshots, tokens and history.</p>
        <ErrorMessage error={deleteError} />
        <button type="button" className="danger" onClick={() => void remove()}>
          Delete bot…
        </button>
      </section>
    </div>
  );
}

