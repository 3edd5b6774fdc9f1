import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Writes the run's JSON as `<timestamp>.json` and `latest.json`, each through a temp file. */
export async function writeResults(dir: string, startedAt: Date, results: unknown): Promise<{ file: string; latest: string }> {
  await fs.mkdir(dir, { recursive: true });
  // An ISO 8601 timestamp with the colons made safe for every file system.
  const stamp = startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  const text = `${JSON.stringify(results, null, 2)}\n`;
  const file = path.join(dir, `${stamp}.json`);
  const latest = path.join(dir, 'latest.json');
  for (const target of [file, latest]) {
    const tmp = `${target}.${process.pid}.tmp`;
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, target);
  }
  return { file, latest };
}

export interface MachineInfo {
  hostname: string;
  platform: string;
  kernel: string;
  cpus: number;
  cpuModel: string;
  memoryMb: number;
  loadAverage: number[];
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()}/${os.arch()}`,
    kernel: os.release(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
  };
}

/** The commit the harness ran from, and whether the work tree had changes. */
export function gitInfo(cwd: string): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}
