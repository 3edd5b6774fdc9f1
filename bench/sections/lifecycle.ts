import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Container, OperationEventData } from '@berth/contract';
import type { BerthClient } from '@berth/sdk';
import { createTrackedBot } from '../lib/berth-bots.js';
import type { LibpodCreateSpec } from '../lib/engine.js';
import { median, round, roundSummary, summarize } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { timed } from '../lib/timing.js';
import { check, type BenchContext, type Check, type Section, type SectionResult } from './section.js';

const OPS = ['create', 'stop', 'start', 'delete'] as const;
type Op = (typeof OPS)[number];
type Side = 'berth' | 'raw';

/** Largest Berth/raw ratio of medians each operation may have; delete is measured, not judged. */
const TARGETS: Record<Op, number | null> = { create: 1.25, stop: 1.15, start: 1.15, delete: null };

/** Berth's defaults for a bot that asks for nothing (SPEC §1), mirrored on the raw side. */
const CONTAINER_PATH = '/data';
const PIDS_LIMIT = 4096;
const STOP_TIMEOUT_S = 10;

interface BerthCreate {
  container: Container;
  /** When each event of the create stream arrived, in ms after the request was sent. */
  events: Record<string, number>;
}

/**
 * Create-to-running, stop, start and delete of one container, through Berth's API and straight
 * through the engine's libpod API with the same spec, in alternating order so noise hits both.
 */
export const lifecycle: Section = {
  name: 'lifecycle',
  summary: 'container create-to-running, stop, start, delete: Berth API vs raw libpod API',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const image = await ctx.engine.imageConfig(ctx.image);
    if (!image) throw new Error(`image ${ctx.image} is not present locally; run scripts/setup.sh`);
    // Berth gives an image with nothing to run a command that keeps it alive; do the same.
    const command = image.cmd.length === 0 && image.entrypoint.length === 0 ? ['/bin/sleep', '2147483647'] : undefined;

    const samples: Record<Side, Record<Op, number[]>> = { berth: emptySamples(), raw: emptySamples() };
    const createEvents: Record<string, number[]> = {};
    const total = ctx.warmup + ctx.rounds;
    for (let r = 0; r < total; r++) {
      ctx.signal.throwIfAborted();
      const measured = r >= ctx.warmup;
      const label = measured ? `r${r - ctx.warmup + 1}` : `w${r + 1}`;
      const order: Side[] = r % 2 === 0 ? ['berth', 'raw'] : ['raw', 'berth'];
      const got: Partial<Record<Side, Record<Op, number>>> = {};
      for (const side of order) {
        ctx.signal.throwIfAborted();
        if (side === 'berth') {
          const { times, events } = await berthRound(ctx, label);
          got.berth = times;
          if (measured) for (const [k, v] of Object.entries(events)) (createEvents[k] ??= []).push(v);
        } else {
          got.raw = await rawRound(ctx, label, command);
        }
      }
      if (measured) for (const side of ['berth', 'raw'] as const) for (const op of OPS) samples[side][op].push(got[side]?.[op] ?? Number.NaN);
      ctx.log(
        `lifecycle ${measured ? `round ${r - ctx.warmup + 1}/${ctx.rounds}` : `warm-up ${r + 1}/${ctx.warmup}`} (${order.join(' first, then ')}): ` +
          OPS.map((op) => `${op} ${fmtMs(got.berth?.[op])}/${fmtMs(got.raw?.[op])}`).join('  ') +
          '  (Berth/raw ms)',
      );
    }

    const checks: Check[] = [];
    const ops: Record<string, unknown> = {};
    const rows: (string | number)[][] = [];
    for (const op of OPS) {
      const b = summarize(samples.berth[op]);
      const w = summarize(samples.raw[op]);
      const ratio = b.median / w.median;
      const target = TARGETS[op];
      if (target !== null) checks.push(check('lifecycle', `${op} ratio`, round(ratio, 3), target, 'x'));
      ops[op] = {
        berth: { samples: samples.berth[op].map((x) => round(x)), ...roundSummary(b) },
        raw: { samples: samples.raw[op].map((x) => round(x)), ...roundSummary(w) },
        ratio: round(ratio, 3),
        overheadMs: round(b.median - w.median),
        target,
        pass: target === null ? null : ratio <= target,
      };
      rows.push([
        op,
        b.median,
        w.median,
        ratio.toFixed(3),
        target === null ? '—' : `≤ ${target.toFixed(2)}`,
        target === null ? 'info' : ratio <= target ? 'PASS' : 'FAIL',
        b.median - w.median,
        b.p90,
        w.p90,
      ]);
    }
    const phaseMedians = Object.fromEntries(Object.entries(createEvents).map(([k, v]) => [k, round(median(v))]));
    console.log(`\nLifecycle: ${ctx.rounds} rounds (+${ctx.warmup} warm-up), image ${ctx.image}, medians in ms\n`);
    console.log(formatTable(['op', 'Berth median', 'raw median', 'Berth/raw', 'target', 'result', 'overhead', 'Berth p90', 'raw p90'], rows));
    console.log(
      `\nBerth create stream, median arrival of each event (ms after the request): ` +
        Object.entries(phaseMedians)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
    );
    return { data: { rounds: ctx.rounds, warmup: ctx.warmup, image: ctx.image, rawCommand: command ?? 'image default', ops, berthCreateEventsMedianMs: phaseMedians }, checks };
  },
};

async function berthRound(ctx: BenchContext, label: string): Promise<{ times: Record<Op, number>; events: Record<string, number> }> {
  const name = `bench-${ctx.runId}-${label}`;
  const { bot, remove: removeBot } = await createTrackedBot(ctx, name);
  try {
    const t0 = performance.now();
    const created = await createToRunning(ctx.berth, bot.id);
    const create = performance.now() - t0;
    expectStatus('Berth create', created.container.status, 'running');

    const stop = await timed(() => ctx.berth.stopContainer(bot.id));
    expectStatus('Berth stop', stop.value.status, 'stopped');
    const start = await timed(() => ctx.berth.startContainer(bot.id));
    expectStatus('Berth start', start.value.status, 'running');
    const del = await timed(() => ctx.berth.deleteContainer(bot.id));
    expectStatus('Berth delete', await ctx.engine.containerState(created.container.id), null);
    return { times: { create, stop: stop.ms, start: start.ms, delete: del.ms }, events: created.events };
  } finally {
    await removeBot();
  }
}

/** POST /bots/{bot}/container with Accept: text/event-stream, read until `done`. */
async function createToRunning(berth: BerthClient, bot: string): Promise<BerthCreate> {
  const t0 = performance.now();
  const events: Record<string, number> = {};
  for await (const ev of berth.createContainerStream(bot)) {
    const key = ev.event === 'phase' ? `phase:${(ev.data as OperationEventData<'phase'>).phase}` : ev.event;
    events[key] ??= round(performance.now() - t0);
    if (ev.event === 'error') {
      const e = ev.data as OperationEventData<'error'>;
      throw new Error(`Berth create failed: ${e.code}: ${e.message}`);
    }
    if (ev.event === 'done') {
      const { container } = ev.data as OperationEventData<'done'>;
      if (!container) throw new Error('Berth create ended with no container');
      return { container, events };
    }
  }
  throw new Error('Berth create stream ended without a done or error event');
}

async function rawRound(ctx: BenchContext, label: string, command: string[] | undefined): Promise<Record<Op, number>> {
  const { engine } = ctx;
  const name = `berth-bench-raw-${ctx.runId}-${label}`;
  const dataDir = path.join(ctx.tmpDir, 'raw', name, 'data');
  await fs.mkdir(dataDir, { recursive: true });
  const remove = ctx.cleanup.add(`raw container ${name}`, async () => {
    await engine.removeContainer(name);
    await fs.rm(path.dirname(dataDir), { recursive: true, force: true });
  });
  try {
    const spec: LibpodCreateSpec = {
      name,
      image: ctx.image,
      labels: { 'berth.bench': 'true', 'berth.bench.run': ctx.runId, 'berth.bench.version': '1', 'berth.bench.cdi': '' },
      env: {},
      init: true,
      work_dir: CONTAINER_PATH,
      mounts: [{ type: 'bind', source: dataDir, destination: CONTAINER_PATH, options: ['rbind', 'rw'] }],
      no_new_privileges: true,
      privileged: false,
      resource_limits: { pids: { limit: PIDS_LIMIT } },
      netns: { nsmode: 'bridge' },
      devices: [],
      ...(command && { command }),
    };
    let id = '';
    const create = await timed(async () => {
      id = await engine.createContainer(spec);
      await engine.startContainer(id);
    });
    expectStatus('raw create', await engine.containerState(id), 'running');
    const stop = await timed(() => engine.stopContainer(id, STOP_TIMEOUT_S));
    expectStatus('raw stop', await engine.containerState(id), 'exited');
    const start = await timed(() => engine.startContainer(id));
    expectStatus('raw start', await engine.containerState(id), 'running');
    const del = await timed(() => engine.removeContainer(id));
    expectStatus('raw delete', await engine.containerState(id), null);
    return { create: create.ms, stop: stop.ms, start: start.ms, delete: del.ms };
  } finally {
    await remove();
  }
}

function expectStatus(what: string, actual: string | null, expected: string | null): void {
  if (actual !== expected) throw new Error(`${what}: expected status ${String(expected)}, got ${String(actual)}`);
}

function emptySamples(): Record<Op, number[]> {
  return { create: [], stop: [], start: [], delete: [] };
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '-' : ms.toFixed(0);
}
