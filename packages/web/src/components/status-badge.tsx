const LABELS: Record<string, string> = {
  running: 'running',
  stopped: 'stopped',
  exited: 'exited',
  creating: 'creating',
  error: 'error',
};

/** The container's observed status; a bot without a container says so. */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? 'none';
  return (
    <span className={`badge badge-${s}`} data-status={s}>
      {LABELS[s] ?? 'no container'}
    </span>
  );
}
