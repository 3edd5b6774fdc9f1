import type { Command } from 'commander';
import type { Bot, Container, DiskLimitInfo } from '@berth/contract';
import { BerthApiError, connect, print, serverUrl } from '../connection.js';
import { EXIT } from '../failure.js';
import type { GlobalOptions } from '../global-options.js';
import { cliHint } from '../hints.js';
import { LIMITS, numberOption, numberOrWordOption } from '../numbers.js';
import { followOperation } from '../progress.js';

interface BotConfigOptions {
  image?: string;
  cdi?: string;
  cpus?: number;
  memoryMb?: number;
  pidsLimit?: number;
  network?: 'bridge' | 'none';
  diskLimitMb?: number | 'none';
}

/**
 * A bot and its container through their life: `bots …` and `container …`, and Docker's verbs at the
 * top: `ls`, `inspect`, `start`, `stop`, `restart`, `recreate`.
 */
export function registerLifecycle(program: Command, global: () => GlobalOptions): void {
  const bots = program.command('bots').description('list, create, show, change and delete bots');

  bots
    .command('list')
    .alias('ls')
    .description('list bots with their container status')
    .action(async () => listBots(global()));

  withConfigOptions(bots.command('create <name>').description('create a bot (its container is created with `berth container create`)'), 'create').action(
    async (name: string, o: BotConfigOptions) => {
      const g = global();
      print(await connect(g).createBot({ name, ...configBody(o) }), g.json);
    },
  );

  bots
    .command('show <bot>')
    .description('show a bot')
    .action(async (bot: string) => print(await connect(global()).getBot(bot), global().json));

  withConfigOptions(
    bots.command('set <bot>').description('change a bot’s config; a container picks it up at its next recreate (a disk limit applies at once)'),
    'set',
  ).action(async (bot: string, o: BotConfigOptions) => {
    const g = global();
    print(await connect(g).updateBot(bot, configBody(o)), g.json);
  });

  bots
    .command('delete <bot>')
    .alias('rm')
    .description('delete a bot with its container, data and history')
    .action(async (bot: string) => {
      await connect(global()).deleteBot(bot);
      process.stdout.write(`deleted ${bot}\n`);
    });

  const container = program.command('container').description('a bot’s container: create, start, stop, restart, delete, info');

  container
    .command('create <bot>')
    .description('create (or --recreate) the bot’s container, showing live progress')
    .option('--recreate', 'replace the existing container; the data dir is kept')
    .action(async (bot: string, o: { recreate?: boolean }) => {
      const g = global();
      const client = connect(g);
      await followOperation(client.createContainerStream(bot, { recreate: o.recreate === true }), { asJson: g.json, bot, client, url: serverUrl(g) });
    });

  container
    .command('info <bot>')
    .alias('inspect')
    .description('the container as the engine reports it, with its disk limit and usage as last measured')
    .action(async (bot: string) => containerInfo(bot, global()));
  container.command('start <bot>').description('start the container').action(async (bot: string) => start(bot, global()));
  stopOptions(container.command('stop <bot>').description('stop the container gracefully')).action(async (bot: string, o: { timeout?: number }) => stop(bot, o, global()));
  stopOptions(container.command('restart <bot>').description('stop the container gracefully, then start it')).action(async (bot: string, o: { timeout?: number }) =>
    restart(bot, o, global()),
  );
  container
    .command('delete <bot>')
    .alias('rm')
    .description('remove the container; the data dir is kept unless --purge-data')
    .option('--purge-data', 'also remove the bot’s data dir')
    .action(async (bot: string, o: { purgeData?: boolean }) => {
      await connect(global()).deleteContainer(bot, { purgeData: o.purgeData === true });
      process.stdout.write(`container of ${bot} removed${o.purgeData ? ' with its data' : '; data kept'}\n`);
    });

  const operations = program.command('operations').description('a bot’s operations (create, start, stop, snapshot, restore, import …): list, show, follow');
  operations
    .command('list <bot>')
    .alias('ls')
    .description('the bot’s latest operations, newest first')
    .action(async (bot: string) => {
      const g = global();
      const list = await connect(g).listOperations(bot);
      if (g.json) return print(list, true);
      for (const op of list) process.stdout.write(`${op.id}  ${op.kind.padEnd(9)} ${op.status.padEnd(9)} ${op.startedAt}  ${op.error?.message ?? op.phase ?? ''}\n`);
    });
  operations
    .command('show <operation>')
    .description('one operation')
    .action(async (id: string) => print(await connect(global()).getOperation(id), global().json));
  operations
    .command('follow <operation>')
    .alias('wait')
    .description('print an operation’s progress until it ends; exits 125 if it failed')
    .action(async (id: string) => {
      const g = global();
      const client = connect(g);
      await followOperation(client.operationEvents(id), { asJson: g.json, client, url: serverUrl(g), operationId: id });
      // A finished operation's stream may have nothing left to send: its record says how it ended.
      const op = await client.getOperation(id);
      if (op.status === 'failed' && process.exitCode !== EXIT.berth) {
        process.stderr.write(`berth: ${op.error ? `${cliHint(op.error, {})} (${op.error.code})` : 'the operation failed'}\n`);
        process.exitCode = EXIT.berth;
      }
    });

  // Docker's verbs for the everyday work, at the top.
  program
    .command('ls')
    .alias('ps')
    .description('list bots with their container status (berth bots list)')
    .action(async () => listBots(global()));
  program
    .command('inspect <bot>')
    .description('the bot and its container (null when it has none), as JSON')
    .action(async (bot: string) => {
      const client = connect(global());
      const [config, box] = await Promise.all([client.getBot(bot), client.getContainer(bot).catch(noContainer)]);
      print({ ...config, container: box }, true);
    });
  program.command('start <bot>').description('start the bot’s container (berth container start)').action(async (bot: string) => start(bot, global()));
  stopOptions(program.command('stop <bot>').description('stop the bot’s container gracefully (berth container stop)')).action(async (bot: string, o: { timeout?: number }) =>
    stop(bot, o, global()),
  );
  stopOptions(program.command('restart <bot>').description('stop the bot’s container gracefully, then start it; a stopped one is started')).action(
    async (bot: string, o: { timeout?: number }) => restart(bot, o, global()),
  );
  program
    .command('recreate <bot>')
    .description('replace the bot’s container with a new one from its current config, showing progress; the data dir is kept')
    .action(async (bot: string) => {
      const g = global();
      const client = connect(g);
      await followOperation(client.createContainerStream(bot, { recreate: true }), { asJson: g.json, bot, client, url: serverUrl(g) });
    });
}

function withConfigOptions(cmd: Command, verb: 'create' | 'set'): Command {
  return cmd
    .option('--image <ref>', 'container image')
    .option('--cdi <devices>', verb === 'create' ? 'CDI devices, comma separated (e.g. nvidia.com/gpu=0)' : 'CDI devices, comma separated; "" for none')
    .option('--cpus <n>', `CPU limit (${LIMITS.cpus.min}–${LIMITS.cpus.max})`, numberOption(LIMITS.cpus))
    .option('--memory-mb <n>', `memory limit in MiB (${LIMITS.memoryMb.min}–${LIMITS.memoryMb.max})`, numberOption(LIMITS.memoryMb))
    .option('--pids-limit <n>', `most processes in the container (${LIMITS.pidsLimit.min}–${LIMITS.pidsLimit.max})`, numberOption(LIMITS.pidsLimit))
    .option('--network <mode>', 'bridge or none')
    .option(
      '--disk-limit-mb <n|none>',
      verb === 'create'
        ? 'MiB its data dir and writable layer may take together, or "none" (default: the server\'s BERTH_DEFAULT_DISK_LIMIT_MB)'
        : 'MiB its data dir and writable layer may take together, or "none"',
      numberOrWordOption('none', LIMITS.diskLimitMb),
    );
}

function configBody(o: BotConfigOptions) {
  const resources = {
    ...(o.cpus !== undefined && { cpus: o.cpus }),
    ...(o.memoryMb !== undefined && { memoryMb: o.memoryMb }),
    ...(o.pidsLimit !== undefined && { pidsLimit: o.pidsLimit }),
  };
  return {
    ...(o.image && { image: o.image }),
    ...(o.cdi !== undefined && { cdiDevices: o.cdi }),
    ...(Object.keys(resources).length > 0 && { resources }),
    ...(o.network && { network: o.network }),
    ...(o.diskLimitMb !== undefined && { diskLimitMb: o.diskLimitMb === 'none' ? null : o.diskLimitMb }),
  };
}

function stopOptions(cmd: Command): Command {
  return cmd.option('-t, --timeout <seconds>', `seconds before it is killed (${LIMITS.stopTimeout.min}–${LIMITS.stopTimeout.max})`, numberOption(LIMITS.stopTimeout));
}

async function listBots(g: GlobalOptions): Promise<void> {
  const list: Bot[] = await connect(g).listBots();
  if (g.json) return print(list, true);
  for (const b of list) process.stdout.write(`${b.name.padEnd(24)} ${(b.status ?? '-').padEnd(9)} v${b.version}  ${b.image}\n`);
}

async function containerInfo(bot: string, g: GlobalOptions): Promise<void> {
  const info = await connect(g).getContainer(bot);
  if (g.json) return print(info, true);
  const { diskLimit, ...rest } = info;
  print(rest, false);
  process.stdout.write(`${'diskLimit'.padEnd(16)} ${describeDiskLimit(diskLimit)}\n`);
}

async function start(bot: string, g: GlobalOptions): Promise<void> {
  print(await connect(g).startContainer(bot), g.json);
}

async function stop(bot: string, o: { timeout?: number }, g: GlobalOptions): Promise<void> {
  print(await connect(g).stopContainer(bot, o.timeout === undefined ? {} : { timeoutSeconds: o.timeout }), g.json);
}

/** Like `docker restart`: a graceful stop, then a start; a container that is not running is just started. */
async function restart(bot: string, o: { timeout?: number }, g: GlobalOptions): Promise<void> {
  const client = connect(g);
  const current = await client.getContainer(bot);
  if (current.status === 'running') await client.stopContainer(bot, o.timeout === undefined ? {} : { timeoutSeconds: o.timeout });
  const started: Container = await client.startContainer(bot);
  print(started, g.json);
}

function noContainer(err: unknown): null {
  if (err instanceof BerthApiError && err.code === 'container_not_found') return null;
  throw err;
}

/** One line a person reads: limit, usage (data + writable layer), how it is enforced, and whether it is exceeded. */
function describeDiskLimit(d: DiskLimitInfo): string {
  const limit = d.mb === null ? 'no limit' : `limit ${d.mb} MiB`;
  const usage =
    d.measuredAt === null
      ? 'usage not measured yet'
      : d.usedMb === null
        ? 'usage unknown (could not be measured)'
        : `used ${d.usedMb} MiB (data ${d.dataMb ?? '?'}, layer ${d.layerMb ?? '?'}) at ${d.measuredAt}`;
  const enforcement = d.enforcement === 'soft' ? 'soft enforcement (measured every 30 s)' : d.enforcement === 'hard' ? 'hard enforcement' : 'not enforced';
  return `${limit}, ${usage}, ${enforcement}${d.exceeded ? ', EXCEEDED: writes through the API are refused' : ''}`;
}
