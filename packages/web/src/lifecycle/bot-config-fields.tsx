import { useId } from 'react';
import type { ConfigDraft } from './bot-config.js';
import type { HostDevice } from './cdi-devices.js';
import { CdiDevicesField } from './cdi-devices-field.js';

/**
 * Image, devices, resources, network and environment: the fields of New bot and Settings. `isNew`:
 * the New bot form, where an empty disk limit means the server's default rather than none.
 */
export function BotConfigFields({ draft, onChange, host, imagePlaceholder, isNew = false }: { draft: ConfigDraft; onChange: (d: ConfigDraft) => void; host: HostDevice[] | null; imagePlaceholder?: string; isNew?: boolean }) {
  const id = useId();
  const set = <K extends keyof ConfigDraft>(key: K, value: ConfigDraft[K]) => onChange({ ...draft, [key]: value });
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-image`}>Image</label>
        <input id={`${id}-image`} className="mono" value={draft.image} placeholder={imagePlaceholder} spellCheck={false} onChange={(e) => set('image', e.target.value)} aria-describedby={`${id}-image-hint`} />
        <p className="hint" id={`${id}-image-hint`}>
          An image reference, e.g. <code>localhost/berth/workspace:bookworm</code>. Pulled when the container is created if it is not here yet.
        </p>
      </div>

      <CdiDevicesField value={draft.cdi} onChange={(v) => set('cdi', v)} host={host} />

      <fieldset>
        <legend>Resources</legend>
        <div className="row">
          <div className="field">
            <label htmlFor={`${id}-cpus`}>CPUs</label>
            <input id={`${id}-cpus`} type="number" min="0.01" step="0.01" inputMode="decimal" placeholder="no limit" value={draft.cpus} onChange={(e) => set('cpus', e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-mem`}>Memory (MB)</label>
            <input id={`${id}-mem`} type="number" min="6" step="1" inputMode="numeric" placeholder="no limit" value={draft.memoryMb} onChange={(e) => set('memoryMb', e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-pids`}>Process limit</label>
            <input id={`${id}-pids`} type="number" min="16" step="1" inputMode="numeric" placeholder="4096" value={draft.pidsLimit} onChange={(e) => set('pidsLimit', e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-disk`}>Disk limit (MiB)</label>
            <input
              id={`${id}-disk`}
              type="number"
              min="1"
              max={16 * 1024 * 1024}
              step="1"
              inputMode="numeric"
              placeholder={isNew ? 'server default' : 'no limit'}
              value={draft.diskLimitMb}
              onChange={(e) => set('diskLimitMb', e.target.value)}
              aria-describedby={`${id}-disk-hint`}
            />
          </div>
        </div>
        <p className="hint" id={`${id}-disk-hint`}>
          The disk limit covers <code>/data</code> and the container’s changes to its file system together, and applies at once. {isNew ? 'Empty: the server’s default (10 GiB unless set otherwise).' : 'Empty: no limit.'}
        </p>
      </fieldset>

      <fieldset>
        <legend>Network</legend>
        <div className="check">
          <input id={`${id}-net-bridge`} type="radio" name={`${id}-net`} checked={draft.network === 'bridge'} onChange={() => set('network', 'bridge')} />
          <label htmlFor={`${id}-net-bridge`}>Bridge — the bot can reach the internet</label>
        </div>
        <div className="check">
          <input id={`${id}-net-none`} type="radio" name={`${id}-net`} checked={draft.network === 'none'} onChange={() => set('network', 'none')} />
          <label htmlFor={`${id}-net-none`}>None — no network at all</label>
        </div>
      </fieldset>

      <div className="field">
        <label htmlFor={`${id}-env`}>Environment variables</label>
        <textarea id={`${id}-env`} className="mono" rows={3} spellCheck={false} placeholder="KEY=value" value={draft.env} onChange={(e) => set('env', e.target.value)} aria-describedby={`${id}-env-hint`} />
        <p className="hint" id={`${id}-env-hint`}>
          One <code>KEY=value</code> per line.
        </p>
      </div>
    </>
  );
}
