import { useEffect, useState } from 'react';
import { parseCdiDeviceList, type Bot, type Container } from '@berth/contract';
import { berth } from '../api.js';
import { ErrorMessage } from '../components/error-message.js';
import { CDI_NOTE, followSavedDevices, sameDevices as same } from './cdi-devices.js';
import { CdiDevicesField, useHostDevices } from './cdi-devices-field.js';

/**
 * Advanced options (collapsed): the bot's CDI devices. Saving changes the bot's config only; the
 * container keeps the devices it was created with until it is recreated, and this says so.
 */
export function AdvancedOptions({ bot, container, onBotChanged, onRecreate, recreateDisabled }: { bot: Bot; container: Container | null; onBotChanged: (b: Bot) => void; onRecreate: () => void; recreateDisabled: boolean }) {
  const host = useHostDevices();
  const [draft, setDraft] = useState(bot.cdiDevices.join('\n'));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  // Another tab (or Settings) may change the devices: follow it unless this draft has edits.
  const [base, setBase] = useState(bot.cdiDevices);
  useEffect(() => {
    if (!same(base, bot.cdiDevices)) {
      setDraft((d) => followSavedDevices(d, base, bot.cdiDevices));
      setBase(bot.cdiDevices);
    }
  }, [bot.cdiDevices, base]);

  const dirty = !same(parseCdiDeviceList(draft), bot.cdiDevices);
  const effective = container?.cdiDevices ?? null;
  const differs = effective !== null && !same(effective, bot.cdiDevices);

  const save = async () => {
    setSaving(true);
    setError(null);
    setSaved(false);
    try {
      const updated = await berth.updateBot(bot.id, { cdiDevices: draft });
      onBotChanged(updated);
      setDraft(updated.cdiDevices.join('\n'));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <details className="card advanced">
      <summary>
        <h2>Advanced options</h2>
      </summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <CdiDevicesField value={draft} onChange={(v) => {
          setDraft(v);
          setSaved(false);
        }} host={host.devices} />
        <ErrorMessage error={host.error} />
        <p className="note" role="note">
          {CDI_NOTE}
        </p>
        <div className="actions">
          <button type="submit" className="primary" disabled={saving || !dirty}>
            {saving ? 'Saving…' : 'Save devices'}
          </button>
          {saved && <span role="status">Saved to the bot’s settings.</span>}
        </div>
        <ErrorMessage error={error} />
      </form>
      <div className="effective" aria-live="polite">
        <h3>In effect now</h3>
        {effective === null ? (
          <p className="muted">No container yet: the devices above are attached when it is created.</p>
        ) : effective.length === 0 ? (
          <p data-testid="effective-devices">No CDI devices are attached to the container.</p>
        ) : (
          <p data-testid="effective-devices">
            Attached to the container: {effective.map((d, i) => (
              <span key={d}>
                {i > 0 && ', '}
                <code>{d}</code>
              </span>
            ))}
          </p>
        )}
        {differs && (
          <div className="notice">
            <span>The saved devices differ from the container’s. Recreate the container to apply them.</span>
            <button type="button" onClick={onRecreate} disabled={recreateDisabled}>
              Recreate
            </button>
          </div>
        )}
      </div>
    </details>
  );
}
