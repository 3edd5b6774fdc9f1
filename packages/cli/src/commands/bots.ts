import { InvalidArgumentError, type Command } from 'commander';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

export function registerBots(program: Command, global: () => GlobalOptions): void {
  const bots = program.command('bots').description('list, create, show, change and delete bots');

  bots
    .command('list')
    .description('list bots with their container status')
    .action(async () => {
      const g = global();
      const list = await connect(g).listBots();
      if (g.json) return print(list, true);
      for (const b of list) process.stdout.write(`${b.name.padEnd(24)} ${(b.status ?? '-').padEnd(9)} v${b.version}  ${b.image}\n`);
    });

  bots
    .command('create <name>')
    .description('create a bot (its container is created with `berth container create`)')
    .option('--image <ref>', 'container image')
    .option('--cdi <devices>', 'CDI devices, comma separated (e.g. nvidia.com/gpu=0)')
    .option('--cpus <n>', 'CPU limit', Number)
    .option('--memory-mb <n>', 'memory limit in MiB', Number)
    .option('--network <mode>', 'bridge or none')
    .option('--disk-limit-mb <n|none>', 'MiB its data dir and writable layer may take together, or "none" (default: the server\'s BERTH_DEFAULT_DISK_LIMIT_MB)', parseDiskLimit)
    .action(async (name: string, o: { image?: string; cdi?: string; cpus?: number; memoryMb?: number; network?: 'bridge' | 'none'; diskLimitMb?: number | 'none' }) => {
      const g = global();
      const bot = await connect(g).createBot({
        name,
        ...(o.image && { image: o.image }),
        ...(o.cdi && { cdiDevices: o.cdi }),
        ...((o.cpus !== undefined || o.memoryMb !== undefined) && { resources: { cpus: o.cpus ?? null, memoryMb: o.memoryMb ?? null } }),
        ...(o.network && { network: o.network }),
        ...(o.diskLimitMb !== undefined && { diskLimitMb: o.diskLimitMb === 'none' ? null : o.diskLimitMb }),
      });
      print(bot, g.json);
    });

  bots
    .command('show <bot>')
    .description('show a bot')
    .action(async (bot: string) => print(await connect(global()).getBot(bot), global().json));

  bots
    .command('set <bot>')
    .description('change a bot’s config; a container picks it up at its next recreate (a disk limit applies at once)')
    .option('--image <ref>', 'container image')
    .option('--cdi <devices>', 'CDI devices, comma separated; "" for none')
    .option('--network <mode>', 'bridge or none')
    .option('--disk-limit-mb <n|none>', 'MiB its data dir and writable layer may take together, or "none"', parseDiskLimit)
    .action(async (bot: string, o: { image?: string; cdi?: string; network?: 'bridge' | 'none'; diskLimitMb?: number | 'none' }) => {
      const g = global();
      print(
        await connect(g).updateBot(bot, {
          ...(o.image && { image: o.image }),
          ...(o.cdi !== undefined && { cdiDevices: o.cdi }),
          ...(o.network && { network: o.network }),
          ...(o.diskLimitMb !== undefined && { diskLimitMb: o.diskLimitMb === 'none' ? null : o.diskLimitMb }),
        }),
        g.json,
      );
    });

  bots
    .command('delete <bot>')
    .description('delete a bot with its container, data and history')
    .action(async (bot: string) => {
      await connect(global()).deleteBot(bot);
      process.stdout.write(`deleted ${bot}\n`);
    });
}

/** `none` (no limit) or a whole number of MiB; the server checks the range. Not null: commander turns that into ''. */
function parseDiskLimit(value: string): number | 'none' {
  if (value === 'none') return value;
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError('a whole number of MiB, or "none"');
  return Number(value);
}
