import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { AppError } from '../../errors.js';
import type {
  ContainerSpec,
  ContainerState,
  EngineState,
  ExecResult,
  ExecSession,
  ExecStreamOptions,
  CommitOptions,
  ImageInfo,
  ImageSummary,
  NetworkSummary,
  PullLayerProgress,
  PullProgress,
  RuntimeCapabilities,
  RuntimeDriver,
} from '../driver.js';
import { MAX_SHORT_EXEC_OUTPUT, matchesLabelFilter, outputTooLarge } from '../driver.js';
import {
  PodmanClient,
  abortReason,
  demuxDockerStream,
  engineHttpError,
  jsonLines,
  progressBounded,
  readAll,
  toAppError,
} from './podman-client.js';
import { killExecFromHost, startExecSession } from './podman-exec.js';
import { BRIDGE_PREFIX, DEFAULT_BRIDGE_PREFIX } from './podman-isolation.js';

/** libpod endpoints are versioned; 4.0.0 is the oldest Podman 4.3 accepts. */
const LIBPOD = '/v4.0.0/libpod';
const ZERO_TIME = '0001-01-01T00:00:00Z';
const CPU_PERIOD_US = 100_000;

// Shapes of the engine answers this driver reads (only the fields it uses).
interface LibpodContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  ImageName?: string;
  State: { Status: string; ExitCode?: number; StartedAt?: string; FinishedAt?: string; CgroupPath?: string };
  Config?: { Labels?: Record<string, string> | null };
  HostConfig?: { Devices?: { PathOnHost: string; PathInContainer: string }[] | null };
  NetworkSettings?: { Networks?: Record<string, unknown> | null };
}

interface LibpodImageInspect {
  Id: string;
  Config?: { Cmd?: string[] | string | null; Entrypoint?: string[] | string | null };
}

interface LibpodImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Names?: string[] | null;
  Labels?: Record<string, string> | null;
  Created?: number;
  Containers?: number;
}

interface LibpodHistoryEntry {
  Id: string;
  Size?: number;
}

interface LibpodNetwork {
  name: string;
  network_interface?: string;
  labels?: Record<string, string> | null;
}

interface PullLine {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

export interface PodmanDriverOptions {
  socketPath: string;
  /**
   * The deadline of one engine call in ms (BERTH_ENGINE_TIMEOUT_SECONDS): plain calls must be
   * answered within it, streams must make progress within it. Default 30 s.
   */
  timeoutMs?: number;
  /**
   * Private networks get bridges named `<prefix><hash of the network name>`, which the host
   * firewall rules match (default `berth`; tests use their own).
   */
  bridgePrefix?: string;
  /** Installs or repairs the host firewall rules; run before each container on a private network is made. */
  isolation?: { ensure(): Promise<unknown> };
}

/** Podman's default `stop_timeout` (containers.conf), which a forced remove of a running container waits out. */
const ENGINE_STOP_TIMEOUT_MS = 10_000;

/** A ping is a health probe: it should fail fast, well before the general deadline. */
const PING_TIMEOUT_MS = 5_000;

/**
 * Drives Podman through its REST API socket. Creation uses the libpod endpoint (the only one that
 * resolves CDI names on Podman 4.3); pulls use the Docker-compatible endpoint, which streams
 * per-layer byte progress; exec uses the Docker-compatible exec endpoints.
 */
export class PodmanDriver implements RuntimeDriver {
  readonly name = 'podman';
  private readonly client: PodmanClient;
  private readonly bridgePrefix: string;
  private readonly isolation: { ensure(): Promise<unknown> } | undefined;

  constructor(options: PodmanDriverOptions) {
    this.client = new PodmanClient({ socketPath: options.socketPath, ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
    this.bridgePrefix = options.bridgePrefix ?? DEFAULT_BRIDGE_PREFIX;
    if (!BRIDGE_PREFIX.test(this.bridgePrefix)) throw new Error(`bridge prefix ${this.bridgePrefix} must match ${String(BRIDGE_PREFIX)}`);
    this.isolation = options.isolation;
  }

  async ping(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ version: string }> {
    // `_ping` is cheap (`/version` runs conmon and runc to ask theirs); its headers name the version.
    const timeoutMs = options.timeoutMs ?? Math.min(PING_TIMEOUT_MS, this.client.timeoutMs);
    try {
      const res = await this.client.request({ path: `${LIBPOD}/_ping`, signal: options.signal, timeoutMs });
      const body = (await readAll(progressBounded(res, timeoutMs, 'answering a ping'), options.signal)).toString('utf8');
      if (res.statusCode !== 200) throw engineHttpError(res.statusCode ?? 0, body);
      const header = res.headers['libpod-api-version'];
      return { version: (Array.isArray(header) ? header[0] : header) ?? 'unknown' };
    } catch (err) {
      throw toAppError(err, { action: 'ping Podman' });
    }
  }

  capabilities(): Promise<RuntimeCapabilities> {
    return Promise.resolve({ cdi: true, pullProgress: true, resources: true, networkNone: true });
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    try {
      const { status, body } = await this.client.json<LibpodImageInspect>(
        { path: `${LIBPOD}/images/${encodeURIComponent(ref)}/json` },
        [404],
      );
      if (status === 404) return null;
      return { id: withSha256(body.Id), cmd: asArgv(body.Config?.Cmd), entrypoint: asArgv(body.Config?.Entrypoint) };
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref, action: 'inspect image' });
    }
  }

  async *pullImage(ref: string, options: { signal?: AbortSignal } = {}): AsyncIterable<PullProgress> {
    const { signal } = options;
    const { name, tag } = splitReference(ref);
    const layers = new Map<string, PullLayerProgress>();
    let res;
    try {
      res = await this.client.request({
        method: 'POST',
        path: '/images/create',
        query: { fromImage: name, tag },
        signal,
      });
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref, action: 'pull image' });
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      // Refused before streaming (bad reference, ...): the body is one small error document.
      const text = (await readAll(progressBounded(res, this.client.timeoutMs, `pulling ${ref}`), signal)).toString('utf8');
      const line = (text.trim().split('\n')[0] ?? '').trim();
      let message = engineHttpError(status, line).message;
      try {
        const parsed = JSON.parse(line) as PullLine;
        message = parsed.errorDetail?.message ?? parsed.error ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw pullError(ref, message);
    }
    let sawError = false;
    try {
      // Bounded by progress, not in total: a large pull may take long but never stalls silently.
      for await (const raw of jsonLines(progressBounded(res, this.client.timeoutMs, `pulling ${ref}`))) {
        const line = raw as PullLine;
        const message = line.errorDetail?.message ?? line.error;
        if (message) {
          sawError = true;
          throw pullError(ref, message);
        }
        if (!line.id || !line.status) continue;
        updateLayer(layers, line.id, line.status, line.progressDetail);
        yield snapshot(ref, layers);
      }
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (sawError || err instanceof AppError) throw err;
      throw toAppError(err, { resource: 'image', ref, action: 'pull image' });
    } finally {
      res.destroy();
    }
  }

  async createContainer(spec: ContainerSpec, options: { signal?: AbortSignal; image?: ImageInfo } = {}): Promise<{ id: string }> {
    const { signal } = options;
    checkCdiNamesForPodman43(spec.cdiDevices);
    const image = options.image ?? (await this.inspectImage(spec.image));
    if (!image) throw new AppError('image_not_found', { image: spec.image, reason: 'it is not present locally' }, { details: { image: spec.image } });
    signal?.throwIfAborted();

    const resourceLimits: Record<string, unknown> = { pids: { limit: spec.resources.pidsLimit } };
    if (spec.resources.cpus !== null) {
      resourceLimits.cpu = { quota: Math.round(spec.resources.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US };
    }
    if (spec.resources.memoryMb !== null) {
      resourceLimits.memory = { limit: Math.round(spec.resources.memoryMb * 1024 * 1024) };
    }
    const body: Record<string, unknown> = {
      name: spec.name,
      image: spec.image,
      labels: spec.labels,
      env: spec.env,
      init: true,
      work_dir: spec.dataMount.containerPath,
      mounts: [
        { type: 'bind', source: spec.dataMount.hostPath, destination: spec.dataMount.containerPath, options: ['rbind', 'rw'] },
      ],
      no_new_privileges: true,
      privileged: false,
      resource_limits: resourceLimits,
      netns: { nsmode: spec.network === 'none' ? 'none' : 'bridge' },
      ...(spec.network === 'bridge' && spec.privateNetwork && { Networks: { [spec.privateNetwork.name]: {} } }),
      devices: spec.cdiDevices.map((path) => ({ path })),
    };
    // An image with nothing to run would exit at once; keep such a workspace alive.
    if (image.cmd.length === 0 && image.entrypoint.length === 0) body.command = ['sleep', 'infinity'];
    if (spec.network === 'bridge' && spec.privateNetwork) {
      await this.isolation?.ensure();
      await this.ensureNetwork(spec.privateNetwork, signal);
    }

    let id: string;
    try {
      const { body: created } = await this.client.json<{ Id: string }>({
        method: 'POST',
        path: `${LIBPOD}/containers/create`,
        body,
        signal,
      });
      id = created.Id;
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref: spec.name, action: 'create container' });
    }

    if (spec.cdiDevices.length > 0) {
      // Podman 4.3 resolves CDI names only when it generates the OCI spec (init/start), not at
      // create. Initialising now makes an unresolvable name fail the create, as the interface says,
      // and leaves nothing behind.
      try {
        await this.client.json({ method: 'POST', path: `${LIBPOD}/containers/${id}/init` }, [304]);
      } catch (err) {
        await this.removeContainer(id).catch(() => undefined);
        throw toAppError(err, { resource: 'container', ref: spec.name, action: 'create container' });
      }
    }
    return { id };
  }

  /**
   * Makes a private network unless it exists: its own bridge and subnet; `isolate` has netavark drop
   * traffic between such networks (the host firewall rules do too, and cover the host); no DNS
   * server of its own (the container uses the host's resolvers, as on the default network, and needs
   * no port on the host); IPv4 only.
   */
  private async ensureNetwork(net: { name: string; labels: Record<string, string> }, signal: AbortSignal | undefined): Promise<void> {
    const bridge = bridgeName(this.bridgePrefix, net.name);
    const ctx = { action: 'create network', ref: net.name };
    try {
      const { status } = await this.client.json(
        {
          method: 'POST',
          path: `${LIBPOD}/networks/create`,
          body: { name: net.name, driver: 'bridge', network_interface: bridge, labels: net.labels, options: { isolate: 'true' }, dns_enabled: false, ipv6_enabled: false, internal: false },
          signal,
        },
        [409],
      );
      if (status !== 409) return;
      // Made already (an earlier container of the bot, or a concurrent create): it must be one of ours.
      const { body } = await this.client.json<LibpodNetwork>({ path: `${LIBPOD}/networks/${encodeURIComponent(net.name)}/json`, signal });
      if (body.network_interface !== bridge || !Object.entries(net.labels).every(([k, v]) => body.labels?.[k] === v)) {
        throw new AppError('internal', { reason: `network ${net.name} exists but was not made for this container (bridge ${body.network_interface ?? '?'}, expected ${bridge})` });
      }
    } catch (err) {
      throw toAppError(err, ctx);
    }
  }

  async listNetworks(filter: { labels: string[] }): Promise<NetworkSummary[]> {
    try {
      // Only the first label goes to the engine; all are checked here (as for images).
      const [first] = filter.labels;
      const { body } = await this.client.json<LibpodNetwork[] | null>({
        path: `${LIBPOD}/networks/json`,
        ...(first !== undefined && { query: { filters: JSON.stringify({ label: [first] }) } }),
      });
      return (body ?? [])
        .map((n) => ({ name: n.name, labels: n.labels ?? {} }))
        .filter((n) => filter.labels.every((l) => matchesLabelFilter(n.labels, l)));
    } catch (err) {
      throw toAppError(err, { action: 'list networks' });
    }
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      // Never forced: force would remove the containers on it too.
      await this.client.json({ method: 'DELETE', path: `${LIBPOD}/networks/${encodeURIComponent(name)}` }, [404]);
    } catch (err) {
      throw toAppError(err, { action: 'remove network', ref: name });
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.client.json({ method: 'POST', path: `${LIBPOD}/containers/${encodeURIComponent(id)}/start` }, [304]);
    } catch (err) {
      throw toAppError(err, { resource: 'container', ref: id, action: 'start container' });
    }
  }

  async stopContainer(id: string, options: { timeoutSeconds: number }): Promise<void> {
    const timeout = Math.max(0, Math.ceil(options.timeoutSeconds));
    try {
      // The engine answers after the graceful period (then SIGKILL), so that period comes on top of the deadline.
      await this.client.json(
        { method: 'POST', path: `${LIBPOD}/containers/${encodeURIComponent(id)}/stop`, query: { timeout }, timeoutMs: timeout * 1000 + this.client.timeoutMs },
        [304],
      );
    } catch (err) {
      throw toAppError(err, { resource: 'container', ref: id, action: 'stop container' });
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      // A forced remove of a running container stops it first, with the engine's stop timeout (10 s by default).
      await this.client.json(
        { method: 'DELETE', path: `${LIBPOD}/containers/${encodeURIComponent(id)}`, query: { force: true, v: true }, timeoutMs: ENGINE_STOP_TIMEOUT_MS + this.client.timeoutMs },
        [404],
      );
    } catch (err) {
      throw toAppError(err, { resource: 'container', ref: id, action: 'remove container' });
    }
  }

  async renameContainer(id: string, name: string): Promise<void> {
    try {
      await this.client.json({ method: 'POST', path: `${LIBPOD}/containers/${encodeURIComponent(id)}/rename`, query: { name } });
    } catch (err) {
      throw toAppError(err, { resource: 'container', ref: id, action: `rename container to ${name}` });
    }
  }

  async inspectContainer(idOrName: string): Promise<ContainerState | null> {
    try {
      const { status, body } = await this.client.json<LibpodContainerInspect>(
        { path: `${LIBPOD}/containers/${encodeURIComponent(idOrName)}/json` },
        [404],
      );
      return status === 404 ? null : toContainerState(body);
    } catch (err) {
      const mapped = toAppError(err, { resource: 'container', ref: idOrName, action: 'inspect container' });
      // A container being removed meanwhile: Podman answers 500 "does not exist in database: no such container".
      if (mapped instanceof AppError && mapped.code === 'container_not_found') return null;
      throw mapped;
    }
  }

  async listContainers(filter: { labels: string[] }): Promise<ContainerState[]> {
    let ids: string[];
    try {
      const { body } = await this.client.json<{ Id: string }[]>({
        path: `${LIBPOD}/containers/json`,
        query: { all: true, filters: JSON.stringify({ label: filter.labels }) },
      });
      ids = (body ?? []).map((c) => c.Id);
    } catch (err) {
      throw toAppError(err, { action: 'list containers' });
    }
    // The list lacks devices and finish times; inspect each. One removed meanwhile is skipped.
    const states = await Promise.all(ids.map((id) => this.inspectContainer(id)));
    return states.filter((s): s is ContainerState => s !== null);
  }

  async writableLayerSize(idOrName: string): Promise<number | null> {
    try {
      // `size=true` makes Podman measure the container's layer (SizeRw); the plain inspect leaves it out.
      const { status, body } = await this.client.json<{ SizeRw?: unknown }>(
        { path: `${LIBPOD}/containers/${encodeURIComponent(idOrName)}/json`, query: { size: true } },
        [404],
      );
      if (status === 404) return null;
      // Checked, not trusted: a number the engine could not produce is a failure, not a zero.
      if (typeof body.SizeRw !== 'number' || !Number.isFinite(body.SizeRw)) throw new AppError('internal', { reason: `Podman reported no writable layer size for ${idOrName}` });
      return Math.max(0, body.SizeRw);
    } catch (err) {
      const mapped = toAppError(err, { resource: 'container', ref: idOrName, action: 'measure the writable layer of container' });
      if (mapped instanceof AppError && mapped.code === 'container_not_found') return null;
      throw mapped;
    }
  }

  async countProcesses(id: string): Promise<number> {
    // No inspect first: top answers "not running" itself, and info calls this on every read.
    try {
      // libpod's top reads /proc from the host (psgo), so it works in images without `ps`.
      const { body } = await this.client.json<{ Processes?: unknown[] | null }>(
        { path: `${LIBPOD}/containers/${encodeURIComponent(id)}/top` },
      );
      return body?.Processes?.length ?? 0;
    } catch (err) {
      const mapped = toAppError(err, { resource: 'container', ref: id, action: 'list processes of' });
      if (mapped instanceof AppError && mapped.code === 'container_not_running') return 0;
      throw mapped;
    }
  }

  async exec(
    id: string,
    command: string[],
    options: { env?: Record<string, string>; cwd?: string; maxOutputBytes?: number } = {},
  ): Promise<ExecResult> {
    const ctx = { resource: 'container' as const, ref: id, action: 'exec in container' };
    const limit = options.maxOutputBytes ?? MAX_SHORT_EXEC_OUTPUT;
    let execId: string;
    try {
      const create: Record<string, unknown> = { AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, Cmd: command };
      if (options.env) create.Env = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
      if (options.cwd) create.WorkingDir = options.cwd;
      const { body } = await this.client.json<{ Id: string }>({
        method: 'POST',
        path: `/containers/${encodeURIComponent(id)}/exec`,
        body: create,
      });
      execId = body.Id;
    } catch (err) {
      throw toAppError(err, ctx);
    }

    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let res: http.IncomingMessage | undefined;
    try {
      res = await this.client.request({ method: 'POST', path: `/exec/${execId}/start`, body: { Detach: false, Tty: false } });
      const status = res.statusCode ?? 0;
      // Buffered exec runs Berth's own short scripts (task status, kill, tail): bounded by progress and size.
      const body = progressBounded(res, this.client.timeoutMs, `running a command in ${id}`);
      if (status < 200 || status >= 300) throw engineHttpError(status, (await readAll(body)).toString('utf8'));
      for await (const frame of demuxDockerStream(body)) {
        size += frame.data.length;
        if (size > limit) throw outputTooLarge(`the command ${command[0] ?? ''}`, limit);
        if (frame.stream === 'stderr') stderr.push(frame.data);
        else if (frame.stream === 'stdout') stdout.push(frame.data);
      }
    } catch (err) {
      // Whatever is still running (too much output, silence past the deadline) is stopped from the host.
      res?.destroy();
      await killExecFromHost(this.client, execId);
      throw toAppError(err, ctx);
    }
    return { exitCode: await this.execExitCode(execId, ctx), stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
  }

  /** The streaming exec (stdin, tty, kill of the process group) lives in podman-exec.ts. */
  execStream(id: string, options: ExecStreamOptions): Promise<ExecSession> {
    return startExecSession({ client: this.client, runShort: (command) => this.exec(id, command, { maxOutputBytes: 64 * 1024 }) }, id, options);
  }

  // --- snapshots ------------------------------------------------------------------------------

  async commitContainer(id: string, options: CommitOptions): Promise<{ imageId: string; size: number }> {
    const { name, tag } = splitReference(options.ref);
    // `changes` repeats, which the client's query builder cannot say; values are checked so the
    // Dockerfile-style LABEL instruction needs no quoting.
    const params = new URLSearchParams({ container: id, repo: name, tag, pause: String(options.pause), format: 'oci' });
    for (const [k, v] of Object.entries(options.labels)) {
      if (!SAFE_LABEL.test(k) || !SAFE_LABEL.test(v)) throw new AppError('internal', { reason: `label ${k}=${v} cannot be set on a commit` });
      params.append('changes', `LABEL ${k}=${v}`);
    }
    let imageId: string;
    try {
      // A commit has no progress to watch and may take long for a large root filesystem: bounded
      // by the engine still answering rather than by a total deadline.
      const { body } = await this.client.jsonWhileEngineAnswers<{ Id: string }>({ method: 'POST', path: `${LIBPOD}/commit?${params.toString()}`, signal: options.signal });
      imageId = withSha256(body.Id);
    } catch (err) {
      throw toAppError(err, { resource: 'container', ref: id, action: 'commit container' });
    }
    try {
      // The newest history entry is the layer this commit added; older ones belong to the parent.
      const { body } = await this.client.json<LibpodHistoryEntry[]>({ path: `${LIBPOD}/images/${encodeURIComponent(imageId)}/history` });
      return { imageId, size: Math.max(0, body[0]?.Size ?? 0) };
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref: options.ref, action: 'inspect the history of image' });
    }
  }

  async pauseContainer(id: string): Promise<void> {
    await this.pauseOrUnpause(id, 'pause');
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.pauseOrUnpause(id, 'unpause');
  }

  async removeImage(ref: string): Promise<{ removed: boolean }> {
    try {
      // Never forced: force would also remove the containers that use the image.
      const { status } = await this.client.json({ method: 'DELETE', path: `${LIBPOD}/images/${encodeURIComponent(ref)}` }, [404, 409]);
      if (status !== 409) return { removed: true };
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref, action: 'remove image' });
    }
    // Still used by a container: drop the name only, so the reference is free and the image goes
    // with its last user.
    if (ref.includes('@') || !/:[^/]+$/.test(ref)) return { removed: false };
    const { name, tag } = splitReference(ref);
    try {
      await this.client.json({ method: 'POST', path: `${LIBPOD}/images/${encodeURIComponent(ref)}/untag`, query: { repo: name, tag } }, [404]);
    } catch (err) {
      throw toAppError(err, { resource: 'image', ref, action: 'untag image' });
    }
    return { removed: false };
  }

  async listImages(filter: { labels: string[] }): Promise<ImageSummary[]> {
    try {
      // Podman 4.3 answers nothing when the image label filter has more than one entry: the engine
      // filters by the first, the rest are checked here.
      const [first, ...rest] = filter.labels;
      const { body } = await this.client.json<LibpodImageSummary[] | null>({
        path: `${LIBPOD}/images/json`,
        query: { all: true, ...(first !== undefined && { filters: JSON.stringify({ label: [first] }) }) },
      });
      const matching = (body ?? []).filter((i) => rest.every((l) => matchesLabelFilter(i.Labels ?? {}, l)));
      return matching.map((i) => ({
        id: withSha256(i.Id),
        names: (i.RepoTags ?? i.Names ?? []).filter((n) => !n.startsWith('<none>')),
        labels: i.Labels ?? {},
        createdAt: new Date((i.Created ?? 0) * 1000).toISOString(),
        containers: i.Containers ?? 0,
      }));
    } catch (err) {
      throw toAppError(err, { action: 'list images' });
    }
  }

  private async pauseOrUnpause(id: string, action: 'pause' | 'unpause'): Promise<void> {
    try {
      await this.client.json({ method: 'POST', path: `${LIBPOD}/containers/${encodeURIComponent(id)}/${action}` });
    } catch (err) {
      const mapped = toAppError(err, { resource: 'container', ref: id, action: `${action} container` });
      // Already in the asked-for state is fine; the engine calls that an improper state.
      if (mapped instanceof AppError && mapped.code === 'container_not_running') {
        const state = (await this.inspectContainer(id))?.state;
        if ((action === 'pause' && state === 'paused') || (action === 'unpause' && state === 'running')) return;
      }
      throw mapped;
    }
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }

  private async execExitCode(execId: string, ctx: { resource: 'container'; ref: string; action: string }): Promise<number> {
    // The stream ends when the process does; the session's exit code can trail it briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        const { body } = await this.client.json<{ ExitCode?: number | null; Running?: boolean }>({ path: `/exec/${execId}/json` });
        if (!body.Running && typeof body.ExitCode === 'number') return body.ExitCode;
      } catch (err) {
        throw toAppError(err, ctx);
      }
      if (attempt >= 50) throw new AppError('internal', { reason: `exec session ${execId} did not report an exit code` });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function toContainerState(c: LibpodContainerInspect): ContainerState {
  const state = mapState(c.State.Status);
  const hasExited = state === 'exited' || state === 'dead';
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    state,
    image: c.ImageName ?? c.Image,
    imageId: withSha256(c.Image),
    labels: c.Config?.Labels ?? {},
    createdAt: c.Created,
    startedAt: realTime(c.State.StartedAt),
    finishedAt: realTime(c.State.FinishedAt),
    exitCode: hasExited ? (c.State.ExitCode ?? null) : null,
    devices: (c.HostConfig?.Devices ?? []).map((d) => ({ hostPath: d.PathOnHost, containerPath: d.PathInContainer })),
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
    ...(state === 'running' || state === 'paused' ? processesFromCgroup(c.State.CgroupPath) : {}),
  };
}

/**
 * Counts a running container's processes from its cgroup on this host — a small file read instead of
 * another engine round trip (libpod's top). Nothing when the cgroup is not readable here (a remote
 * engine, another cgroup layout): callers then ask `countProcesses`.
 */
function processesFromCgroup(cgroupPath: string | undefined): { processes?: number } {
  if (!cgroupPath?.startsWith('/') || cgroupPath.includes('..')) return {};
  for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      const procs = fs.readFileSync(`${root}${cgroupPath}/cgroup.procs`, 'utf8');
      return { processes: procs.split('\n').filter(Boolean).length };
    } catch {
      // not this layout
    }
  }
  return {};
}

function mapState(status: string): EngineState {
  switch (status) {
    case 'configured':
    case 'created':
    case 'initialized':
      return 'created';
    case 'running':
    case 'stopping':
      return 'running';
    case 'paused':
      return 'paused';
    case 'stopped':
    case 'exited':
      return 'exited';
    case 'dead':
    case 'removing':
      return 'dead';
    default:
      return 'unknown';
  }
}

function realTime(t: string | undefined): string | null {
  return !t || t.startsWith('0001-01-01') || t === ZERO_TIME ? null : t;
}

function withSha256(id: string): string {
  return id.includes(':') ? id : `sha256:${id}`;
}

function asArgv(v: string[] | string | null | undefined): string[] {
  if (!v) return [];
  return Array.isArray(v) ? v : v === '' ? [] : [v];
}

/** A bridge name unique to the network, within Linux's 15 characters, that the firewall's `<prefix>+` matches. */
export function bridgeName(prefix: string, network: string): string {
  return (prefix + createHash('sha256').update(network).digest('hex')).slice(0, 15);
}

/** `registry/repo:tag` or `repo@sha256:…` → the `fromImage` and `tag` parameters of a pull. */
export function splitReference(ref: string): { name: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}

/** Label keys and values a commit may set without quoting. */
const SAFE_LABEL = /^[A-Za-z0-9._/-]{1,128}$/;

const DONE_STATUSES = /^(download complete|pull complete|already exists)$/i;

/** Folds one progress line into the layer table; a layer's numbers only ever grow. */
function updateLayer(
  layers: Map<string, PullLayerProgress>,
  id: string,
  status: string,
  detail: PullLine['progressDetail'],
): void {
  const layer = layers.get(id) ?? { id, status, current: 0, total: 0 };
  layer.status = status;
  layer.total = Math.max(layer.total, detail?.total ?? 0);
  layer.current = Math.max(layer.current, detail?.current ?? 0);
  if (DONE_STATUSES.test(status)) layer.current = layer.total;
  layers.set(id, layer);
}

function snapshot(image: string, layers: Map<string, PullLayerProgress>): PullProgress {
  const list = [...layers.values()].map((l) => ({ ...l }));
  return {
    image,
    layers: list,
    current: list.reduce((n, l) => n + l.current, 0),
    total: list.reduce((n, l) => n + l.total, 0),
  };
}

/**
 * A failed pull, reported without the engine's text: that text quotes whatever the registry host
 * answered (an admin-set image can point the engine at any service), so the client gets a fixed
 * message and a class of failure (`details.reason`); the engine's own words stay in `cause`, for the log.
 */
function pullError(ref: string, message: string): AppError {
  const cause = new Error(message);
  if (/no space left on device|disk quota exceeded/i.test(message)) {
    return new AppError('insufficient_storage', { what: `pulling ${ref}`, storage: "the container engine's storage" }, {
      details: { storage: 'engine', image: ref, reason: 'no_space' },
      cause,
    });
  }
  const reason = pullFailureReason(message);
  if (reason === 'not_found') {
    return new AppError('image_not_found', { image: ref, reason: 'its registry does not have it' }, { details: { image: ref, reason }, cause });
  }
  return new AppError('image_pull_failed', { image: ref, reason: PULL_FAILURE_TEXT[reason] }, { details: { image: ref, reason }, cause });
}

const PULL_FAILURE_TEXT = {
  unauthorized: 'the registry refused access (authentication required or denied)',
  connection_refused: 'the registry host refused the connection',
  timeout: 'the registry did not answer in time',
  dns: 'the registry host name could not be resolved',
  tls: 'the TLS connection to the registry failed',
  unreachable: 'the registry host could not be reached',
  bad_response: 'the registry host did not answer like a container registry',
  other: 'the engine could not pull it',
} as const;

type PullFailureReason = keyof typeof PULL_FAILURE_TEXT | 'not_found';

/** The class of a pull failure, from the engine's message (matched, never echoed). */
export function pullFailureReason(message: string): PullFailureReason {
  if (/not found|manifest unknown|repository does not exist|name unknown|image not known|no such image/i.test(message)) return 'not_found';
  if (/unauthorized|authentication required|denied|forbidden|401|403/i.test(message)) return 'unauthorized';
  if (/connection refused/i.test(message)) return 'connection_refused';
  if (/timeout|timed out|deadline exceeded/i.test(message)) return 'timeout';
  if (/no such host|server misbehaving|lookup .* on /i.test(message)) return 'dns';
  if (/tls|x509|certificate|https? response to https? client/i.test(message)) return 'tls';
  if (/network is unreachable|no route to host|host is down/i.test(message)) return 'unreachable';
  if (/invalid character|unexpected|invalid status|unexpected http|status code|parsing|malformed|EOF/i.test(message)) return 'bad_response';
  return 'other';
}

/**
 * Podman 4.3's CDI parser panics on a one-character vendor or class name ("slice bounds out of
 * range"), and anything that is not `vendor/class=name` is taken for a device path. Such names can
 * never be injected by this engine, so they are refused here with the usual CDI error.
 */
function checkCdiNamesForPodman43(names: string[]): void {
  const bad = names.filter((n) => {
    const m = /^([^/=]+)\/([^/=]+)=(.+)$/.exec(n);
    return !m || (m[1] ?? '').length < 2 || (m[2] ?? '').length < 2;
  });
  if (bad.length > 0) {
    throw new AppError('cdi_unresolvable', { devices: `${bad.join(', ')} (Podman 4.3 cannot parse these names)` }, {
      details: { devices: bad },
    });
  }
}
