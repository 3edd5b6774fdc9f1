import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { connect, print, serverUrl } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

/** The CLI's own version, from its package.json. */
export const CLI_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export function registerSystem(program: Command, global: () => GlobalOptions): void {
  program.command('info').description('server version, runtime and capabilities').action(async () => print(await connect(global()).info(), true));
  program
    .command('version')
    .description('the CLI’s version and the server’s (like docker version)')
    .action(async () => {
      const g = global();
      const info = await connect(g).info();
      if (g.json) return print({ cli: { version: CLI_VERSION }, server: { url: serverUrl(g), version: info.version, runtime: info.runtime.name, runtimeVersion: info.runtime.version } }, true);
      process.stdout.write(`cli     ${CLI_VERSION}\nserver  ${info.version} at ${serverUrl(g)}\nruntime ${info.runtime.name} ${info.runtime.version}\n`);
    });
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
