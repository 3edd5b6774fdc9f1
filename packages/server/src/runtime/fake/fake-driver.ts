import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { AppError } from '../../errors.js';
import type {
  CommitOptions,
  ContainerSpec,
  ContainerState,
  ExecResult,
  ExecSession,
  ExecStreamOptions,
  ImageInfo,
  ImageSummary,
  NetworkSummary,
  PullProgress,
  RuntimeCapabilities,
  RuntimeDriver,
} from '../driver.js';
import { MAX_SHORT_EXEC_OUTPUT, matchesLabelFilter, outputTooLarge } from '../driver.js';
import { fakeExecSession } from './fake-exec.js';

type DelayedCall =
  | 'ping'
  | 'inspectImage'
  | 'pullImage'
  | 'createContainer'
  | 'startContainer'
  | 'stopContainer'
  | 'removeContainer'
  | 'renameContainer'
  | 'inspectContainer'
  | 'listContainers'
  | 'countProcesses'
  | 'writableLayerSize'
  | 'exec'
  | 'execStream'
  | 'commitContainer'
  | 'pauseContainer'
  | 'unpauseContainer'
  | 'removeImage'
  | 'listImages'
  | 'listNetworks'
  | 'removeNetwork';

export interface FakeDriverOptions {
  /** Images present from the start. */
  images?: string[];
  /** Images a pull can fetch (in a few progress steps); pulling anything else fails with `image_not_found`. */
  pullable?: string[];
  /** CDI names that resolve; any other fails the create with `cdi_unresolvable`. */
  cdiDevices?: string[];
  /** A delay before every call (a number) or before the named calls, so tests can overlap calls. */
  delayMs?: number | Partial<Record<DelayedCall, number>>;
  capabilities?: Partial<RuntimeCapabilities>;
  version?: string;
  /** Bytes a commit reports for its new layer (default 4096). */
  commitLayerSize?: number;
}

interface FakeContainer {
  state: ContainerState;
  spec: ContainerSpec;
  /** Bytes its writable layer holds; nothing is written by the fake exec, so tests set it (`setWritableLayerSize`). */
  layerBytes: number;
}

/**
 * An in-memory `RuntimeDriver` for fast tests of the layers above the driver. It keeps images and
 * containers in maps and follows the engine's state transitions; nothing runs.
 *
 * `exec` is a tiny interpreter, not a shell. It knows: `echo ARGS…`, `cat FILE` (only files under
 * the data mount, read from the host data dir the way a bind mount would show them), `pwd`,
 * `env` (no arguments), `true`, `false`. Anything else exits 127 with "command not found" on stderr.
 * CDI names are checked against the configured list, but no device nodes are reported or injected.
 */
export class FakeDriver implements RuntimeDriver {
  readonly name = 'fake';
  private readonly images = new Map<string, ImageInfo>();
  private readonly pullable: Set<string>;
  private readonly cdi: Set<string>;
  private readonly containers = new Map<string, FakeContainer>();
  /** Labels and creation time of images made by commits, by image id. */
  private readonly imageMeta = new Map<string, { labels: Record<string, string>; createdAt: string }>();
  /** Images whose last name was removed while a container still used them, by image id. */
  private readonly untagged = new Map<string, ImageInfo>();
  /** Private networks made for containers: their labels, by name. */
  private readonly networks = new Map<string, Record<string, string>>();
  private readonly options: FakeDriverOptions;
  /** Every call made, in order (method name and first argument), for assertions. */
  readonly calls: { method: DelayedCall; arg: unknown }[] = [];
  /** While set, every call fails as a dead (`runtime_unavailable`) or frozen (`runtime_timeout`) engine's would. */
  engineFault: 'runtime_unavailable' | 'runtime_timeout' | null = null;

  constructor(options: FakeDriverOptions = {}) {
    this.options = options;
    for (const ref of options.images ?? []) this.images.set(ref, fakeImage(ref));
    this.pullable = new Set(options.pullable ?? []);
    this.cdi = new Set(options.cdiDevices ?? []);
  }

  async ping(): Promise<{ version: string }> {
    await this.enter('ping', undefined);
    return { version: this.options.version ?? 'fake-1.0' };
  }

  capabilities(): Promise<RuntimeCapabilities> {
    return Promise.resolve({ cdi: true, pullProgress: true, resources: true, networkNone: true, ...this.options.capabilities });
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    await this.enter('inspectImage', ref);
    const image = this.images.get(ref);
    return image ? { ...image, cmd: [...image.cmd], entrypoint: [...image.entrypoint] } : null;
  }

  async *pullImage(ref: string, options: { signal?: AbortSignal } = {}): AsyncIterable<PullProgress> {
    const { signal } = options;
    await this.enter('pullImage', ref);
    signal?.throwIfAborted();
    if (!this.pullable.has(ref)) {
      throw new AppError('image_not_found', { image: ref, reason: 'manifest unknown (fake)' }, { details: { image: ref } });
    }
    // Two layers of fixed sizes, fetched in halves.
    const sizes = [1_000_000, 250_000];
    const ids = sizes.map((_, i) => hash(`${ref}#${i}`).slice(0, 12));
    const current = sizes.map(() => 0);
    const status = sizes.map(() => 'Pulling fs layer');
    const snap = (): PullProgress => {
      const layers = ids.map((id, i) => ({ id, status: status[i] ?? '', current: current[i] ?? 0, total: sizes[i] ?? 0 }));
      return { image: ref, layers, current: sum(current), total: sum(sizes) };
    };
    yield snap();
    for (let i = 0; i < sizes.length; i++) {
      for (const part of [0.5, 1]) {
        await tick();
        signal?.throwIfAborted();
        current[i] = Math.round((sizes[i] ?? 0) * part);
        status[i] = part < 1 ? 'Downloading' : 'Download complete';
        yield snap();
      }
    }
    this.images.set(ref, fakeImage(ref));
  }

  async createContainer(spec: ContainerSpec, options: { signal?: AbortSignal; image?: ImageInfo } = {}): Promise<{ id: string }> {
    await this.enter('createContainer', spec.name);
    options.signal?.throwIfAborted();
    const unknown = spec.cdiDevices.filter((d) => !this.cdi.has(d));
    if (unknown.length > 0) {
      throw new AppError('cdi_unresolvable', { devices: unknown.join(', ') }, { details: { devices: unknown } });
    }
    const image = this.images.get(spec.image);
    if (!image) throw new AppError('image_not_found', { image: spec.image, reason: 'it is not present locally' }, { details: { image: spec.image } });
    if (this.find(spec.name)) {
      throw new AppError('container_exists', { target: spec.name, reason: 'the name is in use' }, { details: { name: spec.name } });
    }
    const net = spec.network === 'bridge' ? spec.privateNetwork : undefined;
    if (net && !this.networks.has(net.name)) this.networks.set(net.name, { ...net.labels });
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, {
      layerBytes: 0,
      spec: structuredClone(spec),
      state: {
        id,
        name: spec.name,
        state: 'created',
        image: spec.image,
        imageId: image.id,
        labels: { ...spec.labels },
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
        exitCode: null,
        devices: [],
        // `bridge` stands for the engine's shared network.
        networks: spec.network === 'none' ? [] : [net?.name ?? 'bridge'],
      },
    });
    return { id };
  }

  async startContainer(id: string): Promise<void> {
    await this.enter('startContainer', id);
    const c = this.get(id);
    if (c.state.state === 'running') return;
    c.state.state = 'running';
    c.state.startedAt = new Date().toISOString();
    c.state.finishedAt = null;
    c.state.exitCode = null;
  }

  async stopContainer(id: string, _options: { timeoutSeconds: number }): Promise<void> {
    await this.enter('stopContainer', id);
    const c = this.get(id);
    // Like Podman: stopping a created or stopped container changes nothing.
    if (c.state.state !== 'running' && c.state.state !== 'paused') return;
    // The init process forwards SIGTERM and the workload dies of it: 128 + 15.
    this.exit(c, 143);
  }

  async removeContainer(id: string): Promise<void> {
    await this.enter('removeContainer', id);
    const c = this.find(id);
    if (c) this.containers.delete(c.state.id);
  }

  async listNetworks(filter: { labels: string[] }): Promise<NetworkSummary[]> {
    await this.enter('listNetworks', filter);
    return [...this.networks]
      .filter(([, labels]) => filter.labels.every((l) => matchesLabelFilter(labels, l)))
      .map(([name, labels]) => ({ name, labels: { ...labels } }));
  }

  async removeNetwork(name: string): Promise<void> {
    await this.enter('removeNetwork', name);
    // Like Podman without force: a network in use stays.
    const users = [...this.containers.values()].filter((c) => c.spec.network === 'bridge' && c.spec.privateNetwork?.name === name);
    if (users.length > 0) throw new AppError('internal', { reason: `network ${name} is in use by ${users.length} container(s)` });
    this.networks.delete(name);
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.enter('renameContainer', id);
    const c = this.get(id);
    const other = this.find(name);
    if (other && other !== c) throw new AppError('container_exists', { target: name, reason: 'the name is in use' }, { details: { name } });
    c.state.name = name;
    c.spec.name = name;
  }

  async inspectContainer(idOrName: string): Promise<ContainerState | null> {
    await this.enter('inspectContainer', idOrName);
    const c = this.find(idOrName);
    return c ? cloneState(c.state) : null;
  }

  async listContainers(filter: { labels: string[] }): Promise<ContainerState[]> {
    await this.enter('listContainers', filter);
    return [...this.containers.values()]
      .filter((c) => filter.labels.every((l) => matchesLabelFilter(c.state.labels, l)))
      .map((c) => cloneState(c.state));
  }

  async writableLayerSize(idOrName: string): Promise<number | null> {
    await this.enter('writableLayerSize', idOrName);
    return this.find(idOrName)?.layerBytes ?? null;
  }

  /** Test hook: what the container's writable layer holds from now on, as if something in it wrote files. */
  setWritableLayerSize(idOrName: string, bytes: number): void {
    this.get(idOrName).layerBytes = bytes;
  }

  async countProcesses(id: string): Promise<number> {
    await this.enter('countProcesses', id);
    const c = this.get(id);
    // The init process and the workload, as in a real container.
    return c.state.state === 'running' || c.state.state === 'paused' ? 2 : 0;
  }

  async exec(id: string, command: string[], options: { env?: Record<string, string>; cwd?: string; maxOutputBytes?: number } = {}): Promise<ExecResult> {
    await this.enter('exec', id);
    const c = this.get(id);
    if (c.state.state !== 'running') {
      throw new AppError('container_not_running', { target: c.state.name, reason: 'it is stopped' }, { details: { id } });
    }
    const [cmd, ...args] = command;
    const limit = options.maxOutputBytes ?? MAX_SHORT_EXEC_OUTPUT;
    const out = (stdout: string, exitCode = 0, stderr = ''): ExecResult => {
      const r = { exitCode, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) };
      if (r.stdout.length + r.stderr.length > limit) throw outputTooLarge(`the command ${cmd ?? ''}`, limit);
      return r;
    };
    const cwd = options.cwd ?? c.spec.dataMount.containerPath;
    switch (cmd) {
      case 'echo':
        return out(`${args.join(' ')}\n`);
      case 'true':
        return out('');
      case 'false':
        return out('', 1);
      case 'pwd':
        return out(`${cwd}\n`);
      case 'env': {
        const env = { ...c.spec.env, ...options.env };
        return out(Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''));
      }
      case 'cat':
        return this.cat(c, cwd, args);
      default:
        return out('', 127, `fake exec: ${cmd ?? ''}: command not found\n`);
    }
  }

  async commitContainer(id: string, options: CommitOptions): Promise<{ imageId: string; size: number }> {
    await this.enter('commitContainer', id);
    options.signal?.throwIfAborted();
    const c = this.get(id);
    const imageId = `sha256:${randomBytes(32).toString('hex')}`;
    const base = [...this.images.values(), ...this.untagged.values()].find((i) => i.id === c.state.imageId);
    this.images.set(options.ref, { id: imageId, cmd: [...(base?.cmd ?? ['sleep', 'infinity'])], entrypoint: [...(base?.entrypoint ?? [])] });
    this.imageMeta.set(imageId, { labels: { ...c.state.labels, ...options.labels }, createdAt: new Date().toISOString() });
    return { imageId, size: this.options.commitLayerSize ?? 4096 };
  }

  async pauseContainer(id: string): Promise<void> {
    await this.enter('pauseContainer', id);
    const c = this.get(id);
    if (c.state.state === 'paused') return;
    if (c.state.state !== 'running') throw new AppError('container_not_running', { target: c.state.name, reason: 'it is stopped' }, { details: { id } });
    c.state.state = 'paused';
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.enter('unpauseContainer', id);
    const c = this.get(id);
    if (c.state.state === 'running') return;
    if (c.state.state !== 'paused') throw new AppError('container_not_running', { target: c.state.name, reason: 'it is not paused' }, { details: { id } });
    c.state.state = 'running';
  }

  async removeImage(ref: string): Promise<{ removed: boolean }> {
    await this.enter('removeImage', ref);
    const info = this.images.get(ref) ?? this.untagged.get(ref);
    if (!info) return { removed: true };
    const inUse = [...this.containers.values()].some((c) => c.state.imageId === info.id);
    this.images.delete(ref);
    this.untagged.delete(info.id);
    const stillNamed = [...this.images.values()].some((i) => i.id === info.id);
    if (inUse && !stillNamed) this.untagged.set(info.id, info);
    if (!inUse && !stillNamed) this.imageMeta.delete(info.id);
    return { removed: !inUse };
  }

  async listImages(filter: { labels: string[] }): Promise<ImageSummary[]> {
    await this.enter('listImages', filter);
    const byId = new Map<string, string[]>();
    for (const [ref, info] of this.images) byId.set(info.id, [...(byId.get(info.id) ?? []), ref]);
    for (const id of this.untagged.keys()) byId.set(id, []);
    const out: ImageSummary[] = [];
    for (const [id, names] of byId) {
      const meta = this.imageMeta.get(id) ?? { labels: {}, createdAt: new Date(0).toISOString() };
      if (!filter.labels.every((l) => matchesLabelFilter(meta.labels, l))) continue;
      const containers = [...this.containers.values()].filter((c) => c.state.imageId === id).length;
      out.push({ id, names, labels: { ...meta.labels }, createdAt: meta.createdAt, containers });
    }
    return out;
  }

  /** Streams what `exec` would answer; also `cat` (stdin to stdout) and `sleep N` (see fake-exec.ts). */
  async execStream(id: string, options: ExecStreamOptions): Promise<ExecSession> {
    await this.enter('execStream', id);
    const c = this.get(id);
    if (c.state.state !== 'running') {
      throw new AppError('container_not_running', { target: c.state.name, reason: 'it is stopped' }, { details: { id } });
    }
    return fakeExecSession(options, () => this.exec(id, options.command, { ...(options.env && { env: options.env }), ...(options.cwd && { cwd: options.cwd }) }));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---- test hooks ----

  /** The container's main process ends by itself with `exitCode` (a crash, an OOM kill, `exit`). */
  simulateExit(idOrName: string, exitCode: number): void {
    const c = this.find(idOrName);
    if (!c) throw new Error(`fake: no container ${idOrName}`);
    if (c.state.state !== 'running' && c.state.state !== 'paused') throw new Error(`fake: container ${idOrName} is not running`);
    this.exit(c, exitCode);
  }

  /** Adds a local image, as if it had been built or loaded. */
  addImage(ref: string, info: Partial<Omit<ImageInfo, 'id'>> = {}): void {
    this.images.set(ref, { ...fakeImage(ref), ...info });
  }

  /** Drops an image as if someone outside Berth removed it (no in-use check). */
  dropImage(ref: string): void {
    this.images.delete(ref);
  }

  /** The spec a container was created with (to assert what the layers above asked for). */
  specOf(idOrName: string): ContainerSpec | undefined {
    const c = this.find(idOrName);
    return c ? structuredClone(c.spec) : undefined;
  }

  // ---- internals ----

  private async enter(method: DelayedCall, arg: unknown): Promise<void> {
    this.calls.push({ method, arg });
    if (this.engineFault) throw new AppError(this.engineFault, { what: 'fake engine call', reason: `fake: the engine is ${this.engineFault === 'runtime_timeout' ? 'frozen' : 'gone'}` });
    const d = this.options.delayMs;
    const ms = typeof d === 'number' ? d : (d?.[method] ?? 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private find(idOrName: string): FakeContainer | undefined {
    const byId = this.containers.get(idOrName);
    if (byId) return byId;
    for (const c of this.containers.values()) if (c.state.name === idOrName) return c;
    return undefined;
  }

  private get(idOrName: string): FakeContainer {
    const c = this.find(idOrName);
    if (!c) throw new AppError('container_not_found', { target: idOrName, reason: 'no container with that name or ID' }, { details: { id: idOrName } });
    return c;
  }

  private exit(c: FakeContainer, exitCode: number): void {
    c.state.state = 'exited';
    c.state.exitCode = exitCode;
    c.state.finishedAt = new Date().toISOString();
  }

  private async cat(c: FakeContainer, cwd: string, args: string[]): Promise<ExecResult> {
    const { hostPath, containerPath } = c.spec.dataMount;
    const chunks: Buffer[] = [];
    for (const arg of args) {
      const path = posix.resolve(cwd, arg);
      const rel = posix.relative(containerPath, path);
      if (rel.startsWith('..') || posix.isAbsolute(rel)) {
        return { exitCode: 1, stdout: Buffer.concat(chunks), stderr: Buffer.from(`fake exec: cat: ${arg}: only files under ${containerPath} exist here\n`) };
      }
      try {
        chunks.push(await readFile(posix.join(hostPath, rel)));
      } catch {
        return { exitCode: 1, stdout: Buffer.concat(chunks), stderr: Buffer.from(`cat: can't open '${arg}': No such file or directory\n`) };
      }
    }
    return { exitCode: 0, stdout: Buffer.concat(chunks), stderr: Buffer.alloc(0) };
  }
}

function fakeImage(ref: string): ImageInfo {
  return { id: `sha256:${hash(ref)}`, cmd: ['sleep', 'infinity'], entrypoint: [] };
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1));
}

function cloneState(s: ContainerState): ContainerState {
  return { ...s, labels: { ...s.labels }, devices: s.devices.map((d) => ({ ...d })) };
}
