import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './server-process.js';

/**
 * Request bodies are judged before they are read, against the built server listening on a port:
 * a huge body is refused while it is still being sent, the server's memory does not grow with it,
 * and the connection is closed rather than drained.
 */

const HUGE = 400 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x41);

interface RawAnswer {
  status: number;
  head: string;
  body: string;
  /** Body bytes the client managed to send before the answer came (or the server closed). */
  sent: number;
  /** The server ended the connection after answering. */
  closed: boolean;
}

/**
 * Sends a request over a plain socket and keeps sending body bytes (up to `total`) until the answer
 * arrives, so the test sees whether the server answers before the body ends.
 */
function rawRequest(server: ServerProcess, options: { method: string; path: string; headers?: Record<string, string>; total: number; chunked: boolean }): Promise<RawAnswer> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
    let received = Buffer.alloc(0);
    let sent = 0;
    let answered = false;
    let closed = false;
    const finish = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no answer to ${options.method} ${options.path} chunked=${options.chunked} (sent ${sent} bytes, got ${received.length}): ${text.slice(0, 200)}`));
      const head = text.slice(0, end);
      resolve({ status: Number(head.split(' ')[1]), head, body: text.slice(end + 4), sent, closed });
    };
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.includes('\r\n\r\n')) answered = true;
    });
    socket.on('error', () => undefined);
    socket.on('end', () => (closed = true));
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const headers: Record<string, string> = { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...options.headers };
    if (options.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(options.total);
    socket.write(`${options.method} ${options.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    // One chunk per turn of the event loop, so that an answer is read as soon as it comes (as curl
    // does), not after the socket has been reset under a client that never looked.
    const pump = () => {
      if (answered || closed || socket.destroyed) {
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      if (sent >= options.total) {
        if (options.chunked) socket.write('0\r\n\r\n');
        return;
      }
      const piece = options.chunked ? Buffer.concat([Buffer.from(`${CHUNK.length.toString(16)}\r\n`), CHUNK, Buffer.from('\r\n')]) : CHUNK;
      sent += CHUNK.length;
      if (socket.write(piece)) setImmediate(pump);
      else socket.once('drain', () => setImmediate(pump));
    };
    socket.on('connect', pump);
  });
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('request bodies are judged before they are read', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.kill();
    if (server) fs.rmSync(server.home, { recursive: true, force: true });
  });

  it('refuses huge bodies at once, without the server growing with them, and closes the connection', async () => {
    const pid = server.child.pid ?? 0;
    const before = rssBytes(pid);
    const auth = { authorization: `Bearer ${server.token}` };
    const cases = [
      { name: 'login, declared length', method: 'POST', path: '/api/v1/session', headers: {}, chunked: false, status: 413, code: 'body_too_large' },
      { name: 'login, chunked', method: 'POST', path: '/api/v1/session', headers: {}, chunked: true, status: 413, code: 'body_too_large' },
      { name: 'JSON route, declared length', method: 'POST', path: '/api/v1/bots', headers: auth, chunked: false, status: 413, code: 'body_too_large' },
      { name: 'JSON route, chunked', method: 'POST', path: '/api/v1/bots', headers: auth, chunked: true, status: 413, code: 'body_too_large' },
      { name: 'no token', method: 'POST', path: '/api/v1/bots', headers: {}, chunked: false, status: 401, code: 'unauthorized' },
      { name: 'no token, chunked', method: 'POST', path: '/api/v1/bots/x/exec', headers: {}, chunked: true, status: 401, code: 'unauthorized' },
    ];
    for (const c of cases) {
      const answer = await rawRequest(server, { method: c.method, path: c.path, headers: c.headers, total: HUGE, chunked: c.chunked });
      expect({ case: c.name, status: answer.status }).toEqual({ case: c.name, status: c.status });
      expect(JSON.parse(answer.body.slice(answer.body.indexOf('{'))) as unknown).toMatchObject({ error: { code: c.code } });
      // Answered while the body was still coming, and the connection closed rather than read to its end.
      expect(answer.sent, c.name).toBeLessThan(HUGE / 4);
      expect(answer.closed, c.name).toBe(true);
    }
    // 6 × 400 MB offered: the server kept none of it.
    expect(rssBytes(pid) - before).toBeLessThan(64 * 1024 * 1024);
    // And it still serves, with small bodies as before.
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: server.token }) });
    expect(res.status).toBe(200);
  });

  it('takes a body just under the JSON limit and refuses one just over it', async () => {
    const auth = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
    const padding = (n: number) => JSON.stringify({ name: 'x', env: { PAD: 'a'.repeat(n) } });
    // Under 1 MiB: read and judged by the schema (a 64 KiB env value is too long): 400, not 413.
    const under = await fetch(`${server.url}/api/v1/bots`, { method: 'POST', headers: auth, body: padding(1024 * 1024 - 100) });
    expect(under.status).toBe(400);
    expect(((await under.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    const over = await fetch(`${server.url}/api/v1/bots`, { method: 'POST', headers: auth, body: padding(1024 * 1024) });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string; details: unknown } }).error).toMatchObject({ code: 'body_too_large', details: { limitBytes: 1024 * 1024 } });
  });
});
