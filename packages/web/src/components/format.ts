/** Human sizes for bytes, in powers of 1000 as file managers show them: 1.4 MB, 512 B. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(Math.abs(v) < 10 ? 1 : 0)} ${units[u]}`;
}

/** A time in the reader's locale and zone; an unparseable value is shown as it came. */
export function formatTime(iso: string | null | undefined, locales?: Intl.LocalesArgument, options?: Intl.DateTimeFormatOptions): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locales, options);
}

/** Disk figures are MiB, as the limit is set; digits grouped the reader's way. */
export function formatMib(n: number, locales?: Intl.LocalesArgument): string {
  return `${n.toLocaleString(locales)} MiB`;
}

/** `entry` or `entries` after a count. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
