import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../../errors.js';
import type { ExecOutputChunk, ExecSession, ExecStreamOptions } from '../driver.js';
import { type PodmanClient, EngineTimeoutError, abortReason, demuxDockerStream, engineHttpError, progressBounded, readAll, toAppError } from './podman-client.js';

/**
 * Streaming exec over Podman's Docker-compatible exec API: `POST /containers/{id}/exec`, then
 * `POST /exec/{id}/start` with the connection upgraded (hijacked) so that standard input and output
 * share one socket; `POST /exec/{id}/resize`; `GET /exec/{id}/json` for the exit code.
 *
 * The engine has no way to signal an exec session, so the command runs under a small `/bin/sh`
 * wrapper that first reports the process id the command will keep (before anything else is written)
 * and, without a tty, makes it the leader of its own session and process group with `setsid`. A
 * kill is then a second exec: `kill -KILL -- -<pgid>`. Before it, the session's first process is
 * killed from the host (`killExecFromHost`), which works even when the container's `/bin/sh` is not
 * a shell at all and the wrapper never reported a pid.
 */

/**
 * Without a tty. The subshell is forked (the trailing `exit` keeps ash from running it in place), so
 * it is not a process-group leader and `setsid` runs in-process instead of forking: the pid reported
 * on stderr's first line is the command's, its session's and its process group's.
 */
const PLAIN_WRAPPER =
  // The outer shell's own stderr goes to /dev/null so that it adds no "Killed" of its own after a kill.
  'exec 3>&2 2>/dev/null; ( exec 2>&3 3>&-; IFS=" " read -r p _ </proc/self/stat; printf "%s\\n" "$p" >&2; ' +
  'if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; fi; exec "$@" ); exit $?';

/** With a tty the engine already makes the shell a session leader on the terminal; keep that. */
const TTY_WRAPPER = 'printf "%s\\n" "$$"; exec "$@"';

/** `kill -9 -PGID`: the one spelling busybox's and dash's `kill` both take for a process group. */
export const KILL_SCRIPT = 'kill -9 "-$1" 2>/dev/null || kill -9 "$1" 2>/dev/null; exit 0';

/** A marker line longer than this is not the wrapper's: give up looking for it. */
const MAX_MARKER_BYTES = 32;
/** Output kept while waiting for the marker; past it (a replaced `/bin/sh`) the wait is given up. */
const MAX_EARLY_BYTES = 64 * 1024;

interface ExecInspect {
  Running?: boolean;
  ExitCode?: number | null;
  /** The session's first process as the host sees it. */
  Pid?: number;
  ContainerID?: string;
}

export interface ExecSessionDeps {
  client: PodmanClient;
  /** Runs a short command to completion in the same container (used for kill). */
  runShort(command: string[]): Promise<unknown>;
}

export async function startExecSession(deps: ExecSessionDeps, containerId: string, options: ExecStreamOptions): Promise<ExecSession> {
  const { client } = deps;
  const tty = options.tty === true;
  const ctx = { resource: 'container' as const, ref: containerId, action: 'exec in container' };
  options.signal?.throwIfAborted();

  const create: Record<string, unknown> = {
    AttachStdin: options.stdin === true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty,
    Cmd: ['/bin/sh', '-c', tty ? TTY_WRAPPER : PLAIN_WRAPPER, tty ? 'berth-term' : 'berth-exec', ...options.command],
    // An empty sequence: stdin bytes are data, never the engine's detach keys (ctrl-p ctrl-q).
    DetachKeys: '',
  };
  if (options.env && Object.keys(options.env).length > 0) create.Env = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
  if (options.cwd) create.WorkingDir = options.cwd;
  let execId: string;
  try {
    const { body } = await client.json<{ Id: string }>({ method: 'POST', path: `/containers/${encodeURIComponent(containerId)}/exec`, body: create, signal: options.signal });
    execId = body.Id;
  } catch (err) {
    throw toAppError(err, ctx);
  }

  const startBody: Record<string, unknown> = { Detach: false, Tty: tty };
  if (tty && options.size) Object.assign(startBody, { h: options.size.rows, w: options.size.cols });
  let socket: Socket;
  let head: Buffer;
  try {
    // Only the engine's answer is bounded: the session itself may stay silent as long as it likes.
    ({ socket, head } = await upgrade(client.socketPath, `/exec/${execId}/start`, startBody, { signal: options.signal, timeoutMs: client.timeoutMs }));
  } catch (err) {
    throw toAppError(err, ctx);
  }

  // Errors reach the reader through the stream; this keeps one that comes while nobody reads from crashing the process.
  socket.on('error', () => undefined);
  const chunks = rawChunks(head, socket);
  const frames: AsyncIterator<ExecOutputChunk> = (tty ? ttyFrames(chunks) : plainFrames(chunks))[Symbol.asyncIterator]();
  let finished = false;
  let killed = false;

  // The wrapper's first line: the pid. Frames before it (none are expected) are kept for the reader.
  const early: ExecOutputChunk[] = [];
  let earlyBytes = 0;
  let pid: number | null = null;
  let marker = Buffer.alloc(0);
  const markerStream = tty ? 'stdout' : 'stderr';
  try {
    while (pid === null) {
      const next = await frames.next();
      if (next.done) {
        finished = true;
        break;
      }
      const frame = next.value;
      if (frame.stream !== markerStream) {
        early.push(frame);
        earlyBytes += frame.data.length;
        if (earlyBytes > MAX_EARLY_BYTES) break;
        continue;
      }
      marker = Buffer.concat([marker, frame.data]);
      const nl = marker.indexOf(0x0a);
      if (nl < 0) {
        if (marker.length > MAX_MARKER_BYTES) {
          early.push({ stream: markerStream, data: marker });
          break;
        }
        continue;
      }
      const line = marker.subarray(0, nl).toString('latin1').replace(/\r$/, '');
      const rest = marker.subarray(nl + 1);
      if (/^\d+$/.test(line)) pid = Number(line);
      else early.push({ stream: markerStream, data: marker.subarray(0, nl + 1) });
      if (rest.length > 0) early.push({ stream: markerStream, data: rest });
      if (pid !== null) break;
      if (/^Error: .*(runc|crun|OCI runtime|exec failed)/i.test(line)) {
        // The engine's own failure to start the process: the rest of the stream is its message.
        for (let n = await frames.next(); !n.done; n = await frames.next()) early.push(n.value);
        finished = true;
      }
      break;
    }
  } catch (err) {
    socket.destroy();
    throw toAppError(err, ctx);
  }
  if (pid === null && finished) {
    // The wrapper never ran: the engine could not start the process at all.
    socket.destroy();
    const text = Buffer.concat(early.map((f) => f.data)).toString('utf8').trim();
    if (/chdir to cwd/i.test(text)) {
      throw new AppError('validation_failed', { reason: `the working directory ${options.cwd ?? ''} does not exist in the container` }, { details: { cwd: options.cwd, engineMessage: text } });
    }
    throw new AppError('internal', { reason: `the command could not be started in the container (it needs /bin/sh): ${text.split('\n')[0] ?? ''}` }, { details: { engineMessage: text } });
  }

  async function* output(): AsyncGenerator<ExecOutputChunk> {
    try {
      for (const f of early.splice(0)) yield f;
      if (finished) return;
      for (;;) {
        const next = await frames.next();
        if (next.done) return;
        yield next.value;
      }
    } catch (err) {
      // A socket closed by kill() ends the output; anything else is the engine's failure.
      if (!killed) throw toAppError(err, ctx);
    } finally {
      finished = true;
      socket.destroy();
    }
  }

  const closed = new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
  const exitCode = waitForExit(client, execId, ctx, closed);
  exitCode.catch(() => undefined);

  const kill = async (): Promise<void> => {
    if (killed) return;
    killed = true;
    try {
      if (finished) return;
      // The session's own first process, from the host: this needs nothing from the container, whose
      // `/bin/sh` may not be the one the wrapper expects (then no pid was reported either).
      await killExecFromHost(client, execId);
      // The command's process group, which the wrapper moved out of the first process's. Once the
      // output has ended the process is gone; its pid may already be someone else's.
      if (pid !== null) await deps.runShort(['/bin/sh', '-c', KILL_SCRIPT, 'berth-kill', String(pid)]);
    } catch {
      // The container stopped meanwhile: nothing is left to kill.
    } finally {
      socket.destroy();
    }
  };

  const onAbort = () => void kill();
  if (options.signal) {
    if (options.signal.aborted) await kill();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    void exitCode.finally(() => options.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  }

  return {
    output: output(),
    exitCode,
    write: async (data) => {
      if (socket.destroyed || socket.writableEnded) throw new AppError('internal', { reason: 'the command’s standard input is closed' });
      if (socket.write(data)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    },
    end: () => {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
    },
    resize: async (cols, rows) => {
      if (!tty || socket.destroyed) return;
      try {
        await client.json({ method: 'POST', path: `/exec/${execId}/resize`, query: { h: rows, w: cols } });
      } catch {
        // The session ended meanwhile; a resize is advisory.
      }
    },
    kill,
  };
}

/**
 * SIGKILLs an exec session's first process and its process group (the engine makes it a session
 * leader) from the host, when the engine runs on this host and its processes are ours to signal;
 * otherwise does nothing. The pid is only signalled while its cgroup is the container's, so a pid
 * reused by a host process is left alone.
 */
export async function killExecFromHost(client: PodmanClient, execId: string): Promise<void> {
  let info: ExecInspect;
  try {
    ({ body: info } = await client.json<ExecInspect>({ path: `/exec/${execId}/json` }));
  } catch {
    return; // the session is gone
  }
  const { Pid: pid, ContainerID: container } = info;
  if (!info.Running || typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1 || !container || !/^[0-9a-f]{64}$/.test(container)) return;
  try {
    if (!(await readFile(`/proc/${pid}/cgroup`, 'utf8')).includes(container)) return;
  } catch {
    return; // not visible from here (another host or pid namespace), or already gone
  }
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone, or not ours to signal.
    }
  }
}

/** `POST` with `Connection: Upgrade`: Podman answers 101 and hands the socket over to the exec stream. */
function upgrade(socketPath: string, path: string, body: unknown, options: { signal: AbortSignal | undefined; timeoutMs: number }): Promise<{ socket: Socket; head: Buffer }> {
  const { signal, timeoutMs } = options;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath,
      path,
      method: 'POST',
      agent: false,
      headers: { Host: 'podman', 'Content-Type': 'application/json', 'Content-Length': payload.length, Connection: 'Upgrade', Upgrade: 'tcp' },
      ...(signal && { signal }),
    });
    const timer = setTimeout(() => req.destroy(new EngineTimeoutError(`Podman did not answer POST ${path} within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('upgrade', (_res, socket, head) => {
      clearTimeout(timer);
      resolve({ socket, head });
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      // Not upgraded: an error answer (or an engine that cannot hijack).
      readAll(progressBounded(res, timeoutMs, 'answering an exec start')).then(
        (text) => reject(engineHttpError(res.statusCode ?? 0, text.toString('utf8'))),
        reject,
      );
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(signal?.aborted ? abortReason(signal) : err);
    });
    req.end(payload);
  });
}

async function* rawChunks(head: Buffer, socket: Socket): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for await (const chunk of socket) yield chunk as Buffer;
}

async function* ttyFrames(chunks: AsyncIterable<Buffer>): AsyncGenerator<ExecOutputChunk> {
  for await (const data of chunks) yield { stream: 'stdout', data };
}

async function* plainFrames(chunks: AsyncIterable<Buffer>): AsyncGenerator<ExecOutputChunk> {
  for await (const f of demuxDockerStream(chunks)) if (f.stream !== 'stdin') yield { stream: f.stream, data: f.data };
}

/**
 * The session's exit code once the engine reports it ended. The stream's end comes first; the
 * session's state can trail it briefly, longer after a kill.
 */
async function waitForExit(client: PodmanClient, execId: string, ctx: { resource: 'container'; ref: string; action: string }, closed: Promise<unknown>): Promise<number> {
  await closed;
  let delay = 10;
  const deadline = Date.now() + 10_000;
  for (;;) {
    let body: ExecInspect;
    try {
      ({ body } = await client.json<ExecInspect>({ path: `/exec/${execId}/json` }));
    } catch (err) {
      throw toAppError(err, ctx);
    }
    if (!body.Running && typeof body.ExitCode === 'number') return body.ExitCode;
    if (Date.now() > deadline) throw new AppError('internal', { reason: `exec session ${execId} did not report an exit code` });
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}
