import type { Command } from 'commander';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

export function registerSystem(program: Command, global: () => GlobalOptions): void {
  program.command('info').description('server version, runtime and capabilities').action(async () => print(await connect(global()).info(), true));
  program
    .command('cdi-devices')
    .description('CDI devices the host’s specs declare')
    .action(async () => {
      const devices = await connect(global()).cdiDevices();
      if (global().json) return print(devices, true);
      for (const d of devices) process.stdout.write(`${d.name}\t${d.specFile}\n`);
    });
  program
    .command('events')
    .description('follow every bot and container change')
    .action(async () => {
      for await (const frame of connect(global()).changes()) process.stdout.write(`${frame.event} ${frame.data}\n`);
    });
}
