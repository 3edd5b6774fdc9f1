import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PodmanIsolation } from '../runtime/podman/podman-isolation.js';

const exec = promisify(execFile);

/**
 * Once per `vitest run`. The servers the end-to-end tests start install Berth's network isolation
 * rules on this host, and a Berth keeps them when it stops (its bots' containers run on without it).
 * A test run must leave the host as it found it: rules that were not there before the run are taken
 * away after it.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const isolation = new PodmanIsolation();
  const hadRules = await exec('iptables', ['-w', '-S', isolation.inputChain]).then(
    () => true,
    () => false,
  );
  return async () => {
    if (!hadRules) await isolation.remove();
  };
}
