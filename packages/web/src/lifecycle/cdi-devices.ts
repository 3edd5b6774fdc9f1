import { parseCdiDeviceList } from '@berth/contract';

export interface HostDevice {
  name: string;
  specFile: string;
}

export const CDI_NOTE = 'Devices are applied when the container is created; changing them needs a recreate.';

/** `vendor.com/gpu=0` is a GPU: CDI names GPUs by their class. */
export function isGpu(name: string): boolean {
  return /^[^/]+\/gpu=/.test(name);
}

/** The GPU devices "Enable GPU" attaches: a vendor's `=all` device when it declares one, else each GPU. */
export function gpuChoice(host: readonly HostDevice[]): string[] {
  const byVendor = new Map<string, string[]>();
  for (const g of host.map((d) => d.name).filter(isGpu)) {
    const kind = g.slice(0, g.indexOf('='));
    byVendor.set(kind, [...(byVendor.get(kind) ?? []), g]);
  }
  return [...byVendor.values()].flatMap((names) => {
    const all = names.find((n) => n.endsWith('=all'));
    return all ? [all] : names;
  });
}

/** The devices field's text after ticking or unticking one host device; one name per line. */
export function toggleDevice(text: string, name: string, on: boolean): string {
  const names = parseCdiDeviceList(text).filter((n) => n !== name);
  return (on ? [...names, name] : names).join('\n');
}

/** The text after "Enable GPU": every GPU the text had is replaced by `gpus`, or removed when off. */
export function toggleGpu(text: string, gpus: readonly string[], on: boolean): string {
  const others = parseCdiDeviceList(text).filter((n) => !isGpu(n));
  return (on ? [...others, ...gpus] : others).join('\n');
}

/** Two device lists in the same order: the order is the order the container gets them in. */
export function sameDevices(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The devices field after the bot's saved devices changed elsewhere (another tab, Settings): it follows
 * them unless it holds edits of its own, which are kept.
 */
export function followSavedDevices(draft: string, before: readonly string[], after: readonly string[]): string {
  return sameDevices(parseCdiDeviceList(draft), before) ? after.join('\n') : draft;
}
