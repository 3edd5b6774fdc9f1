import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { Bot, DirectoryListing, FileEntry } from '@berth/contract';
import { berth } from '../api.js';
import { isApiError } from '../components/explain-error.js';
import { formatBytes, formatTime } from '../components/format.js';
import { useDialog } from '../components/dialog.js';
import { ErrorMessage } from '../components/error-message.js';
import { uploadingClient, uploadProgress } from '../upload.js';
import { baseName, decodeText, fileDownloadHref, joinPath as join, MAX_EDIT_BYTES, newFilePath, parentPath as parent, sortEntries, uploadedSentence } from './file-paths.js';

/** The folder in the address (`?path=`), so a reload stays in it. */
function initialDir(fallback: string): string {
  return new URLSearchParams(window.location.search).get('path') ?? fallback;
}

interface OpenFile {
  path: string;
  size: number;
  mode: string;
  /** Null for a file that is not UTF-8 text or too large to edit here. */
  text: string | null;
  saved: string | null;
}

/** Files: browse the container's files (from the data dir), view, edit and save text, upload, download. */
export function FilesTab({ bot, dataPath = '.' }: { bot: Bot; dataPath?: string }) {
  const id = useId();
  const [dir, setDir] = useState(() => initialDir(dataPath));
  const [pathInput, setPathInput] = useState(dir);
  const [listing, setListing] = useState<DirectoryListing | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [open, setOpen] = useState<OpenFile | null>(null);
  const [fileError, setFileError] = useState<unknown>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [upload, setUpload] = useState<{ name: string; sent: number; total: number } | null>(null);
  const uploadRef = useRef<HTMLInputElement>(null);
  const { dialog, ask } = useDialog();

  const list = useCallback(
    async (path: string) => {
      try {
        const l = await berth.listFiles(bot.id, path);
        setListing(l);
        setListError(null);
        setDir(l.path);
        setPathInput(l.path);
        const url = new URL(window.location.href);
        url.searchParams.set('path', l.path);
        window.history.replaceState(null, '', url);
      } catch (err) {
        setListError(err);
      }
    },
    [bot.id],
  );
  // The first folder: from the address, else the data dir; later moves go through list().
  const first = useRef(dir);
  useEffect(() => {
    void list(first.current);
  }, [list]);

  const openFile = async (entry: FileEntry) => {
    const path = join(dir, entry.name);
    setFileError(null);
    setStatus(null);
    if (entry.size > MAX_EDIT_BYTES) {
      setOpen({ path, size: entry.size, mode: entry.mode, text: null, saved: null });
      return;
    }
    try {
      const bytes = await berth.readFile(bot.id, path);
      const text = decodeText(bytes);
      setOpen({ path, size: bytes.byteLength, mode: entry.mode, text, saved: text });
    } catch (err) {
      setFileError(err);
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!open || open.text === null) return;
    setFileError(null);
    try {
      const info = await berth.writeFile(bot.id, open.path, open.text, { mode: open.mode });
      setOpen({ ...open, size: info.size, saved: open.text });
      setStatus(`Saved ${open.path} (${formatBytes(info.size)}).`);
      await list(dir);
    } catch (err) {
      setFileError(err);
    }
  };

  const newFile = async () => {
    const answer = await ask({ title: `New file in ${dir}`, input: { label: 'File name', placeholder: 'notes.txt' }, confirmLabel: 'Create file' });
    if (!answer) return;
    const path = newFilePath(dir, answer.value);
    try {
      await berth.writeFile(bot.id, path, '');
      await list(dir);
      setOpen({ path, size: 0, mode: '0644', text: '', saved: '' });
      setStatus(null);
    } catch (err) {
      setListError(err);
    }
  };

  const remove = async (entry: FileEntry) => {
    const path = join(dir, entry.name);
    const answer = await ask({
      title: `Delete ${entry.name}?`,
      message: <p>{entry.type === 'directory' ? `The folder ${path} and everything in it are removed.` : `${path} is removed.`}</p>,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!answer) return;
    try {
      await berth.deleteFile(bot.id, path, { recursive: entry.type === 'directory' });
      if (open?.path === path) setOpen(null);
      await list(dir);
    } catch (err) {
      setListError(err);
    }
  };

  const uploadFiles = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    setListError(null);
    try {
      for (const file of Array.from(files)) {
        setUpload({ name: file.name, sent: 0, total: file.size });
        const client = uploadingClient((sent, total) => setUpload({ name: file.name, ...uploadProgress(sent, total, file.size) }));
        await client.writeFile(bot.id, join(dir, file.name), file);
      }
      setStatus(uploadedSentence(Array.from(files, (f) => f.name), dir));
      await list(dir);
    } catch (err) {
      setListError(err);
    } finally {
      setUpload(null);
      if (uploadRef.current) uploadRef.current.value = '';
    }
  };

  const goTo = (e: FormEvent) => {
    e.preventDefault();
    void list(pathInput.trim() || dataPath);
  };

  const dirty = open !== null && open.text !== open.saved;
  const downloadHref = (path: string) => fileDownloadHref(bot.id, path);
  const entries = listing ? sortEntries(listing.entries) : [];

  return (
    <div className="files-tab">
      {dialog}
      <section className="card" aria-labelledby={`${id}-title`}>
        <div className="card-head">
          <h2 id={`${id}-title`}>Files</h2>
          <div className="actions">
            <button type="button" onClick={() => void newFile()}>
              New file
            </button>
            <input id={`${id}-upload`} ref={uploadRef} type="file" multiple className="visually-hidden" onChange={(e) => void uploadFiles(e.target.files)} />
            <label className="button" htmlFor={`${id}-upload`}>
              Upload files
            </label>
          </div>
        </div>
        <form className="inline-form path-bar" onSubmit={goTo}>
          <div className="field">
            <label htmlFor={`${id}-path`}>Folder</label>
            <input id={`${id}-path`} className="mono" value={pathInput} spellCheck={false} onChange={(e) => setPathInput(e.target.value)} />
          </div>
          <button type="submit">Open</button>
          <button type="button" onClick={() => void list(parent(dir))} disabled={dir === '/'}>
            Up
          </button>
        </form>
        {upload && (
          <div className="upload">
            <label htmlFor={`${id}-up-progress`}>
              Uploading {upload.name}: {formatBytes(upload.sent)} of {formatBytes(upload.total)}
            </label>
            <progress id={`${id}-up-progress`} value={upload.sent} max={Math.max(upload.total, 1)} />
          </div>
        )}
        {status && (
          <p role="status" className="success">
            {status}
          </p>
        )}
        <ErrorMessage error={listError} onDismiss={() => setListError(null)} />
        {isApiError(listError, 'container_not_running') && <p className="muted">Outside the data directory, files are reachable only while the container runs.</p>}
        {listing && (
          <div className="table-wrap">
            <table className="files-table stack-table">
              <caption className="visually-hidden">Entries of {listing.path}</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">Modified</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {entries.length === 0 && (
                  <tr>
                    <td colSpan={4} className="muted">
                      This folder is empty.
                    </td>
                  </tr>
                )}
                {entries.map((e) => (
                  <tr key={e.name} data-file={e.name} className={open?.path === join(dir, e.name) ? 'selected' : undefined}>
                    <th scope="row">
                      {e.type === 'directory' ? (
                        <button type="button" className="link-button file-link" onClick={() => void list(join(dir, e.name))}>
                          <span aria-hidden="true">📁 </span>
                          {e.name}/
                        </button>
                      ) : e.type === 'file' ? (
                        <button type="button" className="link-button file-link" onClick={() => void openFile(e)}>
                          {e.name}
                        </button>
                      ) : (
                        <span className="mono">
                          {e.name}
                          {e.linkTarget && <span className="muted"> → {e.linkTarget}</span>}
                        </span>
                      )}
                    </th>
                    <td data-label="Size">{e.type === 'file' ? formatBytes(e.size) : '—'}</td>
                    <td data-label="Modified">
                      <time dateTime={e.mtime}>{formatTime(e.mtime)}</time>
                    </td>
                    <td className="right nowrap">
                      {e.type === 'file' && (
                        <a className="button small" href={downloadHref(join(dir, e.name))} download={e.name} aria-label={`Download ${e.name}`}>
                          Download
                        </a>
                      )}{' '}
                      <button type="button" className="small danger" onClick={() => void remove(e)} aria-label={`Delete ${e.name}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {listing?.truncated && <p className="muted">This folder has more entries than are shown.</p>}
      </section>

      {open && (
        <section className="card" aria-labelledby={`${id}-file`}>
          <div className="card-head">
            <h2 id={`${id}-file`} className="mono wrap">
              {open.path}
            </h2>
            <span className="muted small">
              {formatBytes(open.size)} · mode {open.mode}
            </span>
          </div>
          <ErrorMessage error={fileError} onDismiss={() => setFileError(null)} />
          {open.text === null ? (
            <p>
              {open.size > MAX_EDIT_BYTES ? 'This file is too large to edit here.' : 'This file is not text.'}{' '}
              <a href={downloadHref(open.path)} download={baseName(open.path)}>
                Download it
              </a>
              .
            </p>
          ) : (
            <form onSubmit={(e) => void save(e)}>
              <label htmlFor={`${id}-editor`} className="visually-hidden">
                Content of {open.path}
              </label>
              <textarea
                id={`${id}-editor`}
                className="mono editor"
                rows={18}
                spellCheck={false}
                value={open.text}
                onChange={(e) => {
                  setOpen({ ...open, text: e.target.value });
                  setStatus(null);
                }}
                onKeyDown={(e) => {
                  // Ctrl/Cmd+S saves, as in any editor.
                  if ((e.ctrlKey || e.metaKey) && e.key === 's') {
                    e.preventDefault();
                    e.currentTarget.form?.requestSubmit();
                  }
                }}
              />
              <div className="actions">
                <button type="submit" className="primary" disabled={!dirty}>
                  Save
                </button>
                <button type="button" disabled={!dirty} onClick={() => setOpen({ ...open, text: open.saved })}>
                  Revert
                </button>
                <button type="button" onClick={() => setOpen(null)}>
                  Close
                </button>
                {dirty && <span className="muted">Unsaved changes</span>}
              </div>
            </form>
          )}
        </section>
      )}
    </div>
  );
}
