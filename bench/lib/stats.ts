/** Summary statistics of a list of timings (milliseconds). */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  max: number;
  mean: number;
}

/** The q-quantile (0..1) with linear interpolation between closest ranks; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  return {
    n,
    min: n ? Math.min(...samples) : Number.NaN,
    median: median(samples),
    p90: quantile(samples, 0.9),
    max: n ? Math.max(...samples) : Number.NaN,
    mean: n ? samples.reduce((s, x) => s + x, 0) / n : Number.NaN,
  };
}

/** Rounds for reports and JSON: timings to 0.01 ms, ratios to 0.001. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function roundSummary(s: Summary): Summary {
  return { n: s.n, min: round(s.min), median: round(s.median), p90: round(s.p90), max: round(s.max), mean: round(s.mean) };
}
