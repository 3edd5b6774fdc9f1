import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { AppError } from '../../errors.js';

/** The bridge interfaces of bot networks start with this; the firewall rules match `berth+`. */
export const DEFAULT_BRIDGE_PREFIX = 'berth';
/** Base of the names of the chains Berth owns (`<base>-INPUT`, `<base>-FORWARD`) in the filter table. */
export const DEFAULT_ISOLATION_CHAIN = 'BERTH-ISOLATION';

/** Bridge interface prefixes: short enough to leave room for a unique suffix in Linux's 15 characters. */
export const BRIDGE_PREFIX = /^[a-z][a-z0-9]{1,7}$/;
const CHAIN = /^[A-Z][A-Z0-9-]{0,19}$/;

/** Podman's own bridges (its default network is `podman0`): other containers on this host. */
const PODMAN_BRIDGES = 'podman+';
const IPTABLES_TIMEOUT_MS = 20_000;
/** How often a running Berth checks its rules are still there, and first (see `watch`). */
export const ISOLATION_CHECK_INTERVAL_MS = 30_000;
/**
 * A jump of another Berth on the host (its own bridge prefix and chains) as iptables-save prints it:
 * it only returns or drops its own bridges' traffic, so it may come ahead of ours, and the two
 * Berths do not keep pushing each other down.
 */
const OTHER_BERTH_JUMP = /^-A (?:INPUT|FORWARD) -[io] [a-z][a-z0-9]{1,7}\+ -j [A-Z][A-Z0-9-]{0,19}-(?:INPUT|FORWARD)$/;

export interface PodmanIsolationOptions {
  bridgePrefix?: string;
  chain?: string;
}

/**
 * The host-side half of bot network isolation. Every bot has its own bridge network (see the
 * driver), so traffic between bots and from a bot to the host crosses layer 3 where iptables sees
 * it, with or without br_netfilter. These rules, for IPv4 and IPv6 (a bot's interface always has a
 * link-local address), in chains Berth owns and jumps it inserts first in INPUT and FORWARD:
 *
 * - from a bot's bridge to the host itself (gateway, other addresses, broadcasts): only replies to
 *   connections the host opened;
 * - into a bot's bridge from anywhere (another bot, other containers, the LAN): only replies;
 * - from a bot's bridge into Podman's other bridges (containers not made by Berth, or bots made
 *   before isolation): nothing.
 *
 * Everything else a bot sends (the internet, DNS servers off the host) goes on to Podman's own
 * rules, so egress stays as the bot's `network` says. The rules match bridges by name prefix, so
 * they hold for every bot network of every Berth on the host, at once and with no per-bot work.
 * They are installed idempotently and kept when Berth stops: bot containers keep running then, and
 * another Berth on the host relies on the same rules. `remove()` exists for tests and uninstalls.
 */
export class PodmanIsolation {
  readonly bridgePrefix: string;
  readonly chain: string;
  private pending: Promise<boolean> | null = null;

  constructor(options: PodmanIsolationOptions = {}) {
    this.bridgePrefix = options.bridgePrefix ?? DEFAULT_BRIDGE_PREFIX;
    this.chain = options.chain ?? DEFAULT_ISOLATION_CHAIN;
    if (!BRIDGE_PREFIX.test(this.bridgePrefix)) throw new Error(`bridge prefix ${this.bridgePrefix} must match ${String(BRIDGE_PREFIX)}`);
    if (!CHAIN.test(this.chain)) throw new Error(`chain name ${this.chain} must match ${String(CHAIN)}`);
  }

  /**
   * Installs (or repairs) the rules; cheap when they are in place. Called at start-up, before a bot
   * container is made, and every ISOLATION_CHECK_INTERVAL_MS (`watch`), so a firewall reload that
   * flushed them, or rules put ahead of Berth's jumps (netavark's after a reboot), do not leave bots
   * open. Resolves to whether anything had to be written. Concurrent calls share one run.
   */
  ensure(): Promise<boolean> {
    this.pending ??= this.install().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /**
   * Checks the rules now, and then every `intervalMs` until the returned function is called; a check
   * that had to repair them (or failed) is logged as a warning.
   */
  watch(logger: { warn(obj: object, msg: string): void }, intervalMs = ISOLATION_CHECK_INTERVAL_MS): () => void {
    const timer = setInterval(() => void this.check(logger), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** One periodic check (`watch`): repairs what is missing or out of place, and says so. */
  async check(logger: { warn(obj: object, msg: string): void }): Promise<void> {
    try {
      if (await this.ensure()) logger.warn({ chain: this.chain }, 'the network isolation rules were missing or not first in INPUT/FORWARD (a firewall reload?); they are back in place');
    } catch (err) {
      logger.warn({ err }, 'could not check the network isolation rules');
    }
  }

  private async install(): Promise<boolean> {
    const written = await Promise.all(
      families().map(async (family) => {
        try {
          // One read of the filter table; in the usual case (all in place) nothing is written.
          const saved = await run(family.save, ['-t', 'filter']);
          const lines = saved.split('\n').map((l) => l.trim());
          const rules = this.chainRules();
          const inPlace = (chain: string) => lines.filter((l) => l.startsWith(`-A ${chain} `)).join('\n') === rules.filter((l) => l.startsWith(`-A ${chain} `)).join('\n');
          const misplaced = (['INPUT', 'FORWARD'] as const).filter((from) => !this.jumpsFirst(lines, from));
          if (misplaced.length === 0 && inPlace(this.inputChain) && inPlace(this.forwardChain)) return false;
          // Declaring a chain in a --noflush restore empties it: its rules are replaced in one step,
          // together with the jumps of a built-in chain where they are missing or not first: every
          // copy deleted, then all inserted at the top, ahead of Podman's rules (which accept
          // everything a bot sends) and anything else.
          const jumps = this.jumps().filter((j) => misplaced.includes(j.from));
          const script = [
            '*filter',
            `:${this.inputChain} - [0:0]`,
            `:${this.forwardChain} - [0:0]`,
            ...rules,
            ...jumps.flatMap((j) => {
              const line = `-A ${j.from} ${j.rule.join(' ')}`;
              return lines.filter((l) => l === line).map(() => `-D ${j.from} ${j.rule.join(' ')}`);
            }),
            ...jumps.map((j) => `-I ${j.from} 1 ${j.rule.join(' ')}`),
            'COMMIT',
            '',
          ].join('\n');
          await run(family.restore, ['-w', '--noflush'], script);
          return true;
        } catch (err) {
          throw new AppError('internal', { reason: `could not install Berth's network isolation rules with ${family.restore}: ${err instanceof Error ? err.message : String(err)}` }, { cause: err });
        }
      }),
    );
    return written.some(Boolean);
  }

  /**
   * Whether Berth's jumps from `from` are all there and first in it: only other Berths'
   * jumps (OTHER_BERTH_JUMP) may come before them.
   */
  private jumpsFirst(lines: string[], from: 'INPUT' | 'FORWARD'): boolean {
    const ours = this.jumps()
      .filter((j) => j.from === from)
      .map((j) => `-A ${from} ${j.rule.join(' ')}`);
    const chain = lines.filter((l) => l.startsWith(`-A ${from} `));
    const firstOther = chain.findIndex((l) => !ours.includes(l) && !OTHER_BERTH_JUMP.test(l));
    const head = firstOther === -1 ? chain : chain.slice(0, firstOther);
    return ours.every((line) => head.includes(line));
  }

  /** Takes the jumps and chains away again (tests, uninstall); rules Berth did not make are left. */
  async remove(): Promise<void> {
    for (const family of families()) {
      for (const { from, rule } of this.jumps()) {
        // A jump inserted twice (two Berths racing) is removed twice.
        while (await run(family.cmd, ['-w', '-D', from, ...rule]).then(() => true, () => false));
      }
      for (const chain of [this.inputChain, this.forwardChain]) {
        await run(family.cmd, ['-w', '-F', chain]).catch(() => '');
        await run(family.cmd, ['-w', '-X', chain]).catch(() => '');
      }
    }
  }

  get inputChain(): string {
    return `${this.chain}-INPUT`;
  }

  get forwardChain(): string {
    return `${this.chain}-FORWARD`;
  }

  private jumps(): { from: 'INPUT' | 'FORWARD'; rule: string[] }[] {
    const bots = `${this.bridgePrefix}+`;
    return [
      { from: 'INPUT', rule: ['-i', bots, '-j', this.inputChain] },
      { from: 'FORWARD', rule: ['-i', bots, '-j', this.forwardChain] },
      { from: 'FORWARD', rule: ['-o', bots, '-j', this.forwardChain] },
    ];
  }

  /** The rules of Berth's chains, as iptables-save prints them. */
  private chainRules(): string[] {
    const bots = `${this.bridgePrefix}+`;
    const replies = '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN';
    return [
      `-A ${this.inputChain} ${replies}`,
      `-A ${this.inputChain} -j DROP`,
      `-A ${this.forwardChain} ${replies}`,
      `-A ${this.forwardChain} -o ${bots} -j DROP`,
      `-A ${this.forwardChain} -i ${bots} -o ${PODMAN_BRIDGES} -j DROP`,
    ];
  }
}

interface Family {
  cmd: string;
  save: string;
  restore: string;
}

function families(): Family[] {
  const v4 = { cmd: 'iptables', save: 'iptables-save', restore: 'iptables-restore' };
  // Without IPv6 in the kernel no bot has an IPv6 address to reach anything with.
  return fs.existsSync('/proc/sys/net/ipv6') ? [v4, { cmd: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore' }] : [v4];
}

/** Runs an iptables command with `input` on its stdin; its output, or its own message as the error. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // The filter table of a busy host can be long; bounded all the same.
    const child = execFile(cmd, args, { timeout: IPTABLES_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim().slice(0, 500) || err.message}`));
    });
    // A command that exits without reading its input fails by its exit status, not by this pipe.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}
