import { useEffect, useRef, useState } from 'react';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { Bot } from '@berth/contract';
import { berth } from '../api.js';
import { readTextFrame, resizeFrame } from './terminal-frames.js';

type State = { kind: 'connecting' } | { kind: 'open' } | { kind: 'closed'; message: string };

/** Terminal: an interactive shell in the container, xterm.js over the terminal WebSocket. */
export function TerminalTab({ bot, running }: { bot: Bot; running: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [session, setSession] = useState(0);

  useEffect(() => {
    if (!running || !host.current) return;
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'Liberation Mono', monospace",
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#1b2130', foreground: '#e6e9ef', cursor: '#9ecbff' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    setState({ kind: 'connecting' });

    const ws = new WebSocket(berth.terminalUrl(bot.id, { cols: term.cols, rows: term.rows }));
    ws.binaryType = 'arraybuffer';
    const encoder = new TextEncoder();
    let ended = false;

    ws.onopen = () => {
      setState({ kind: 'open' });
      term.focus();
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data === 'string') {
        const frame = readTextFrame(ev.data);
        if (frame.kind === 'exit') {
          ended = true;
          term.write(`\r\n\x1b[2m[${frame.message}]\x1b[0m\r\n`);
          setState({ kind: 'closed', message: frame.message });
        } else {
          term.write(frame.text);
        }
        return;
      }
      term.write(new Uint8Array(ev.data));
    };
    ws.onclose = () => {
      if (!ended) setState({ kind: 'closed', message: 'The connection closed.' });
    };
    ws.onerror = () => {
      if (!ended) setState({ kind: 'closed', message: 'The terminal could not connect. Is the container running?' });
    };

    const input = term.onData((data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    });
    const sendSize = term.onResize(({ cols, rows }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(resizeFrame(cols, rows));
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(host.current);

    return () => {
      observer.disconnect();
      input.dispose();
      sendSize.dispose();
      ws.close();
      term.dispose();
    };
  }, [bot.id, running, session]);

  if (!running) {
    return (
      <section className="card">
        <h2>Terminal</h2>
        <p className="muted">The container is not running. Start it on the Container tab to open a terminal.</p>
      </section>
    );
  }

  return (
    <section className="card terminal-card" aria-labelledby="terminal-title">
      <div className="card-head">
        <h2 id="terminal-title">Terminal</h2>
        <div className="actions">
          <span role="status" className={`live ${state.kind === 'open' ? 'live-on' : 'live-off'}`}>
            {state.kind === 'open' ? 'Connected' : state.kind === 'connecting' ? 'Connecting…' : 'Closed'}
          </span>
          {state.kind === 'closed' && (
            <button type="button" onClick={() => setSession((n) => n + 1)}>
              Reconnect
            </button>
          )}
        </div>
      </div>
      {state.kind === 'closed' && <p className="muted">{state.message}</p>}
      <div className="terminal-host" ref={host} role="application" aria-label={`Shell in ${bot.name}’s container`} />
      <p className="hint">A shell in the container, in its data directory. Ctrl+D or `exit` ends it.</p>
    </section>
  );
}
