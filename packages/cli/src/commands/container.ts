import type { Command } from 'commander';
import type { OperationEvent } from '@berth/contract';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

export function registerContainer(program: Command, global: () => GlobalOptions): void {
  const container = program.command('container').description('a bot’s container: create, start, stop, delete, info');

  container
    .command('create <bot>')
    .description('create (or --recreate) the bot’s container, showing live progress')
    .option('--recreate', 'replace the existing container; the data dir is kept')
    .action(async (bot: string, o: { recreate?: boolean }) => {
      const g = global();
      let failed = false;
      for await (const ev of connect(g).createContainerStream(bot, { recreate: o.recreate === true })) {
        if (g.json) process.stdout.write(`${JSON.stringify(ev)}\n`);
        else renderEvent(ev);
        if (ev.event === 'error') failed = true;
      }
      if (failed) process.exitCode = 1;
    });

  container.command('info <bot>').description('the container as the engine reports it').action(async (bot: string) => print(await connect(global()).getContainer(bot), global().json));
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

function renderEvent(ev: OperationEvent): void {
  const d = ev.data as Record<string, unknown>;
  switch (ev.event) {
    case 'phase':
      process.stdout.write(`[${String(d.phase)}] ${String(d.message)}\n`);
      break;
    case 'pull': {
      const total = Number(d.total);
      const current = Number(d.current);
      process.stdout.write(`  pulling ${String(d.image)}: ${mb(current)} / ${mb(total)}${total ? ` (${Math.floor((100 * current) / total)}%)` : ''}\n`);
      break;
    }
    case 'log':
      process.stdout.write(`  ${String(d.message)}\n`);
      break;
    case 'done':
      process.stdout.write('done\n');
      break;
    case 'error':
      process.stderr.write(`error (${String(d.code)}): ${String(d.message)}\n`);
      break;
    default:
      break;
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
