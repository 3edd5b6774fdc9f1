import { useCallback, useEffect, useRef, useState } from 'react';
import type { Bot, Container } from '@berth/contract';
import { berth } from '../api.js';
import { isApiError } from '../components/explain-error.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';
import { useLive } from '../live.js';
import { AdvancedOptions } from './advanced-options.js';
import { ContainerInfo } from './container-info.js';
import { DataPanel } from '../data/index.js';
import { SnapshotsPanel, VersionsPanel } from '../snapshots/index.js';
import { OperationProgress } from './operation-progress.js';
import { worthFollowing } from './operation-view.js';
import { useOperationStream } from './use-operation.js';

/** The operation this page follows: one it started, or one found running (another tab, a reload). */
interface Followed {
  id: string;
  kind: string;
}

/** Container tab: info, lifecycle with live progress, advanced options (devices), snapshots, data, versions. */
export function ContainerTab({ bot, onBotChanged }: { bot: Bot; onBotChanged: (b: Bot) => void }) {
  const [container, setContainer] = useState<Container | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [followed, setFollowed] = useState<Followed | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const { dialog, ask } = useDialog();
  const botId = bot.id;

  const loadContainer = useCallback(async () => {
    try {
      setContainer(await berth.getContainer(botId));
      setLoadError(null);
    } catch (err) {
      if (isApiError(err, 'container_not_found')) {
        setContainer(null);
        setLoadError(null);
      } else setLoadError(err);
    }
  }, [botId]);

  // A reload in the middle of a create lands here: find the running operation and reattach to it.
  // On the first load an operation that ended a moment ago is shown too, so that its outcome (an
  // error above all) survives a reload.
  const findRunning = useCallback(async (options: { showRecent?: boolean } = {}) => {
    try {
      const [latest] = await berth.listOperations(botId, { limit: 1 });
      if (latest && worthFollowing(latest, { now: Date.now(), showRecent: options.showRecent ?? false })) {
        setFollowed((f) => (f?.id === latest.id ? f : { id: latest.id, kind: latest.kind }));
      }
    } catch {
      // The info still loads; progress shows once the next live event names the operation.
    }
  }, [botId]);

  useEffect(() => {
    void loadContainer();
    void findRunning({ showRecent: true });
  }, [loadContainer, findRunning]);

  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useLive((ev) => {
    if (ev.type === 'resync') {
      void loadContainer();
      void findRunning();
      return;
    }
    if (ev.botId !== botId) return;
    if (ev.type === 'operation.started' && ev.operationId) {
      const id = ev.operationId;
      setFollowed((f) => (f?.id === id ? f : { id, kind: '' }));
    }
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void loadContainer(), 80);
  });

  const view = useOperationStream(followed?.id ?? null, followed?.kind ?? '', () => void loadContainer());
  const running = view?.status === 'running';

  const act = async (label: string, fn: () => Promise<unknown>) => {
    setBusy(label);
    setActionError(null);
    try {
      await fn();
      await loadContainer();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(null);
    }
  };

  const startCreate = (recreate: boolean) =>
    act(recreate ? 'recreate' : 'create', async () => {
      const op = await berth.createContainer(botId, { recreate });
      setFollowed({ id: op.id, kind: op.kind });
    });

  const confirmRecreate = async () => {
    const ok = await ask({
      title: `Recreate ${bot.name}’s container?`,
      message: (
        <>
          <p>A new container is made from the image with the bot’s current settings and devices.</p>
          <p>
            The data in <code>{container?.paths.container ?? '/data'}</code> is kept. Changes elsewhere in the container’s file system and running processes are lost.
          </p>
        </>
      ),
      confirmLabel: 'Recreate',
      danger: true,
    });
    if (ok) await startCreate(true);
  };

  const confirmDelete = async () => {
    const answer = await ask({
      title: `Delete ${bot.name}’s container?`,
      message: <p>The container and everything outside its data directory are removed. The bot and its settings stay.</p>,
      confirmLabel: 'Delete container',
      danger: true,
      checkbox: { label: `Also delete the data directory (${container?.paths.host ?? 'the bot’s data'})` },
    });
    if (answer) await act('delete', () => berth.deleteContainer(botId, { purgeData: answer.checked }));
  };

  const disabled = running || busy !== null;
  const status = container?.status;

  return (
    <div className="container-tab">
      {dialog}
      <section className="card" aria-labelledby="container-title">
        <div className="card-head">
          <h2 id="container-title">Container</h2>
          <div className="actions" role="group" aria-label="Container actions">
            {container === null && (
              <button type="button" className="primary" disabled={disabled} onClick={() => void startCreate(false)}>
                {busy === 'create' ? 'Creating…' : 'Create container'}
              </button>
            )}
            {container && (status === 'stopped' || status === 'exited' || status === 'error') && (
              <button type="button" className="primary" disabled={disabled} onClick={() => void act('start', () => berth.startContainer(botId))}>
                {busy === 'start' ? 'Starting…' : 'Start'}
              </button>
            )}
            {container && status === 'running' && (
              <button type="button" disabled={disabled} onClick={() => void act('stop', () => berth.stopContainer(botId))}>
                {busy === 'stop' ? 'Stopping…' : 'Stop'}
              </button>
            )}
            {container && (
              <>
                <button type="button" disabled={disabled} onClick={() => void confirmRecreate()}>
                  Recreate
                </button>
                <button type="button" className="danger" disabled={disabled} onClick={() => void confirmDelete()}>
                  {busy === 'delete' ? 'Deleting…' : 'Delete'}
                </button>
              </>
            )}
          </div>
        </div>
        <ErrorMessage error={actionError} onDismiss={() => setActionError(null)} />
        <ErrorMessage error={loadError} />
        {view && <OperationProgress view={view} onDismiss={running ? undefined : () => setFollowed(null)} />}
        {container === undefined ? (
          <p className="muted">Loading…</p>
        ) : container === null ? (
          <p className="muted" data-testid="no-container">
            This bot has no container yet. Create one to give it its own computer.
          </p>
        ) : (
          <ContainerInfo container={container} onRecreate={() => void confirmRecreate()} recreateDisabled={disabled} />
        )}
      </section>

      <AdvancedOptions bot={bot} container={container ?? null} onBotChanged={onBotChanged} onRecreate={() => void confirmRecreate()} recreateDisabled={disabled || !container} />
      <SnapshotsPanel bot={bot} hasContainer={!!container} busy={running} />
      <DataPanel bot={bot} dataPath={container?.paths.container ?? '/data'} busy={running} />
      <VersionsPanel bot={bot} />
    </div>
  );
}
