import { useId, useRef, useState, type FormEvent } from 'react';
import type { Bot, DataImportMode, DataImportResult } from '@berth/contract';
import { berth } from '../api.js';
import { formatBytes } from '../components/format.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';
import { uploadingClient, uploadProgress } from '../upload.js';
import { importedSentence } from './data-text.js';

/** Data: export the data dir (a download), import an archive into it with progress, reset it to clean. */
export function DataPanel({ bot, dataPath, busy }: { bot: Bot; dataPath: string; busy: boolean }) {
  const id = useId();
  const fileRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<DataImportMode>('merge');
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [working, setWorking] = useState<'import' | 'reset' | null>(null);
  const { dialog, ask } = useDialog();

  const importArchive = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    if (mode === 'replace') {
      const ok = await ask({
        title: 'Replace the data directory?',
        message: <p>Everything in {dataPath} that is not in {file.name} is removed.</p>,
        confirmLabel: 'Import and replace',
        danger: true,
      });
      if (!ok) return;
    }
    setWorking('import');
    setError(null);
    setResult(null);
    setProgress({ sent: 0, total: file.size });
    try {
      const client = uploadingClient((sent, total) => setProgress(uploadProgress(sent, total, file.size)));
      const r: DataImportResult = await client.importData(bot.id, file, { mode });
      setResult(importedSentence(r, file.name));
      setFile(null);
      if (fileRef.current) fileRef.current.value = '';
    } catch (err) {
      setError(err);
    } finally {
      setWorking(null);
      setProgress(null);
    }
  };

  const reset = async () => {
    const ok = await ask({
      title: 'Restore the data directory to clean?',
      message: <p>Everything in {dataPath} is deleted; the container keeps running. Take a snapshot first to keep a copy.</p>,
      confirmLabel: 'Delete all data',
      danger: true,
    });
    if (!ok) return;
    setWorking('reset');
    setError(null);
    setResult(null);
    try {
      await berth.resetData(bot.id);
      setResult(`${dataPath} is empty again.`);
    } catch (err) {
      setError(err);
    } finally {
      setWorking(null);
    }
  };

  const disabled = busy || working !== null;
  return (
    <section className="card" aria-labelledby="data-title">
      {dialog}
      <h2 id="data-title">Data</h2>
      <p className="muted">
        The bot’s data directory, mounted at <code>{dataPath}</code>. It survives stop, start and recreate.
      </p>
      <div className="data-grid">
        <div>
          <h3>Export</h3>
          <p className="small muted">A .tar.gz of the whole data directory.</p>
          {/* A plain download: the browser streams it to disk with the session cookie. */}
          <a className="button" href={`/api/v1/bots/${encodeURIComponent(bot.id)}/data/export`} download={`${bot.name}-data.tar.gz`}>
            Export data
          </a>
        </div>

        <form onSubmit={(e) => void importArchive(e)} aria-labelledby={`${id}-import`}>
          <h3 id={`${id}-import`}>Import</h3>
          <div className="field">
            <label htmlFor={`${id}-file`}>Archive (.tar or .tar.gz)</label>
            <input id={`${id}-file`} ref={fileRef} type="file" accept=".tar,.tar.gz,.tgz,application/gzip,application/x-tar" disabled={disabled} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </div>
          <fieldset className="inline" disabled={disabled}>
            <legend className="visually-hidden">How to import</legend>
            <div className="check">
              <input id={`${id}-merge`} type="radio" name={`${id}-mode`} checked={mode === 'merge'} onChange={() => setMode('merge')} />
              <label htmlFor={`${id}-merge`}>Merge — keep files the archive does not name</label>
            </div>
            <div className="check">
              <input id={`${id}-replace`} type="radio" name={`${id}-mode`} checked={mode === 'replace'} onChange={() => setMode('replace')} />
              <label htmlFor={`${id}-replace`}>Replace — the data directory becomes the archive</label>
            </div>
          </fieldset>
          {progress && (
            <div className="upload">
              <label htmlFor={`${id}-progress`}>
                Uploading {formatBytes(progress.sent)} of {formatBytes(progress.total)}
              </label>
              <progress id={`${id}-progress`} value={progress.sent} max={Math.max(progress.total, 1)} />
            </div>
          )}
          <button type="submit" disabled={disabled || !file}>
            {working === 'import' ? 'Importing…' : 'Import data'}
          </button>
        </form>

        <div>
          <h3>Restore to clean</h3>
          <p className="small muted">Empties the data directory without recreating the container.</p>
          <button type="button" className="danger" disabled={disabled} onClick={() => void reset()}>
            {working === 'reset' ? 'Restoring…' : 'Restore to clean'}
          </button>
        </div>
      </div>
      {result && (
        <p role="status" className="success">
          {result}
        </p>
      )}
      <ErrorMessage error={error} onDismiss={() => setError(null)} />
    </section>
  );
}
