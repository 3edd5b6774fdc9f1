import { CREATE_PHASES, type Container, type Operation, type OperationEvent, type OperationEventData, type OperationKind } from '@berth/contract';

/** What the page knows about one operation, rebuilt from its event stream. */
export interface OperationView {
  id: string;
  kind: string;
  phases: { phase: string; message: string }[];
  pull: OperationEventData<'pull'> | null;
  logs: string[];
  status: 'running' | 'succeeded' | 'failed';
  error: OperationEventData<'error'> | null;
  container: Container | null;
  lastSeq: number;
  /** The stream dropped and is being resumed. */
  reconnecting: boolean;
}

/** An operation's log lines kept on the page: the newest, enough to see what it is doing. */
export const MAX_LOG_LINES = 50;

export function newOperationView(id: string, kind: string): OperationView {
  return { id, kind, phases: [], pull: null, logs: [], status: 'running', error: null, container: null, lastSeq: 0, reconnecting: false };
}

/**
 * The view after one event. An event already seen (replayed after reconnecting) changes nothing; an
 * event without a sequence number cannot be told apart, so it is applied.
 */
export function applyOperationEvent(view: OperationView, ev: OperationEvent): OperationView {
  if (ev.seq > 0 && ev.seq <= view.lastSeq) return view;
  const next = { ...view, lastSeq: Math.max(view.lastSeq, ev.seq), reconnecting: false };
  switch (ev.event) {
    case 'operation':
      return { ...next, kind: (ev.data as OperationEventData<'operation'>).kind };
    case 'phase':
      return { ...next, phases: [...view.phases, ev.data as OperationEventData<'phase'>] };
    case 'pull':
      return { ...next, pull: ev.data as OperationEventData<'pull'> };
    case 'log':
      return { ...next, logs: [...view.logs, (ev.data as OperationEventData<'log'>).message].slice(-MAX_LOG_LINES) };
    case 'done':
      return { ...next, status: 'succeeded', container: (ev.data as OperationEventData<'done'>).container };
    case 'error':
      return { ...next, status: 'failed', error: ev.data as OperationEventData<'error'> };
    default:
      return next;
  }
}

export const KIND_LABELS: Record<OperationKind, string> = {
  create: 'Creating the container',
  recreate: 'Recreating the container',
  start: 'Starting the container',
  stop: 'Stopping the container',
  delete: 'Deleting the container',
  snapshot: 'Taking a snapshot',
  restore: 'Restoring a snapshot',
  import: 'Importing data',
  reset: 'Resetting the data',
  'delete-bot': 'Deleting the bot',
};

/** "Creating the container…", then "…: done" or "…: failed". */
export function operationHeading(view: Pick<OperationView, 'kind' | 'status'>): string {
  const title = Object.hasOwn(KIND_LABELS, view.kind) ? KIND_LABELS[view.kind as OperationKind] : view.kind ? `Operation ${view.kind}` : 'An operation';
  return view.status === 'running' ? `${title}…` : view.status === 'succeeded' ? `${title}: done` : `${title}: failed`;
}

export function isCreateKind(kind: string): boolean {
  return kind === 'create' || kind === 'recreate';
}

export type CreatePhase = (typeof CREATE_PHASES)[number];
export type PhaseState = 'pending' | 'current' | 'done' | 'failed' | 'skipped';

export const PHASE_LABELS: Record<CreatePhase, string> = {
  image: 'Check image',
  pull: 'Pull image',
  create: 'Create container',
  start: 'Start',
  ready: 'Ready',
};

/**
 * Each step of a create, in order, with where it stands: the last phase reached is the current one
 * (or the failed one); a pull passed over because the image was already here is "skipped".
 */
export function createPhaseStates(view: Pick<OperationView, 'phases' | 'status'>): { phase: CreatePhase; label: string; state: PhaseState; message: string | undefined }[] {
  const seen = view.phases.map((p) => p.phase);
  const currentPhase = seen.at(-1);
  return CREATE_PHASES.map((phase) => {
    const reached = seen.includes(phase);
    const state: PhaseState = !reached
      ? phase === 'pull' && seen.some((p) => p !== 'image' && p !== 'pull')
        ? 'skipped'
        : 'pending'
      : phase === currentPhase && view.status === 'running'
        ? 'current'
        : phase === currentPhase && view.status === 'failed'
          ? 'failed'
          : 'done';
    return { phase, label: PHASE_LABELS[phase], state, message: view.phases.find((p) => p.phase === phase)?.message };
  });
}

/** How long after it ended an operation is still shown on a page that just loaded. */
export const RECENT_MS = 10 * 60_000;

/**
 * Whether a page that finds this operation as the bot's latest should show its progress: always while
 * it runs; once it ended, only on the first load and for a while, so that its outcome (an error above
 * all) survives a reload.
 */
export function worthFollowing(op: Pick<Operation, 'status' | 'finishedAt'>, options: { now: number; showRecent: boolean }): boolean {
  if (op.status === 'running') return true;
  if (!options.showRecent || !op.finishedAt) return false;
  const ended = Date.parse(op.finishedAt);
  return Number.isFinite(ended) && options.now - ended < RECENT_MS;
}
