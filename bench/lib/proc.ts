import { readFileSync } from 'node:fs';

export interface ProcMemory {
  /** Resident set size now, in KiB (VmRSS). */
  rssKb: number;
  /** Peak resident set size, in KiB (VmHWM). */
  hwmKb: number;
}

/** Reads a process's memory figures from /proc/<pid>/status (Linux). */
export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    if (!m?.[1]) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

export function kbToMb(kb: number): number {
  return kb / 1024;
}
