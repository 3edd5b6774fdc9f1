import type { BerthClient } from '@berth/sdk';
import type { BerthServer } from '../lib/berth-server.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { EngineClient } from '../lib/engine.js';

/** What every section gets: one Berth server and the raw engine on the same socket. */
export interface BenchContext {
  /** Measured rounds per timed operation. */
  rounds: number;
  /** Unmeasured rounds first, to warm caches on both sides. */
  warmup: number;
  /** Bots the idle-RSS section creates. */
  idleBots: number;
  /** Short random id of this run; in every name and label the harness creates. */
  runId: string;
  /** The image every container is made from (present locally). */
  image: string;
  /** A temp dir of this run, removed at the end. */
  tmpDir: string;
  engine: EngineClient;
  server: BerthServer;
  berth: BerthClient;
  cleanup: Cleanup;
  /** Aborted on SIGINT/SIGTERM: sections stop between steps and leave the rest to `cleanup`. */
  signal: AbortSignal;
  /** Records a bot id Berth made for us, so a final sweep can remove its container if the API cannot. */
  trackBot(botId: string): void;
  log(message: string): void;
}

/** A target a section checks, e.g. "create ratio ≤ 1.25". */
export interface Check {
  section: string;
  name: string;
  value: number;
  target: number;
  unit: string;
  pass: boolean;
}

export interface SectionResult {
  /** The section's figures, written into the results JSON under its name. */
  data: Record<string, unknown>;
  checks: Check[];
}

/** One part of the benchmark. New ones (snapshots, export/import, exec) go in sections/index.ts. */
export interface Section {
  name: string;
  summary: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

export function check(section: string, name: string, value: number, target: number, unit: string): Check {
  return { section, name, value, target, unit, pass: Number.isFinite(value) && value <= target };
}
