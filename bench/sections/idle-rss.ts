import { deleteBotPatiently } from '../lib/berth-bots.js';
import { kbToMb, readProcMemory } from '../lib/proc.js';
import { round, roundSummary, summarize } from '../lib/stats.js';
import { formatTable } from '../lib/table.js';
import { mapLimit, sleep, timed } from '../lib/timing.js';
import { check, type BenchContext, type SectionResult, type Section } from './section.js';

/** Largest resident set the server may have, idle, holding this many bots. */
const RSS_TARGET_MB = 120;
const SETTLE_MS = 2_000;
const LISTS = 3;
const IDLE_MS = 3_000;
/** Bot creates in flight at once: a busy client, not a flood. */
const CONCURRENCY = 4;

/**
 * The server's resident memory while idle with many bots (bots only, no containers): before, then
 * after creating them, listing them a few times and a short idle.
 */
export const idleRss: Section = {
  name: 'idle-rss',
  summary: `server RSS idle with bots (target ≤ ${RSS_TARGET_MB} MB)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const { pid } = ctx.server;
    const before = readProcMemory(pid);
    ctx.log(`idle-rss: server pid ${pid} RSS before creating bots: ${kbToMb(before.rssKb).toFixed(1)} MB`);

    const names = Array.from({ length: ctx.idleBots }, (_, i) => `bench-${ctx.runId}-idle-${i + 1}`);
    const ids: string[] = [];
    const removeBots = ctx.cleanup.add(`${ctx.idleBots} idle bots`, async () => {
      await mapLimit(ids, CONCURRENCY, (id) => deleteBotPatiently(ctx.berth, id));
    });
    try {
      const createMs: number[] = [];
      await mapLimit(names, CONCURRENCY, async (name) => {
        ctx.signal.throwIfAborted();
        const { ms, value } = await timed(() => ctx.berth.createBot({ name }));
        ids.push(value.id);
        ctx.trackBot(value.id);
        createMs.push(ms);
      });
      await sleep(SETTLE_MS);
      const listMs: number[] = [];
      for (let i = 0; i < LISTS; i++) {
        const { ms, value } = await timed(() => ctx.berth.listBots());
        const ours = value.filter((b) => b.name.startsWith(`bench-${ctx.runId}-idle-`)).length;
        if (ours !== ctx.idleBots) throw new Error(`GET /bots listed ${ours} of the ${ctx.idleBots} bots created`);
        listMs.push(ms);
      }
      await sleep(IDLE_MS);
      const after = readProcMemory(pid);
      const rssMb = kbToMb(after.rssKb);

      const create = roundSummary(summarize(createMs));
      const list = roundSummary(summarize(listMs));
      console.log(`\nIdle RSS of the Berth server (pid ${pid}), ${ctx.idleBots} bots, MB = MiB\n`);
      console.log(
        formatTable(
          ['measure', 'value', 'target', 'result'],
          [
            ['RSS before creating bots (MB)', kbToMb(before.rssKb), '—', 'info'],
            [`RSS idle with ${ctx.idleBots} bots (MB)`, rssMb, `≤ ${RSS_TARGET_MB}`, rssMb <= RSS_TARGET_MB ? 'PASS' : 'FAIL'],
            ['peak RSS so far, VmHWM (MB)', kbToMb(after.hwmKb), '—', 'info'],
            ['POST /bots median (ms)', create.median, '—', 'info'],
            [`GET /bots with ${ctx.idleBots} bots, median (ms)`, list.median, '—', 'info'],
          ],
        ),
      );
      return {
        data: {
          bots: ctx.idleBots,
          rssBeforeMb: round(kbToMb(before.rssKb), 1),
          rssIdleMb: round(rssMb, 1),
          hwmMb: round(kbToMb(after.hwmKb), 1),
          targetMb: RSS_TARGET_MB,
          pass: rssMb <= RSS_TARGET_MB,
          createBotMs: create,
          listBotsMs: { ...list, samples: listMs.map((x) => round(x)) },
          settleMs: SETTLE_MS,
          idleMs: IDLE_MS,
        },
        checks: [check('idle-rss', `RSS idle, ${ctx.idleBots} bots`, round(rssMb, 1), RSS_TARGET_MB, 'MB')],
      };
    } finally {
      await removeBots();
    }
  },
};
