import { execFileSync } from 'node:child_process';
import { BerthApiError } from '@berth/contract';
import type { BenchContext, Check, Section, SectionResult } from './section.js';
import { check } from './section.js';
import { createRunning, createTrackedBot } from '../lib/berth-bots.js';
import { round, roundSummary, summarize } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { sleep, timed } from '../lib/timing.js';

/** Largest flooded/idle ratio of bot B's median exec latency. */
const TARGET = 2;
/** Concurrent exec loops on bot A: the attack of the threat model (300 execs, 20 at a time). */
const FLOOD_WORKERS = 20;
const MIN_ROUNDS = 20;
const MIN_WARMUP = 3;

/**
 * One bot floods its own container with concurrent execs (`true`, 20 at a time, as fast as it is
 * answered, retrying at once after a 429); meanwhile another bot's exec of `true` is timed and
 * compared with the same exec when nothing else runs. Berth's per-bot limits keep the flood queued
 * behind bot A, so bot B should see at most a modest slowdown. Also counts the engine's `conmon`
 * processes on the host before, at the end of and after the flood (Podman keeps one per exec for
 * `exit_command_delay` after it ends).
 */
export const flood: Section = {
  name: 'flood',
  summary: `bot B's exec latency idle vs while bot A is flooded with concurrent execs (target ≤ ${TARGET}×)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rounds = Math.max(MIN_ROUNDS, ctx.rounds);
    const warmup = Math.max(MIN_WARMUP, ctx.warmup);
    const a = await createTrackedBot(ctx, `bench-${ctx.runId}-flood-a`);
    const b = await createTrackedBot(ctx, `bench-${ctx.runId}-flood-b`);
    try {
      for (const bot of [a.bot, b.bot]) {
        const container = await createRunning(ctx.berth, bot.id);
        if (container.status !== 'running') throw new Error(`the bench container is ${container.status}, not running`);
      }
      const conmonBefore = countConmon();

      const idle = await timeExecs(ctx, b.bot.id, rounds, warmup, 'idle');

      const stop = new AbortController();
      const counts = { ok: 0, tooMany: 0, failed: 0 };
      const workers = Array.from({ length: FLOOD_WORKERS }, async () => {
        while (!stop.signal.aborted && !ctx.signal.aborted) {
          try {
            await ctx.berth.exec(a.bot.id, { command: ['true'] });
            counts.ok++;
          } catch (err) {
            if (err instanceof BerthApiError && err.code === 'too_many_requests') counts.tooMany++;
            else counts.failed++;
            // Yield so a refused loop does not starve the timing side of this process.
            await sleep(1);
          }
        }
      });
      let flooded: number[];
      try {
        // Let the flood fill bot A's places and queue before timing.
        await sleep(1000);
        flooded = await timeExecs(ctx, b.bot.id, rounds, warmup, 'flooded');
      } finally {
        stop.abort();
        await Promise.all(workers);
      }
      const conmonAfterFlood = countConmon();

      const i = summarize(idle);
      const f = summarize(flooded);
      const ratio = f.median / i.median;
      const checks: Check[] = [check('flood', 'bot B exec latency flooded/idle', round(ratio, 3), TARGET, 'x')];
      console.log(`\nBot B's exec of \`true\` while bot A runs ${FLOOD_WORKERS} exec loops: ${rounds} rounds (+${warmup} warm-up), medians in ms\n`);
      console.log(
        formatTable(
          ['measure', 'flooded median', 'idle median', 'flooded/idle', 'target', 'result', 'flooded p90', 'idle p90'],
          [['bot B exec true', f.median, i.median, ratio.toFixed(3), `≤ ${TARGET.toFixed(2)}`, ratio <= TARGET ? 'PASS' : 'FAIL', f.p90, i.p90]],
        ),
      );
      console.log(`\nBot A's flood: ${counts.ok} execs answered, ${counts.tooMany} refused with 429, ${counts.failed} other failures`);
      console.log(`Host conmon processes: ${conmonBefore} before, ${conmonAfterFlood} at the end of the flood`);
      return {
        data: {
          rounds,
          warmup,
          workers: FLOOD_WORKERS,
          idle: { samples: idle.map((x) => round(x)), ...roundSummary(i) },
          flooded: { samples: flooded.map((x) => round(x)), ...roundSummary(f) },
          ratio: round(ratio, 3),
          target: TARGET,
          pass: ratio <= TARGET,
          flood: counts,
          conmon: { before: conmonBefore, afterFlood: conmonAfterFlood },
        },
        checks,
      };
    } finally {
      await a.remove();
      await b.remove();
    }
  },
};

async function timeExecs(ctx: BenchContext, botId: string, rounds: number, warmup: number, label: string): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < warmup + rounds; r++) {
    ctx.signal.throwIfAborted();
    const { ms, value } = await timed(() => ctx.berth.exec(botId, { command: ['true'] }));
    if (value.exitCode !== 0) throw new Error(`bot B's exec of true exited ${value.exitCode}`);
    if (r >= warmup) samples.push(ms);
  }
  ctx.log(`flood: bot B ${label}: median ${round(summarize(samples).median)} ms over ${rounds} rounds`);
  return samples;
}

/** `conmon` processes on the host (the engine's, for every container and exec session). */
function countConmon(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-x', 'conmon'], { encoding: 'utf8' }).trim());
  } catch {
    // pgrep exits 1 when nothing matches.
    return 0;
  }
}
