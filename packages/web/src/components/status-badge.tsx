import { statusBadge } from './status.js';

/** The container's observed status; a bot without a container says so. */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  const { key, label } = statusBadge(status);
  return (
    <span className={`badge badge-${key}`} data-status={key}>
      {label}
    </span>
  );
}
