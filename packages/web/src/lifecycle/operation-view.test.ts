import { describe, expect, it } from 'vitest';
import { OperationKind, type OperationEvent } from '@berth/contract';
import { applyOperationEvent, createPhaseStates, KIND_LABELS, MAX_LOG_LINES, newOperationView, operationHeading, RECENT_MS, worthFollowing, type OperationView } from './operation-view.js';

function replay(events: OperationEvent[], view: OperationView = newOperationView('op_1', '')): OperationView {
  return events.reduce(applyOperationEvent, view);
}

/** An event maker numbering its events 1, 2, 3… as the server does, unless told a number. */
function numbered() {
  let seq = 0;
  return <N extends OperationEvent['event']>(event: N, data: OperationEvent<N>['data'], at = ++seq): OperationEvent => ({ seq: at, event, data }) as OperationEvent;
}

describe('an operation rebuilt from its events', () => {
  it('follows a create from its first event to done', () => {
    const ev = numbered();
    const view = replay([
      ev('operation', { id: 'op_1', kind: 'create', botId: 'bot_1' }),
      ev('phase', { phase: 'image', message: 'checking' }),
      ev('phase', { phase: 'pull', message: 'pulling img' }),
      ev('pull', { image: 'img', layers: [{ id: 'l1', status: 'downloading', current: 5, total: 10 }], current: 5, total: 10 }),
      ev('log', { message: 'hello' }),
      ev('phase', { phase: 'create', message: '' }),
      ev('done', { container: null }),
    ]);
    expect(view).toMatchObject({ id: 'op_1', kind: 'create', status: 'succeeded', lastSeq: 7, logs: ['hello'], error: null, pull: { current: 5, total: 10 } });
    expect(view.phases.map((p) => p.phase)).toEqual(['image', 'pull', 'create']);
  });

  it('ends failed with the error the operation reported', () => {
    const ev = numbered();
    const view = replay([ev('phase', { phase: 'pull', message: '' }), ev('error', { code: 'image_pull_failed', message: 'manifest unknown' })]);
    expect(view.status).toBe('failed');
    expect(view.error).toEqual({ code: 'image_pull_failed', message: 'manifest unknown' });
  });

  it('ignores events it has already seen, as a resumed stream may send them again', () => {
    const ev = numbered();
    const first = replay([ev('phase', { phase: 'image', message: '' }), ev('log', { message: 'one' })]);
    const again = replay([ev('log', { message: 'one' }, 2), ev('log', { message: 'two' }, 3)], { ...first, reconnecting: true });
    expect(again.logs).toEqual(['one', 'two']);
    expect(again.lastSeq).toBe(3);
    expect(again.reconnecting).toBe(false);
  });

  it('keeps only the newest log lines', () => {
    const ev = numbered();
    const view = replay(Array.from({ length: MAX_LOG_LINES + 10 }, (_, i) => ev('log', { message: `line ${i}` })));
    expect(view.logs).toHaveLength(MAX_LOG_LINES);
    expect(view.logs[0]).toBe('line 10');
    expect(view.logs.at(-1)).toBe(`line ${MAX_LOG_LINES + 9}`);
  });
});

describe('operationHeading', () => {
  it('names every kind of operation', () => {
    for (const kind of OperationKind.options) expect(KIND_LABELS[kind], kind).toMatch(/^[A-Z]/);
    expect(operationHeading({ kind: 'restore', status: 'running' })).toBe('Restoring a snapshot…');
    expect(operationHeading({ kind: 'restore', status: 'succeeded' })).toBe('Restoring a snapshot: done');
    expect(operationHeading({ kind: 'create', status: 'failed' })).toBe('Creating the container: failed');
  });

  it('still says something for a kind not yet known or not yet read', () => {
    expect(operationHeading({ kind: 'migrate', status: 'running' })).toBe('Operation migrate…');
    expect(operationHeading({ kind: '', status: 'running' })).toBe('An operation…');
  });
});

describe('createPhaseStates', () => {
  const phases = (...names: string[]) => names.map((phase) => ({ phase, message: `${phase}!` }));
  const states = (view: Pick<OperationView, 'phases' | 'status'>) => Object.fromEntries(createPhaseStates(view).map((p) => [p.phase, p.state]));

  it('marks what is done, what runs now and what is still to come', () => {
    expect(states({ phases: phases('image', 'pull'), status: 'running' })).toEqual({ image: 'done', pull: 'current', create: 'pending', start: 'pending', ready: 'pending' });
  });

  it('skips the pull when the image was already here', () => {
    expect(states({ phases: phases('image', 'create'), status: 'running' })).toEqual({ image: 'done', pull: 'skipped', create: 'current', start: 'pending', ready: 'pending' });
  });

  it('marks the phase it failed in', () => {
    expect(states({ phases: phases('image', 'pull'), status: 'failed' })).toEqual({ image: 'done', pull: 'failed', create: 'pending', start: 'pending', ready: 'pending' });
  });

  it('has every phase done when it succeeded, with each phase’s message', () => {
    const all = createPhaseStates({ phases: phases('image', 'pull', 'create', 'start', 'ready'), status: 'succeeded' });
    expect(all.every((p) => p.state === 'done')).toBe(true);
    expect(all.map((p) => p.label)).toEqual(['Check image', 'Pull image', 'Create container', 'Start', 'Ready']);
    expect(all[1]?.message).toBe('pull!');
  });
});

describe('worthFollowing', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const endedAgo = (ms: number) => new Date(now - ms).toISOString();

  it('follows a running operation always', () => {
    expect(worthFollowing({ status: 'running', finishedAt: null }, { now, showRecent: false })).toBe(true);
  });

  it('shows one that ended a moment ago on the first load, so its outcome survives a reload', () => {
    expect(worthFollowing({ status: 'failed', finishedAt: endedAgo(60_000) }, { now, showRecent: true })).toBe(true);
    expect(worthFollowing({ status: 'failed', finishedAt: endedAgo(60_000) }, { now, showRecent: false })).toBe(false);
  });

  it('leaves one that ended long ago', () => {
    expect(worthFollowing({ status: 'succeeded', finishedAt: endedAgo(RECENT_MS + 1) }, { now, showRecent: true })).toBe(false);
    expect(worthFollowing({ status: 'succeeded', finishedAt: 'not a time' }, { now, showRecent: true })).toBe(false);
  });
});
