import { useId } from 'react';
import type { Bot, CreateBotBody, PatchBotBody } from '@berth/contract';
import { CdiDevicesField, type HostDevice } from './cdi-devices-field.js';

/** A bot's config as the form edits it: text, as typed. */
export interface ConfigDraft {
  image: string;
  cdi: string;
  cpus: string;
  memoryMb: string;
  pidsLimit: string;
  network: 'bridge' | 'none';
  env: string;
  diskLimitMb: string;
}

export const EMPTY_DRAFT: ConfigDraft = { image: '', cdi: '', cpus: '', memoryMb: '', pidsLimit: '', network: 'bridge', env: '', diskLimitMb: '' };

export function draftFromBot(bot: Bot): ConfigDraft {
  return {
    image: bot.image,
    cdi: bot.cdiDevices.join('\n'),
    cpus: bot.resources.cpus === null ? '' : String(bot.resources.cpus),
    memoryMb: bot.resources.memoryMb === null ? '' : String(bot.resources.memoryMb),
    pidsLimit: String(bot.resources.pidsLimit),
    network: bot.network,
    env: Object.entries(bot.env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    diskLimitMb: bot.diskLimitMb === null ? '' : String(bot.diskLimitMb),
  };
}

/** `KEY=value` per line; blank lines and `#` comments are skipped. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`"${line}" is not KEY=value`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

function num(text: string, label: string): number | null {
  if (!text.trim()) return null;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${label} must be a number`);
  return n;
}

/** The body for `POST /bots`: only what was filled in, so the server's defaults apply to the rest. */
export function createBody(name: string, d: ConfigDraft): CreateBotBody {
  const body: CreateBotBody = { name: name.trim(), network: d.network };
  if (d.image.trim()) body.image = d.image.trim();
  if (d.cdi.trim()) body.cdiDevices = d.cdi;
  const resources: NonNullable<CreateBotBody['resources']> = {};
  const cpus = num(d.cpus, 'CPUs');
  const memoryMb = num(d.memoryMb, 'Memory');
  const pidsLimit = num(d.pidsLimit, 'Process limit');
  if (cpus !== null) resources.cpus = cpus;
  if (memoryMb !== null) resources.memoryMb = memoryMb;
  if (pidsLimit !== null) resources.pidsLimit = pidsLimit;
  if (Object.keys(resources).length > 0) body.resources = resources;
  const env = parseEnv(d.env);
  if (Object.keys(env).length > 0) body.env = env;
  // Empty leaves the server's default limit (BERTH_DEFAULT_DISK_LIMIT_MB) in place.
  const diskLimitMb = num(d.diskLimitMb, 'Disk limit');
  if (diskLimitMb !== null) body.diskLimitMb = diskLimitMb;
  return body;
}

/** The body for `PATCH /bots/{bot}`: every field, so that cleared ones are cleared. */
export function patchBody(d: ConfigDraft): PatchBotBody {
  const body: PatchBotBody = {
    cdiDevices: d.cdi,
    network: d.network,
    env: parseEnv(d.env),
    resources: { cpus: num(d.cpus, 'CPUs'), memoryMb: num(d.memoryMb, 'Memory') },
    diskLimitMb: num(d.diskLimitMb, 'Disk limit'),
  };
  if (d.image.trim()) body.image = d.image.trim();
  const pids = num(d.pidsLimit, 'Process limit');
  if (pids !== null && body.resources) body.resources.pidsLimit = pids;
  return body;
}

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
