import { performance } from 'node:perf_hooks';
import type { BenchContext, Check, Section, SectionResult } from './section.js';
import { check } from './section.js';
import { createRunning, createTrackedBot } from '../lib/berth-bots.js';
import { round, roundSummary, summarize } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { sleep, timed } from '../lib/timing.js';

/** Largest Berth/raw ratio of medians the exec round trip may have. */
const TARGET = 1.3;
/** Exec is cheap: at least this many measured rounds whatever --rounds says. */
const MIN_ROUNDS = 20;
const MIN_WARMUP = 3;

/**
 * `true` run to completion in one running container: through Berth's exec API (`POST
 * /bots/{bot}/exec`, answer with exit code and output) and straight through the engine's exec API
 * (create, start reading the stream to its end, inspect for the exit code), on the same socket,
 * alternating which goes first.
 */
export const exec: Section = {
  name: 'exec',
  summary: `exec round trip of \`true\`: Berth API vs raw engine exec API (target ≤ ${TARGET}×)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rounds = Math.max(MIN_ROUNDS, ctx.rounds);
    const warmup = Math.max(MIN_WARMUP, ctx.warmup);
    const name = `bench-${ctx.runId}-exec`;
    const { bot, remove: removeBot } = await createTrackedBot(ctx, name);
    try {
      const container = await createRunning(ctx.berth, bot.id);
      if (container.status !== 'running') throw new Error(`the bench container is ${container.status}, not running`);

      const samples = { berth: [] as number[], raw: [] as number[] };
      for (let r = 0; r < warmup + rounds; r++) {
        ctx.signal.throwIfAborted();
        const measured = r >= warmup;
        const order = r % 2 === 0 ? (['berth', 'raw'] as const) : (['raw', 'berth'] as const);
        const got: Partial<Record<'berth' | 'raw', number>> = {};
        for (const side of order) {
          got[side] = side === 'berth' ? await berthExec(ctx, bot.id) : await rawExec(ctx, container.id);
        }
        if (measured) {
          samples.berth.push(got.berth ?? Number.NaN);
          samples.raw.push(got.raw ?? Number.NaN);
        }
        if (!measured || (r - warmup + 1) % 10 === 0) {
          ctx.log(`exec ${measured ? `round ${r - warmup + 1}/${rounds}` : `warm-up ${r + 1}/${warmup}`}: Berth ${round(got.berth ?? NaN)} ms, raw ${round(got.raw ?? NaN)} ms`);
        }
      }

      const b = summarize(samples.berth);
      const w = summarize(samples.raw);
      const ratio = b.median / w.median;
      const checks: Check[] = [check('exec', 'exec round trip ratio', round(ratio, 3), TARGET, 'x')];
      console.log(`\nExec round trip of \`true\`: ${rounds} rounds (+${warmup} warm-up), medians in ms\n`);
      console.log(
        formatTable(
          ['measure', 'Berth median', 'raw median', 'Berth/raw', 'target', 'result', 'overhead', 'Berth p90', 'raw p90'],
          [['exec true', b.median, w.median, ratio.toFixed(3), `≤ ${TARGET.toFixed(2)}`, ratio <= TARGET ? 'PASS' : 'FAIL', b.median - w.median, b.p90, w.p90]],
        ),
      );
      return {
        data: {
          rounds,
          warmup,
          image: ctx.image,
          berth: { samples: samples.berth.map((x) => round(x)), ...roundSummary(b) },
          raw: { samples: samples.raw.map((x) => round(x)), ...roundSummary(w) },
          ratio: round(ratio, 3),
          overheadMs: round(b.median - w.median),
          target: TARGET,
          pass: ratio <= TARGET,
        },
        checks,
      };
    } finally {
      await removeBot();
    }
  },
};

async function berthExec(ctx: BenchContext, bot: string): Promise<number> {
  const { ms, value } = await timed(() => ctx.berth.exec(bot, { command: ['true'] }));
  if (value.exitCode !== 0) throw new Error(`Berth exec of true exited ${value.exitCode}`);
  return ms;
}

/** What a client of the engine does to run a command and learn its exit code. */
async function rawExec(ctx: BenchContext, containerId: string): Promise<number> {
  const { engine } = ctx;
  const t0 = performance.now();
  const { body } = await engine.call<{ Id: string }>('POST', `/containers/${containerId}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['true'] });
  if (!body) throw new Error('the engine answered no exec id');
  const start = await engine.request('POST', `/exec/${body.Id}/start`, { Detach: false, Tty: false });
  if (start.status !== 200) throw new Error(`exec start answered ${start.status}: ${start.text}`);
  // The stream ends with the process; the session's state can trail it for a moment.
  for (let i = 0; ; i++) {
    const { body: state } = await engine.call<{ Running?: boolean; ExitCode?: number }>('GET', `/exec/${body.Id}/json`);
    if (state && !state.Running && typeof state.ExitCode === 'number') {
      if (state.ExitCode !== 0) throw new Error(`raw exec of true exited ${state.ExitCode}`);
      break;
    }
    if (i > 200) throw new Error('the raw exec session never reported an exit code');
    await sleep(5);
  }
  return performance.now() - t0;
}
