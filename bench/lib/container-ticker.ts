import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import type { BerthClient } from '@berth/sdk';

const run = promisify(execFile);

/**
 * A loop inside the container that appends the kernel's uptime (10 ms steps) to a tmpfs file every
 * 10 ms: a frozen container leaves a gap as long as the freeze. On /dev/shm, so it is no part of the
 * root filesystem a snapshot commits, nor of the data dir.
 */
export async function startTicker(containerId: string): Promise<void> {
  // Shell builtins (and busybox's no-fork usleep): no process started per tick, so less jitter of its own.
  await run('podman', ['exec', '-d', containerId, 'sh', '-c', 'while :; do read -r up rest < /proc/uptime; echo "$up" >> /dev/shm/ticks; usleep 10000; done']);
}

/** Uptime in seconds (the same clock the ticker reads: uptime is not namespaced). */
export async function uptime(): Promise<number> {
  return Number((await fs.readFile('/proc/uptime', 'utf8')).split(' ')[0]);
}

/** The longest gap, in ms, between the ticker's ticks from `from` to `to` (uptime seconds). */
export async function longestGap(containerId: string, from: number, to: number): Promise<number> {
  const { stdout } = await run('podman', ['exec', containerId, 'cat', '/dev/shm/ticks'], { maxBuffer: 64 * 1024 * 1024 });
  const ticks = stdout
    .split('\n')
    .map((l) => Number(l.split(' ')[0]))
    .filter((x) => Number.isFinite(x) && x > 0)
    .filter((x) => x >= from - 0.05 && x <= to + 0.05);
  let gap = 0;
  for (let i = 1; i < ticks.length; i++) gap = Math.max(gap, (ticks[i] as number) - (ticks[i - 1] as number));
  return gap * 1000;
}

/** The pause Berth logged ("… paused for N ms …") in the bot's latest operation of `kind`, if it logged one. */
export async function loggedPause(berth: BerthClient, botId: string, kind: string): Promise<number | null> {
  try {
    const [op] = (await berth.listOperations(botId, { limit: 5 })).filter((o) => o.kind === kind);
    if (!op) return null;
    for await (const ev of berth.operationEvents(op.id)) {
      const m = ev.event === 'log' ? /paused for (\d+) ms/.exec((ev.data as { message: string }).message) : null;
      if (m) return Number(m[1]);
    }
  } catch {
    // Not available on this server: the ticker's figure stands alone.
  }
  return null;
}

/** The engine's pauses of the container between two wall-clock times (ms), in uptime seconds, from its event log. */
export async function enginePauses(containerId: string, fromMs: number, toMs: number): Promise<{ pause: number; unpause: number }[]> {
  const { stdout } = await run('podman', [
    'events',
    '--stream=false',
    '--since',
    String(Math.floor(fromMs / 1000) - 1),
    '--until',
    String(Math.ceil(toMs / 1000) + 1),
    '--filter',
    `container=${containerId}`,
    '--filter',
    'event=pause',
    '--filter',
    'event=unpause',
    '--format',
    'json',
  ]);
  const bootAt = Date.now() / 1000 - (await uptime());
  const windows: { pause: number; unpause: number }[] = [];
  let pausedAt: number | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const ev = JSON.parse(line) as { Status?: string; Time?: string };
    const at = Date.parse(ev.Time ?? '') / 1000 - bootAt;
    if (!Number.isFinite(at)) continue;
    if (ev.Status === 'pause') pausedAt = at;
    if (ev.Status === 'unpause' && pausedAt !== null) {
      windows.push({ pause: pausedAt, unpause: at });
      pausedAt = null;
    }
  }
  return windows.filter((w) => w.unpause >= fromMs / 1000 - bootAt && w.pause <= toMs / 1000 - bootAt);
}

/**
 * How long the tick loop stood still across each window (uptime seconds): the gap between the last
 * tick before the engine reported the pause and the first after it reported the unpause; the
 * longest, in ms.
 */
export async function gapAcross(containerId: string, windows: { pause: number; unpause: number }[]): Promise<number> {
  if (windows.length === 0) return 0;
  const { stdout } = await run('podman', ['exec', containerId, 'cat', '/dev/shm/ticks'], { maxBuffer: 64 * 1024 * 1024 });
  const ticks = stdout
    .split('\n')
    .map((l) => Number(l.split(' ')[0]))
    .filter((x) => Number.isFinite(x) && x > 0);
  let gap = 0;
  for (const w of windows) {
    for (let i = 1; i < ticks.length; i++) {
      const a = ticks[i - 1] as number;
      const b = ticks[i] as number;
      if (a <= w.unpause && b >= w.pause) gap = Math.max(gap, b - a);
    }
  }
  return gap * 1000;
}
