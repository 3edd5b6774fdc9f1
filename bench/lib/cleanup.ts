/** What a cleanup step does; it is run once at most. */
export type CleanupFn = () => Promise<void> | void;

interface Step {
  label: string;
  fn: CleanupFn;
  done: boolean;
}

/**
 * A stack of undo steps. Whatever the harness creates registers how to remove it; a step can be run
 * early (the normal path), and everything left runs in reverse order at the end, on failure too.
 */
export class Cleanup {
  private readonly steps: Step[] = [];
  private running: Promise<number> | null = null;

  constructor(private readonly options: { log: (msg: string) => void; stepTimeoutMs?: number }) {}

  /** Registers a step; the returned function runs it now (once) and forgets it. */
  add(label: string, fn: CleanupFn): () => Promise<void> {
    const step: Step = { label, fn, done: false };
    this.steps.push(step);
    return async () => {
      if (step.done) return;
      step.done = true;
      this.forget(step);
      await step.fn();
    };
  }

  /**
   * Runs every step still registered, newest first; failures are logged, not thrown. A second call
   * (a signal during the normal end) shares the run already going, so no step overtakes another.
   */
  runAll(): Promise<number> {
    this.running ??= this.drain();
    return this.running;
  }

  private async drain(): Promise<number> {
    let failures = 0;
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      if (step.done) continue;
      step.done = true;
      try {
        await withTimeout(Promise.resolve().then(step.fn), this.options.stepTimeoutMs ?? 30_000, step.label);
      } catch (err) {
        failures++;
        this.options.log(`cleanup: ${step.label} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }

  private forget(step: Step): void {
    const i = this.steps.indexOf(step);
    if (i >= 0) this.steps.splice(i, 1);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
