import type { Command } from 'commander';
import type { DiskLimitInfo } from '@berth/contract';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';
import { followOperation } from '../progress.js';

export function registerContainer(program: Command, global: () => GlobalOptions): void {
  const container = program.command('container').description('a bot’s container: create, start, stop, delete, info');

  container
    .command('create <bot>')
    .description('create (or --recreate) the bot’s container, showing live progress')
    .option('--recreate', 'replace the existing container; the data dir is kept')
    .action(async (bot: string, o: { recreate?: boolean }) => {
      const g = global();
      await followOperation(connect(g).createContainerStream(bot, { recreate: o.recreate === true }), g.json);
    });

  container
    .command('info <bot>')
    .description('the container as the engine reports it, with its disk limit and usage as last measured')
    .action(async (bot: string) => {
      const g = global();
      const info = await connect(g).getContainer(bot);
      if (g.json) return print(info, true);
      const { diskLimit, ...rest } = info;
      print(rest, false);
      process.stdout.write(`${'diskLimit'.padEnd(16)} ${describeDiskLimit(diskLimit)}\n`);
    });
  container.command('start <bot>').description('start the container').action(async (bot: string) => print(await connect(global()).startContainer(bot), global().json));
  container
    .command('stop <bot>')
    .description('stop the container gracefully')
    .option('--timeout <seconds>', 'seconds before it is killed', Number)
    .action(async (bot: string, o: { timeout?: number }) => print(await connect(global()).stopContainer(bot, o.timeout === undefined ? {} : { timeoutSeconds: o.timeout }), global().json));
  container
    .command('delete <bot>')
    .description('remove the container; the data dir is kept unless --purge-data')
    .option('--purge-data', 'also remove the bot’s data dir')
    .action(async (bot: string, o: { purgeData?: boolean }) => {
      await connect(global()).deleteContainer(bot, { purgeData: o.purgeData === true });
      process.stdout.write(`container of ${bot} removed${o.purgeData ? ' with its data' : '; data kept'}\n`);
    });
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
