import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Named crash points for fault-injection tests (`BERTH_FAILPOINTS`, off by default). Operations call
 * `await hit('restore.data')` between their steps; a configured point then acts:
 *
 * - `crash`: the process kills itself with SIGKILL, exactly as `kill -9` would, mid-operation;
 * - `error`: the step fails with an unexpected error (answered as `internal`);
 * - `enospc`: the step fails as a full disk would (`ENOSPC`);
 * - `pause`: the step waits until the file `<BERTH_HOME>/failpoints/<name>.continue` exists, so a
 *   test can do something (freeze or kill the engine) at exactly that point.
 *
 * `BERTH_FAILPOINTS=restore.data:crash,recreate.start:error`. With nothing configured `hit` costs one
 * map lookup.
 */
export type FailpointAction = 'crash' | 'error' | 'enospc' | 'pause';

const ACTIONS: readonly FailpointAction[] = ['crash', 'error', 'enospc', 'pause'];

export class Failpoints {
  private readonly points: ReadonlyMap<string, FailpointAction>;
  private readonly dir: string;

  constructor(points: ReadonlyMap<string, FailpointAction> = new Map(), options: { dir?: string } = {}) {
    this.points = points;
    this.dir = options.dir ?? '.';
  }

  /** Parses `name:action,name:action`; throws on anything else, so a typo never silently disables a test. */
  static parse(spec: string | undefined, options: { dir?: string } = {}): Failpoints {
    const points = new Map<string, FailpointAction>();
    for (const item of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const [name, action, ...rest] = item.split(':');
      if (!name || !/^[a-z][a-z0-9.-]*$/.test(name) || rest.length > 0 || !ACTIONS.includes(action as FailpointAction)) {
        throw new Error(`BERTH_FAILPOINTS: "${item}" is not <name>:<${ACTIONS.join('|')}>`);
      }
      points.set(name, action as FailpointAction);
    }
    return new Failpoints(points, options);
  }

  get active(): boolean {
    return this.points.size > 0;
  }

  /** Acts if `name` is configured; otherwise resolves at once. */
  async hit(name: string): Promise<void> {
    const action = this.points.get(name);
    if (!action) return;
    process.stderr.write(`berth: failpoint ${name}: ${action}\n`);
    if (action === 'crash') process.kill(process.pid, 'SIGKILL');
    if (action === 'pause') {
      const file = path.join(this.dir, 'failpoints', `${name}.continue`);
      while (!existsSync(file)) await sleep(50);
      return;
    }
    if (action === 'enospc') throw Object.assign(new Error(`ENOSPC: no space left on device (failpoint ${name})`), { code: 'ENOSPC' });
    throw new Error(`failpoint ${name}`);
  }
}

/** Nothing configured: every `hit` is a no-op. */
export const NO_FAILPOINTS = new Failpoints();
