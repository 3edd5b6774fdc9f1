import { useEffect, useId, useState } from 'react';
import { parseCdiDeviceList } from '@berth/contract';
import { berth } from '../api.js';
import { CDI_NOTE, gpuChoice, isGpu, toggleDevice, toggleGpu, type HostDevice } from './cdi-devices.js';

/** The host's CDI devices (`GET /cdi/devices`), read once per page that offers them. */
export function useHostDevices(): { devices: HostDevice[] | null; error: unknown } {
  const [devices, setDevices] = useState<HostDevice[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    berth.cdiDevices().then(
      (d) => live && setDevices(d),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, []);
  return { devices, error };
}

/**
 * Enable GPU, the CDI devices textarea (names one per line or comma-separated), and the host's
 * devices offered as checkboxes that stay in step with the text.
 */
export function CdiDevicesField({ value, onChange, host, disabled }: { value: string; onChange: (v: string) => void; host: HostDevice[] | null; disabled?: boolean }) {
  const id = useId();
  const names = parseCdiDeviceList(value);
  const gpus = host ? gpuChoice(host) : [];
  const gpuOn = names.some(isGpu);


  return (
    <fieldset className="cdi-field" disabled={disabled}>
      <legend>Devices</legend>
      <div className="check">
        <input id={`${id}-gpu`} type="checkbox" checked={gpuOn} disabled={!gpuOn && gpus.length === 0} onChange={(e) => onChange(toggleGpu(value, gpus, e.target.checked))} aria-describedby={`${id}-gpu-hint`} />
        <label htmlFor={`${id}-gpu`}>Enable GPU</label>
      </div>
      <p className="hint" id={`${id}-gpu-hint`}>
        {gpus.length > 0 ? `Attaches ${gpus.join(', ')}.` : host ? 'No GPU is declared in this host’s CDI specs.' : 'Looking for GPUs on this host…'}
      </p>

      <div className="field">
        <label htmlFor={`${id}-cdi`}>CDI devices</label>
        <textarea
          id={`${id}-cdi`}
          rows={3}
          value={value}
          spellCheck={false}
          placeholder="nvidia.com/gpu=0"
          aria-describedby={`${id}-cdi-hint`}
          onChange={(e) => onChange(e.target.value)}
        />
        <p className="hint" id={`${id}-cdi-hint`}>
          Names like <code>vendor.com/class=name</code>, one per line or separated with commas. {CDI_NOTE}
        </p>
      </div>

      <div className="host-devices" role="group" aria-labelledby={`${id}-host`}>
        <p id={`${id}-host`} className="label">Available on this host</p>
        {host === null ? (
          <p className="muted">Loading…</p>
        ) : host.length === 0 ? (
          <p className="muted">This host’s CDI specs declare no devices.</p>
        ) : (
          <ul className="plain">
            {host.map((d) => (
              <li key={d.name} className="check">
                <input id={`${id}-dev-${d.name}`} type="checkbox" checked={names.includes(d.name)} onChange={(e) => onChange(toggleDevice(value, d.name, e.target.checked))} />
                <label htmlFor={`${id}-dev-${d.name}`}>
                  <code>{d.name}</code> <span className="muted">from {d.specFile}</span>
                </label>
              </li>
            ))}
          </ul>
        )}
      </div>
    </fieldset>
  );
}
