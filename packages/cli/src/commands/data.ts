import fs from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { connect, print } from '../connection.js';
import { CliError } from '../failure.js';
import type { GlobalOptions } from '../global-options.js';

export function registerData(program: Command, global: () => GlobalOptions): void {
  const data = program.command('data').description('a bot’s data dir: export, import, reset');

  data
    .command('export <bot>')
    .description('write the data dir as a tar.gz to stdout (or --output), streamed')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (bot: string, o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new CliError('refusing to write an archive to a terminal: redirect stdout (> file) or pass --output');
      const res = await connect(global()).exportData(bot);
      if (!res.body) throw new CliError('the server sent no archive');
      const out: Writable = o.output ? fs.createWriteStream(o.output) : process.stdout;
      await pipeline(Readable.fromWeb(res.body as unknown as NodeWebReadableStream<Uint8Array>), out);
    });

  data
    .command('import <bot> <file>')
    .description('import a tar or tar.gz (- for stdin) into the data dir, all or nothing; merges unless --replace')
    .option('--replace', 'leave only the archive’s entries in the data dir')
    .action(async (bot: string, file: string, o: { replace?: boolean }) => {
      // Large reads: the upload's cost is per chunk.
      const input = file === '-' ? process.stdin : fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
      const body = Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>;
      const result = await connect(global()).importData(bot, body, { mode: o.replace ? 'replace' : 'merge' });
      if (global().json) print(result, true);
      else process.stdout.write(`imported ${result.files} files, ${result.bytes} bytes into ${bot}'s data dir${o.replace ? ' (replaced)' : ''}\n`);
    });

  data
    .command('reset <bot>')
    .description('empty the data dir; the container keeps running')
    .action(async (bot: string) => {
      await connect(global()).resetData(bot);
      if (global().json) print({}, true);
      else process.stdout.write(`the data dir of ${bot} is empty\n`);
    });
}
