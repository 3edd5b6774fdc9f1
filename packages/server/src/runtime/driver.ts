import { AppError } from '../errors.js';

/**
 * The one interface every container engine driver implements, in Berth's own types. Library and
 * engine types never leave a driver's folder; engine errors are turned into `AppError`s with Berth
 * codes (`image_not_found`, `image_pull_failed`, `cdi_unresolvable`, `cdi_unsupported`,
 * `runtime_unavailable`, `container_not_found`, ...) inside the driver, keeping the original as `cause`.
 */

export type NetworkMode = 'bridge' | 'none';

export interface ContainerSpec {
  /** Engine-side name, `berth-<botId>`. */
  name: string;
  image: string;
  /** Berth's ownership labels (`berth.managed`, `berth.bot`, `berth.version`, `berth.cdi`). */
  labels: Record<string, string>;
  env: Record<string, string>;
  /** The bot's data dir, bind-mounted read-write; also the working directory. */
  dataMount: { hostPath: string; containerPath: string };
  /** Fully-qualified CDI names, already resolved against the host's specs. */
  cdiDevices: string[];
  resources: { cpus: number | null; memoryMb: number | null; pidsLimit: number };
  network: NetworkMode;
  /**
   * With `bridge`: the container's own network instead of the engine's shared bridge, made on first
   * use with these labels (a replacement built beside a bot's container joins the same one). No
   * other bot shares it, so traffic to other bots and to the host crosses the host's firewall, where
   * the driver's rules stop it (Podman: podman-isolation.ts); internet egress stays.
   */
  privateNetwork?: { name: string; labels: Record<string, string> };
}

/** A network the driver made for `privateNetwork`. */
export interface NetworkSummary {
  name: string;
  labels: Record<string, string>;
}

/** What the engine says about a container's state, unmapped. */
export type EngineState = 'created' | 'running' | 'paused' | 'exited' | 'dead' | 'unknown';

export interface ContainerState {
  id: string;
  name: string;
  state: EngineState;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  /** Device nodes the engine reports as attached. */
  devices: { hostPath: string; containerPath: string }[];
  /**
   * Processes in the container when the driver could count them while inspecting (cheaply, e.g.
   * from the host's cgroup); absent when not known — ask `countProcesses`.
   */
  processes?: number;
  /** The networks the container is on, when the driver knows them (empty for network `none`). */
  networks?: string[];
}

export interface PullLayerProgress {
  id: string;
  status: string;
  current: number;
  total: number;
}

/** A snapshot of a pull's progress; every one carries all layers seen so far. */
export interface PullProgress {
  image: string;
  layers: PullLayerProgress[];
  current: number;
  total: number;
}

export interface ImageInfo {
  id: string;
  /** The image's default command; empty when it has none. */
  cmd: string[];
  entrypoint: string[];
}

/** Default bound on a buffered exec's output (`RuntimeDriver.exec`), which runs Berth's own short scripts. */
export const MAX_SHORT_EXEC_OUTPUT = 8 * 1024 * 1024;

/** The error of a command whose output went past what its reader keeps. */
export function outputTooLarge(what: string, limit: number): AppError {
  return new AppError('output_too_large', { what, limit }, { details: { limit } });
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** A local image as the engine lists it (snapshot images are found by their labels). */
export interface ImageSummary {
  id: string;
  /** Its tags (`repo:tag`); empty once untagged. */
  names: string[];
  labels: Record<string, string>;
  createdAt: string;
  /** Containers that use it. */
  containers: number;
}

export interface CommitOptions {
  /** The new image's reference, `repo:tag`. */
  ref: string;
  /** Set on the image (added to what it inherits from the container). */
  labels: Record<string, string>;
  /** Let the engine pause the container during the commit; false when the caller paused it already. */
  pause: boolean;
  signal?: AbortSignal;
}

/** Options of a streaming exec (the bot's exec API and terminal). */
export interface ExecStreamOptions {
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Attach standard input (write/end); otherwise the command reads an empty stdin. */
  stdin?: boolean;
  /** Run on a pseudo-terminal: one output stream, resizable. */
  tty?: boolean;
  /** The terminal's size at start (tty only). */
  size?: { cols: number; rows: number };
  /** Aborting kills the session, as `kill()` does. */
  signal?: AbortSignal;
}

export interface ExecOutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/**
 * A running exec. Without a tty the command runs as its own session and process group, so `kill()`
 * reaches everything it started; with a tty `kill()` ends the shell's process group (its foreground
 * job is hung up by the kernel).
 */
export interface ExecSession {
  /** Output as it comes (with a tty, everything is `stdout`); ends when the command's output ends. Read it to keep it flowing. */
  output: AsyncIterable<ExecOutputChunk>;
  /** The exit code, once the command has ended (128+n when a signal ended it). */
  exitCode: Promise<number>;
  /** Writes to standard input (with `stdin: true`), waiting while the engine is not reading. */
  write(data: Buffer | string): Promise<void>;
  /** Closes standard input: the command reads end-of-file. */
  end(): void;
  /** Resizes the terminal (tty only; a no-op otherwise). */
  resize(cols: number, rows: number): Promise<void>;
  /** SIGKILLs the command's process group and closes the stream. Safe to call more than once. */
  kill(): Promise<void>;
}

export interface RuntimeCapabilities {
  cdi: boolean;
  pullProgress: boolean;
  resources: boolean;
  networkNone: boolean;
}

export interface RuntimeDriver {
  readonly name: string;
  /**
   * Fails with `runtime_unavailable` when the engine does not answer, `runtime_timeout` when it does
   * not answer within `timeoutMs` (default: a few seconds, at most the engine deadline).
   */
  ping(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<{ version: string }>;
  capabilities(): Promise<RuntimeCapabilities>;

  /** The image when present locally, else null. */
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /**
   * Pulls an image, yielding progress; the byte totals never go backwards. Fails with
   * `image_not_found` (no such image/repository) or `image_pull_failed` (anything else).
   */
  pullImage(ref: string, options?: { signal?: AbortSignal }): AsyncIterable<PullProgress>;

  /**
   * Creates (does not start) a container; returns its engine id. `image` is the spec's image as the
   * caller just inspected it, which spares the driver looking it up again.
   */
  createContainer(spec: ContainerSpec, options?: { signal?: AbortSignal; image?: ImageInfo }): Promise<{ id: string }>;
  startContainer(id: string): Promise<void>;
  /** Graceful: SIGTERM to the init process, SIGKILL after `timeoutSeconds`. Stopping a stopped one is fine. */
  stopContainer(id: string, options: { timeoutSeconds: number }): Promise<void>;
  /** Removes a container (forcibly if running). Removing a missing one is fine. */
  removeContainer(id: string): Promise<void>;
  /**
   * Gives a container (running or not) another name; fails with `container_exists` when the name is
   * taken. Lets a replacement be built under a temporary name beside the container it replaces.
   */
  renameContainer(id: string, name: string): Promise<void>;
  /** The container's state, or null when it does not exist. Accepts an id or a name. */
  inspectContainer(idOrName: string): Promise<ContainerState | null>;
  /** All containers (running or not) that carry every given label (`key=value` or just `key`). */
  listContainers(filter: { labels: string[] }): Promise<ContainerState[]>;
  /**
   * Bytes in the container's writable layer (its root filesystem changes; bind mounts such as the data
   * dir are not in it), running or not, as the engine counts them; null when the container does not
   * exist. The engine walks the layer to answer: call it at a sampling pace, not per request.
   */
  writableLayerSize(idOrName: string): Promise<number | null>;
  /** Number of processes in a running container; 0 when it is not running. */
  countProcesses(id: string): Promise<number>;
  /**
   * Runs a command to completion in a running container (`container_not_running` otherwise) and
   * answers its output. Output past `maxOutputBytes` (both streams together; MAX_SHORT_EXEC_OUTPUT
   * by default) kills the command and fails with `output_too_large`: what a container prints is never
   * kept without a bound.
   */
  exec(id: string, command: string[], options?: { env?: Record<string, string>; cwd?: string; maxOutputBytes?: number }): Promise<ExecResult>;
  /**
   * Starts a command in a running container (`container_not_running` otherwise) and streams it. The
   * image needs `/bin/sh` (and `setsid`, to give the command its own process group).
   */
  execStream(id: string, options: ExecStreamOptions): Promise<ExecSession>;

  /** Private networks that carry every given label (`key=value` or just `key`). */
  listNetworks(filter: { labels: string[] }): Promise<NetworkSummary[]>;
  /** Removes a private network once no container uses it. Removing a missing one is fine. */
  removeNetwork(name: string): Promise<void>;

  // --- snapshots: root filesystem changes as images ---------------------------------------------

  /**
   * Commits the container's root filesystem changes (bind mounts excluded) to a new image tagged
   * `ref`, on top of the container's own image, so only the diff is stored. `size` is the bytes of
   * the new layer alone.
   */
  commitContainer(id: string, options: CommitOptions): Promise<{ imageId: string; size: number }>;
  /** Freezes every process of a running container (they keep their pids and memory). */
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  /**
   * Removes an image reference. The image is deleted when nothing else needs it; while a container
   * uses it, it is only untagged (`removed: false`) and stays until that container is gone. Layers
   * other images share are never removed. A missing image is fine (`removed: true`).
   */
  removeImage(ref: string): Promise<{ removed: boolean }>;
  /** Local images (tagged or not) that carry every given label (`key=value` or just `key`). */
  listImages(filter: { labels: string[] }): Promise<ImageSummary[]>;

  close(): Promise<void>;
}

/** Whether `labels` match one label filter of `listContainers`/`listImages`: `key=value`, or just `key`. */
export function matchesLabelFilter(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels, filter) : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
