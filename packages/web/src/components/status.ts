import type { ContainerStatus } from '@berth/contract';

/** What a status badge says and the class it is styled by; `none` is a bot without a container. */
export type BadgeStatus = ContainerStatus | 'none';

const LABELS: Record<BadgeStatus, string> = {
  running: 'running',
  stopped: 'stopped',
  exited: 'exited',
  creating: 'creating',
  error: 'error',
  none: 'no container',
};

/** The badge for an observed status; a status this page does not know (a newer server) reads as unknown. */
export function statusBadge(status: string | null | undefined): { key: BadgeStatus | 'unknown'; label: string } {
  const s = status ?? 'none';
  return Object.hasOwn(LABELS, s) ? { key: s as BadgeStatus, label: LABELS[s as BadgeStatus] } : { key: 'unknown', label: s };
}
