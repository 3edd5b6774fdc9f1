import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DiskLimitInfo } from '@berth/contract';
import { pathExists } from '../core/safe-fs.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContainerState, RuntimeDriver } from '../runtime/driver.js';
import type { BotRow, Store } from '../store/store.js';
import type { BotPaths } from '../core/bot-paths.js';
import type { ChangeFeed } from '../core/change-feed.js';

const MiB = 1024 * 1024;

/** Past its limit by this much (a tenth of it, at least 16 MiB) a running bot is stopped. */
export function stopThresholdBytes(limitMb: number): number {
  return limitMb * MiB + Math.max(Math.ceil(limitMb / 10), 16) * MiB;
}

/** The longest one measurement of a data dir may take before it is given up (and counted as unknown). */
export const DEFAULT_MEASURE_TIMEOUT_MS = 60_000;
/** Most entries the fallback walk visits before it gives up (and counts the data dir as unknown). */
const MAX_WALK_ENTRIES = 2_000_000;

/** One measurement of a bot's disk usage. */
export interface DiskSample {
  /** Bytes allocated to the data dir; null when it could not be measured in time. */
  dataBytes: number | null;
  /** Bytes in the container's writable layer; null when the bot has no container. */
  layerBytes: number | null;
  measuredAt: string;
}

export interface DiskLimitsDeps {
  store: Store;
  driver: Pick<RuntimeDriver, 'writableLayerSize'>;
  paths: BotPaths;
  logger: Logger;
  changes: ChangeFeed;
  /** The bot's container as the engine has it (ContainerService.engineContainer). */
  containerOf(bot: BotRow): Promise<ContainerState | null>;
  /** Stops the bot's container the way `POST /container/stop` does (an operation, desired state stopped). */
  stopBot(botId: string): Promise<unknown>;
  /** Seconds between two rounds of the monitor. */
  sampleSeconds: number;
  /** How long after a write through the files API its bot is measured again (default 2 s). */
  afterWriteMs?: number;
  /** Bytes allocated under a directory (default: `du`, bounded by `measureTimeoutMs`). */
  measureDir?: (dir: string) => Promise<number | null>;
  measureTimeoutMs?: number;
}

/**
 * Per-bot disk limits, enforced softly: the file systems here (ext4 without project quotas, overlay
 * on ext4) cannot refuse a bot's writes past a limit, so Berth measures instead. A bot's usage is its
 * data dir (allocated blocks, counted like `du`) plus its container's writable layer (the engine's
 * count). The monitor measures every running bot with a limit each round and a bot soon after a write
 * through the API; a bot at or over its limit has its writes through the files API and its data
 * imports refused (507 `disk_limit_exceeded`), and a running bot past it by a margin is stopped, so
 * a runaway bot cannot fill the host's disk for longer than a round. Between two measurements a bot
 * can write what its disk speed allows: the limit is soft, and the container info says so.
 */
export class DiskLimits {
  private readonly samples = new Map<string, DiskSample>();
  /** Bots over their limit as last measured, to log and publish the change once. */
  private readonly over = new Set<string>();
  private readonly inFlight = new Map<string, Promise<DiskSample>>();
  /** Bots written to through the API since a round last measured them: the next round measures them, running or not. */
  private readonly written = new Set<string>();
  /** Measurements scheduled after a write, one per bot. */
  private readonly soon = new Map<string, NodeJS.Timeout>();
  /** Measurements (and what they lead to: a stop) started by a timer, which `stop()` waits for. */
  private readonly background = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private readonly measureDir: (dir: string) => Promise<number | null>;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: DiskLimitsDeps) {
    const timeoutMs = deps.measureTimeoutMs ?? DEFAULT_MEASURE_TIMEOUT_MS;
    this.measureDir = deps.measureDir ?? ((dir) => measureDataDir(dir, { timeoutMs, logger: deps.logger }));
    this.unsubscribe = deps.changes.subscribe((change) => {
      if (change.type === 'bot.deleted') this.forget(change.botId);
      // An import, reset or restore changed the data dir, or a new limit applies: measure and judge again.
      else if (change.type === 'operation.finished' || change.type === 'bot.updated') this.measureLater(change.botId, 0);
    });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runRound(), this.deps.sampleSeconds * 1000);
    // The monitor never keeps the process alive by itself.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe();
    for (const t of this.soon.values()) clearTimeout(t);
    this.soon.clear();
    await this.round;
    // A stop a measurement began must not outlive the store it writes its operation to.
    await Promise.allSettled([...this.inFlight.values(), ...this.background]);
  }

  /**
   * One round: measures every bot with a limit whose container runs (or that was written to through
   * the API since the last round), one after the other, and acts on what it finds.
   */
  async sampleAll(): Promise<void> {
    for (const bot of await this.deps.store.listBots()) {
      if (bot.disk_limit_mb === null) continue;
      try {
        const wrote = this.written.delete(bot.id);
        const c = await this.deps.containerOf(bot);
        if (wrote || (c && isRunning(c))) await this.sample(bot.id);
      } catch (err) {
        this.deps.logger.warn({ err, botId: bot.id }, 'could not measure the disk usage of a bot');
      }
    }
  }

  /**
   * Measures the bot now (a measurement already under way is joined), remembers the result, and acts
   * on it: over its limit the bot is flagged, past the margin its running container is stopped.
   */
  async sample(idOrName: string): Promise<DiskLimitInfo> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const c = await this.deps.containerOf(bot);
    const s = await this.measure(bot, c);
    await this.act(bot, c, s);
    return this.infoOf(bot, s);
  }

  /**
   * The entry check of a write through the API (files, imports): 507 `disk_limit_exceeded` when the
   * bot is at or over its limit as last measured (measured now if it never was). Answers the bytes
   * the write may add (the limit less that usage), or null for a bot without a limit: a write must
   * stop there (`withinRoom`), or one upload alone could fill the host's disk.
   */
  async assertRoom(idOrName: string): Promise<number | null> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    if (bot.disk_limit_mb === null) return null;
    // Whatever this write adds is measured soon after it, and by the next round in any case.
    this.written.add(bot.id);
    this.measureLater(bot.id, this.deps.afterWriteMs ?? 2000);
    const s = this.samples.get(bot.id) ?? (await this.measure(bot, await this.deps.containerOf(bot)));
    const info = this.infoOf(bot, s);
    const used = usedBytes(s);
    if (!info.exceeded && used !== null) return bot.disk_limit_mb * MiB - used;
    throw new AppError('disk_limit_exceeded', { reason: `bot "${bot.name}" uses ${usedText(info)} of its ${bot.disk_limit_mb} MiB disk limit; free some space (or raise diskLimitMb) first` }, {
      details: { limitMb: info.mb, usedMb: info.usedMb, dataMb: info.dataMb, layerMb: info.layerMb, measuredAt: info.measuredAt },
    });
  }

  /** Runs the measurements scheduled after writes and changes now, and waits for every one under way. */
  async flush(): Promise<void> {
    const due = [...this.soon.entries()];
    this.soon.clear();
    for (const [, t] of due) clearTimeout(t);
    await Promise.all(due.map(([botId]) => this.measureNow(botId)));
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /**
   * Before a start: a bot that was stopped past its limit by the margin stays stopped (507
   * `disk_limit_exceeded`) until it is back under that, measured again now, or its limit is raised;
   * otherwise the next round would only stop it again, after it had written more.
   */
  async assertMayStart(bot: BotRow): Promise<void> {
    const limit = bot.disk_limit_mb;
    if (limit === null) return;
    // Not measured since Berth started: measured now, so a restart does not let a bot stopped past
    // its limit run again until the next round stops it.
    const last = this.samples.get(bot.id);
    if (last && (usedBytes(last) ?? Infinity) <= stopThresholdBytes(limit)) return;
    const s = await this.measure(bot, await this.deps.containerOf(bot));
    const used = usedBytes(s);
    if (used !== null && used <= stopThresholdBytes(limit)) return;
    const info = this.infoOf(bot, s);
    throw new AppError('disk_limit_exceeded', { reason: `bot "${bot.name}" uses ${usedText(info)}, past its ${limit} MiB disk limit by more than the margin; free space in its data dir, raise diskLimitMb or recreate the container before starting it` }, {
      details: { limitMb: info.mb, usedMb: info.usedMb, dataMb: info.dataMb, layerMb: info.layerMb, measuredAt: info.measuredAt },
    });
  }

  /** Measures the bot in `ms` (once, however often it is asked meanwhile), without holding anyone up. */
  private measureLater(botId: string, ms: number, then?: () => void): void {
    if (this.stopped || this.soon.has(botId)) return;
    const t = setTimeout(() => {
      this.soon.delete(botId);
      const p = this.measureNow(botId)
        .then(then)
        .finally(() => this.background.delete(p));
      this.background.add(p);
    }, ms);
    t.unref();
    this.soon.set(botId, t);
  }

  private async measureNow(botId: string): Promise<void> {
    try {
      const bot = await this.deps.store.findBot(botId);
      if (bot && bot.disk_limit_mb !== null) await this.sample(bot.id);
    } catch (err) {
      this.deps.logger.warn({ err, botId }, 'could not measure the disk usage of a bot after a change');
    }
  }

  /**
   * The container info's `diskLimit`, from the last measurement. A bot never measured yet (since the
   * start) is measured in the background rather than holding up the info (a large data dir takes a
   * while): until then `measuredAt` is null, and a `container.changed` event says when it is done.
   */
  describe(bot: BotRow, _c: ContainerState | null): Promise<DiskLimitInfo> {
    const s = this.samples.get(bot.id) ?? null;
    if (!s && bot.disk_limit_mb !== null && !this.inFlight.has(bot.id)) {
      this.measureLater(bot.id, 0, () => this.deps.changes.publish({ type: 'container.changed', botId: bot.id }));
    }
    return Promise.resolve(this.infoOf(bot, s));
  }

  /** Forgets a deleted bot. */
  forget(botId: string): void {
    this.samples.delete(botId);
    this.over.delete(botId);
    this.written.delete(botId);
    const t = this.soon.get(botId);
    if (t) clearTimeout(t);
    this.soon.delete(botId);
  }

  private async runRound(): Promise<void> {
    // A round that outlasts the interval is not overlapped by the next one.
    if (this.round) return;
    this.round = this.sampleAll()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'a round of disk usage measurements failed'))
      .finally(() => {
        this.round = null;
      });
    await this.round;
  }

  private measure(bot: BotRow, c: ContainerState | null): Promise<DiskSample> {
    const running = this.inFlight.get(bot.id);
    if (running) return running;
    const p = (async () => {
      const [dataBytes, layerBytes] = await Promise.all([this.measureDir(this.deps.paths.dataDir(bot.id)), c ? this.layerSize(bot.id, c.id) : Promise.resolve(null)]);
      const s: DiskSample = { dataBytes, layerBytes, measuredAt: new Date().toISOString() };
      this.samples.set(bot.id, s);
      return s;
    })().finally(() => this.inFlight.delete(bot.id));
    this.inFlight.set(bot.id, p);
    return p;
  }

  /** The layer's size; when the engine cannot say now, the last one it said (or unknown, null). */
  private async layerSize(botId: string, containerId: string): Promise<number | null> {
    try {
      return await this.deps.driver.writableLayerSize(containerId);
    } catch (err) {
      this.deps.logger.warn({ err, botId }, 'could not measure the writable layer of a bot; its last measurement stands');
      return this.samples.get(botId)?.layerBytes ?? null;
    }
  }

  private async act(bot: BotRow, c: ContainerState | null, s: DiskSample): Promise<void> {
    const info = this.infoOf(bot, s);
    const limit = bot.disk_limit_mb;
    if (!info.exceeded || limit === null) {
      if (this.over.delete(bot.id)) {
        this.deps.logger.info({ botId: bot.id, usedMb: info.usedMb, limitMb: limit }, 'a bot is back within its disk limit');
        this.deps.changes.publish({ type: 'container.changed', botId: bot.id });
      }
      return;
    }
    if (!this.over.has(bot.id)) {
      this.over.add(bot.id);
      this.deps.logger.warn({ botId: bot.id, usedMb: info.usedMb, dataMb: info.dataMb, layerMb: info.layerMb, limitMb: limit }, 'a bot is over its disk limit: writes through the API are refused');
      this.deps.changes.publish({ type: 'container.changed', botId: bot.id });
    }
    const used = usedBytes(s);
    // Unknown counts as past the margin: a data dir nobody can measure may be filling the disk.
    if (c && isRunning(c) && (used === null || used > stopThresholdBytes(limit))) {
      this.deps.logger.warn({ botId: bot.id, usedMb: info.usedMb, limitMb: limit }, 'a bot is past its disk limit by more than the margin: its container is stopped');
      try {
        await this.deps.stopBot(bot.id);
      } catch (err) {
        // Another operation of the bot runs (409), or the engine failed: the next round tries again.
        this.deps.logger.warn({ err, botId: bot.id }, 'could not stop a bot past its disk limit yet; the next round tries again');
      }
    }
  }

  private infoOf(bot: BotRow, s: DiskSample | null): DiskLimitInfo {
    const limit = bot.disk_limit_mb;
    const used = s ? usedBytes(s) : null;
    // A data dir that cannot be measured counts as over: its size is unknown, and it may be huge.
    const exceeded = limit !== null && s !== null && (used === null || used >= limit * MiB);
    return {
      mb: limit,
      enforcement: limit === null ? 'none' : 'soft',
      usedMb: used === null ? null : mb(used),
      dataMb: s?.dataBytes == null ? null : mb(s.dataBytes),
      layerMb: s?.layerBytes == null ? null : mb(s.layerBytes),
      exceeded,
      measuredAt: s?.measuredAt ?? null,
    };
  }
}

/**
 * The body of a write through the API, failing with 507 `disk_limit_exceeded` as soon as it passes
 * `room` bytes (from `assertRoom`; null: no limit, the body as it is). The writer then drops what it wrote.
 */
export function withinRoom<T extends Uint8Array>(body: AsyncIterable<T>, room: number | null): AsyncIterable<T> {
  if (room === null) return body;
  return (async function* counted() {
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.byteLength;
      if (bytes > room) {
        throw new AppError('disk_limit_exceeded', { reason: `the write is larger than the ${room} bytes left under the bot's disk limit; nothing was written` }, {
          details: { roomBytes: room },
        });
      }
      yield chunk;
    }
  })();
}

function usedBytes(s: DiskSample): number | null {
  return s.dataBytes === null ? null : s.dataBytes + (s.layerBytes ?? 0);
}

/** MiB with one decimal. */
function mb(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}

function usedText(info: DiskLimitInfo): string {
  return info.usedMb === null ? 'an unknown amount (its data dir could not be measured; set diskLimitMb to null to lift the limit)' : `${info.usedMb} MiB`;
}

function isRunning(c: ContainerState): boolean {
  return c.state === 'running' || c.state === 'paused';
}

/**
 * Bytes allocated to a data dir, or null when it cannot be measured. `du` first: it is fast and walks
 * by descriptors, so trees nested deeper than a path can name count too. A bot renaming directories
 * under it can make `du` abort (its tree walk asserts), so then a walk of our own that skips what
 * vanishes; it gives up (null) past the deadline, past MAX_WALK_ENTRIES, or on a path too long to name.
 */
export async function measureDataDir(dir: string, options: { timeoutMs: number; logger?: Logger }): Promise<number | null> {
  // A bot whose data dir was never made (or was purged) has nothing there.
  if (!(await pathExists(dir))) return 0;
  const started = Date.now();
  const du = await duBytes(dir, options);
  if (du.bytes !== null || du.timedOut) return du.bytes;
  const walked = await walkBytes(dir, { deadline: started + 2 * options.timeoutMs, maxEntries: MAX_WALK_ENTRIES });
  if (walked === null) options.logger?.warn({ dir }, 'could not measure a data dir; its usage is unknown');
  return walked;
}

/**
 * Bytes allocated under `dir` (each hard-linked file once, other file systems not entered), as `du`
 * counts them; null when it takes longer than `timeoutMs` or fails. `du` walks by file descriptors,
 * so a tree nested deeper than a path can name is counted too; its one line of output is all that is read.
 */
export function duBytes(dir: string, options: { timeoutMs: number; logger?: Logger }): Promise<{ bytes: number | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    execFile('du', ['-s', '-x', '-B1', '--', dir], { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, encoding: 'utf8' }, (err, stdout) => {
      const m = /^(\d+)\s/.exec(stdout);
      // du exits 1 when an entry vanished while it walked (a bot deleting files): its total still counts the rest.
      if (m && (!err || err.code === 1)) return resolve({ bytes: Number(m[1]), timedOut: false });
      const timedOut = err?.killed === true && err.signal === 'SIGKILL';
      options.logger?.warn({ err, dir }, timedOut ? 'measuring a data dir took too long; its usage is unknown' : 'du could not measure a data dir');
      resolve({ bytes: null, timedOut });
    });
  });
}

/**
 * Bytes allocated under `dir` by a walk of our own: `du`'s count (blocks, hard links once, other file
 * systems not entered), skipping entries that vanish or change kind meanwhile. Null past `deadline`
 * (ms since the epoch), past `maxEntries`, or on a path longer than the system can name.
 */
export async function walkBytes(dir: string, options: { deadline: number; maxEntries: number }): Promise<number | null> {
  const root = await fs.lstat(dir).catch(() => null);
  if (!root) return 0;
  let bytes = root.blocks * 512;
  let entries = 0;
  const linked = new Set<string>();
  const stack = [dir];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    try {
      for await (const ent of await fs.opendir(d)) {
        if (++entries > options.maxEntries || Date.now() > options.deadline) return null;
        const p = path.join(d, ent.name);
        const st = await fs.lstat(p).catch((err: unknown) => (vanished(err) ? null : Promise.reject(err)));
        if (!st) continue;
        if (!st.isDirectory() && st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (linked.has(key)) continue;
          linked.add(key);
        }
        bytes += st.blocks * 512;
        if (st.isDirectory() && st.dev === root.dev) stack.push(p);
      }
    } catch (err) {
      if (!vanished(err)) return null;
    }
  }
  return bytes;
}

/** An entry removed, renamed or swapped for another kind while the walk looked at it. */
function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
