/**
 * Berth's benchmark harness (`npm run bench`): one real Berth server and the raw engine API on the
 * same Podman socket, side by side. Sections live in sections/; results go to bench/results/.
 *
 *   node bench/dist/bench.js [--rounds N] [--warmup N] [--bots N] [--only a,b] [--strict] [--no-write]
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBerthServer } from './lib/berth-server.js';
import { Cleanup } from './lib/cleanup.js';
import { EngineClient } from './lib/engine.js';
import { repoRoot, resultsDir, serverMain } from './lib/paths.js';
import { ensureEngineSocket } from './lib/podman-socket.js';
import { kbToMb, readProcMemory } from './lib/proc.js';
import { gitInfo, machineInfo, writeResults } from './lib/results.js';
import { round } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { SECTIONS } from './sections/index.js';
import type { BenchContext, Check } from './sections/section.js';

const IMAGE = 'localhost/berth/test:busybox';

const USAGE = `usage: node bench/dist/bench.js [options]

  --rounds N     measured rounds per lifecycle operation (default 10, or BENCH_ROUNDS)
  --warmup N     unmeasured rounds first (default 1)
  --bots N       bots for the idle-RSS section (default 100)
  --only LIST    sections to run, comma-separated (${SECTIONS.map((s) => s.name).join(', ')}); default all
  --strict       exit 2 when a target is missed
  --no-write     do not write bench/results/
  -h, --help     this text
`;

interface Options {
  rounds: number;
  warmup: number;
  bots: number;
  only: string[];
  strict: boolean;
  write: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      bots: { type: 'string' },
      only: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const only = (values.only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only.filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) throw new UsageError(`unknown section ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`);
  return {
    rounds: intOption('rounds', values.rounds ?? process.env.BENCH_ROUNDS, 10, 1, 1000),
    warmup: intOption('warmup', values.warmup, 1, 0, 100),
    bots: intOption('bots', values.bots, 100, 1, 10_000),
    only,
    strict: values.strict,
    write: !values['no-write'],
  };
}

class UsageError extends Error {}

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${raw})`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const sections = options.only.length > 0 ? SECTIONS.filter((s) => options.only.includes(s.name)) : SECTIONS;
  const startedAt = new Date();
  const loadAtStart = os.loadavg().map((x) => round(x));
  const runId = randomBytes(3).toString('hex');
  const cleanup = new Cleanup({ log });
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    abort.abort(new Error(`interrupted by ${signal}`));
    log(`${signal}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), `berth-bench-${runId}-`));
  cleanup.add(`temp dir ${tmpDir}`, () => fs.rm(tmpDir, { recursive: true, force: true }));
  const failures: string[] = [];
  try {
    const socket = await ensureEngineSocket({ tmpDir, log });
    cleanup.add('podman service', () => socket.stop());
    const engine = new EngineClient(socket.socketPath);
    cleanup.add('engine client', () => engine.close());
    // Raw containers of this run that a failure left behind.
    cleanup.add('raw container sweep', async () => {
      for (const c of await engine.listContainers([`berth.bench.run=${runId}`])) await engine.removeContainer(c.Id);
    });
    const podman = await engine.version();
    if (!(await engine.imageConfig(IMAGE))) throw new Error(`image ${IMAGE} is not present; run bash scripts/setup.sh`);
    const stale = await engine.listContainers(['berth.bench=true']);
    if (stale.length > 0) log(`note: ${stale.length} container(s) labelled berth.bench=true exist already (another run, or one that was killed)`);

    // Containers of bots Berth made for us, in case the API could not remove them.
    const botIds = new Set<string>();
    cleanup.add('Berth container sweep', async () => {
      for (const c of await engine.listContainers(['berth.managed=true'])) {
        if (botIds.has(c.Labels?.['berth.bot'] ?? '')) await engine.removeContainer(c.Id);
      }
    });
    const home = path.join(tmpDir, 'home');
    await fs.mkdir(home, { recursive: true });
    log(`starting Berth (${serverMain}) on ${socket.socketPath}${socket.startedByBench ? ' (service started by the harness)' : ''}`);
    const server = await startBerthServer({ main: serverMain, home, socketPath: socket.socketPath, defaultImage: IMAGE, logFile: path.join(tmpDir, 'berth-server.log') });
    cleanup.add('Berth server', () => server.stop());
    const info = await server.client.info();
    const rssAtStart = readProcMemory(server.pid);
    log(`Berth ${info.version} at ${server.baseUrl}, pid ${server.pid}, RSS ${kbToMb(rssAtStart.rssKb).toFixed(1)} MB; Podman ${podman.version}; run ${runId}`);

    const ctx: BenchContext = {
      rounds: options.rounds,
      warmup: options.warmup,
      idleBots: options.bots,
      runId,
      image: IMAGE,
      tmpDir,
      engine,
      server,
      berth: server.client,
      cleanup,
      signal: abort.signal,
      trackBot: (id) => botIds.add(id),
      log,
    };

    const sectionData: Record<string, unknown> = {};
    const checks: Check[] = [];
    for (const section of sections) {
      if (interrupted) break;
      log(`section ${section.name}: ${section.summary}`);
      try {
        const result = await section.run(ctx);
        sectionData[section.name] = result.data;
        checks.push(...result.checks);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failures.push(`${section.name}: ${message}`);
        sectionData[section.name] = { error: message };
        log(`section ${section.name} failed: ${message}`);
        if (server.exited) {
          log(`the Berth server has exited; its log ends with:\n${server.logTail()}`);
          break;
        }
      }
    }
    if (interrupted) return 130;

    if (checks.length > 0) {
      console.log('\nTargets\n');
      console.log(formatTable(['section', 'check', 'value', 'target', 'result'], checks.map((c) => [c.section, c.name, c.unit === 'x' ? c.value.toFixed(3) : c.value, `≤ ${c.target} ${c.unit}`, c.pass ? 'PASS' : 'FAIL'])));
    }
    for (const f of failures) console.log(`\nERROR ${f}`);

    const results = {
      schema: 1,
      timestamp: startedAt.toISOString(),
      durationS: round((Date.now() - startedAt.getTime()) / 1000, 1),
      ok: failures.length === 0,
      errors: failures,
      machine: { ...machineInfo(), loadAverageAtStart: loadAtStart },
      git: gitInfo(repoRoot),
      engine: { socket: socket.socketPath, startedByBench: socket.startedByBench, podman: podman.version, dockerApiVersion: podman.apiVersion, ociRuntime: podman.runtime },
      berth: { version: info.version, runtime: info.runtime.name, rssAtStartMb: round(kbToMb(rssAtStart.rssKb), 1) },
      options: { rounds: options.rounds, warmup: options.warmup, bots: options.bots, sections: sections.map((s) => s.name), image: IMAGE },
      sections: sectionData,
      checks,
    };
    if (options.write) {
      const { file, latest } = await writeResults(resultsDir, startedAt, results);
      log(`results: ${path.relative(repoRoot, file)} and ${path.relative(repoRoot, latest)}`);
    }
    if (failures.length > 0) return 1;
    return options.strict && checks.some((c) => !c.pass) ? 2 : 0;
  } finally {
    const left = await cleanup.runAll();
    if (left > 0) log(`cleanup: ${left} step(s) failed; see above`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      process.exit(64);
    }
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
