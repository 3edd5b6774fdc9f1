import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { decodeData, type ExecBody, type Task } from '@berth/contract';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

/** Most stdin `berth exec --stdin` sends (the API takes it in the JSON body). */
const MAX_STDIN = 16 * 1024 * 1024;

interface ExecOptions {
  sh?: string;
  cwd?: string;
  env: string[];
  timeout?: number;
  stdin?: boolean;
  background?: boolean;
}

/** `berth exec`, `berth tasks …` and `berth files …`: the bot's tools. */
export function registerExec(program: Command, global: () => GlobalOptions): void {
  program
    .command('exec <bot> [command...]')
    .description('run a command in the bot’s container: berth exec alpha -- ls -la, or --sh "echo $HOME"; exits with its exit code')
    .option('--sh <script>', 'a shell string, run by /bin/sh -c')
    .option('-w, --cwd <dir>', 'working directory (relative ones start at the data dir)')
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--timeout <seconds>', 'kill the command’s whole process group after this long', Number)
    .option('-i, --stdin', 'send this process’s standard input to the command')
    .option('-d, --background', 'start it as a background task and print the task')
    .action(async (bot: string, command: string[], o: ExecOptions) => {
      const g = global();
      const client = connect(g);
      const body = await execBody(command, o);
      if (o.background) {
        print(await client.startTask(bot, body), g.json);
        return;
      }
      if (g.json) {
        const r = await client.exec(bot, body);
        print(r, true);
        process.exitCode = r.exitCode;
        return;
      }
      // Ctrl-C ends the request, which kills the command in the container.
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      for await (const ev of client.execStream(bot, body, { signal: abort.signal })) {
        if (ev.event === 'exit') {
          if (ev.data.timedOut) process.stderr.write(`berth: timed out; the command’s process group was killed\n`);
          process.exitCode = ev.data.exitCode;
        } else if (ev.event === 'error') {
          process.stderr.write(`berth: ${ev.data.message} (${ev.data.code})\n`);
          process.exitCode = 1;
        } else {
          (ev.event === 'stdout' ? process.stdout : process.stderr).write(decodeData(ev.data.data, ev.data.encoding));
        }
      }
    });

  const tasks = program.command('tasks').description('a bot’s background tasks');
  tasks
    .command('list <bot>')
    .description('the bot’s tasks, newest first')
    .action(async (bot: string) => {
      const g = global();
      const list = await connect(g).listTasks(bot);
      if (g.json) return print(list, true);
      for (const t of list) process.stdout.write(`${t.id}  ${t.status.padEnd(7)}  ${String(t.exitCode ?? '-').padStart(3)}  ${t.startedAt}  ${commandText(t)}\n`);
    });
  tasks
    .command('get <bot> <task>')
    .description('a task, with the end of its output')
    .option('--tail <bytes>', 'bytes of each stream to show', Number)
    .action(async (bot: string, task: string, o: { tail?: number }) => {
      const g = global();
      const t = await connect(g).getTask(bot, task, o.tail === undefined ? {} : { tail: o.tail });
      if (g.json) return print(t, true);
      const { output, ...rest } = t;
      print({ ...rest, command: commandText(t) }, false);
      if (output) {
        process.stdout.write('--- stdout (tail) ---\n');
        process.stdout.write(decodeData(output.stdout, output.stdoutEncoding));
        process.stdout.write('\n--- stderr (tail) ---\n');
        process.stdout.write(decodeData(output.stderr, output.stderrEncoding));
        process.stdout.write('\n');
      }
    });
  tasks
    .command('kill <bot> <task>')
    .description('kill a task’s whole process group')
    .action(async (bot: string, task: string) => print(await connect(global()).killTask(bot, task), global().json));

  const files = program.command('files').description('files in a bot’s container (only the data dir while it is stopped)');
  files
    .command('ls <bot> [path]')
    .description('list a directory (default: the data dir)')
    .action(async (bot: string, path: string | undefined) => {
      const g = global();
      const listing = await connect(g).listFiles(bot, path ?? '.');
      if (g.json) return print(listing, true);
      for (const e of listing.entries) {
        const link = e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : '';
        process.stdout.write(`${e.mode} ${e.type.padEnd(9)} ${String(e.size).padStart(10)} ${e.mtime}  ${e.name}${link}\n`);
      }
      if (listing.truncated) process.stderr.write('berth: the listing was cut short\n');
    });
  files
    .command('get <bot> <path>')
    .description('print a file (or write it to --out), streamed')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .option('--offset <bytes>', 'start here', Number)
    .option('--length <bytes>', 'this many bytes', Number)
    .action(async (bot: string, path: string, o: { out?: string; offset?: number; length?: number }) => {
      const res = await connect(global()).readFileResponse(bot, path, { ...(o.offset !== undefined && { offset: o.offset }), ...(o.length !== undefined && { length: o.length }) });
      if (res.headers.get('x-berth-truncated') === 'true') process.stderr.write(`berth: only the first part was sent (the server's read limit); ask for the rest with --offset\n`);
      if (!res.body) return;
      const src = Readable.fromWeb(res.body as NodeWebReadableStream<Uint8Array>);
      await pipeline(src, o.out ? fs.createWriteStream(o.out) : process.stdout);
    });
  files
    .command('put <bot> <path> [file]')
    .description('write a file from a local file or standard input (-), atomically; parents are made')
    .option('--mode <octal>', 'permission bits, e.g. 0644')
    .action(async (bot: string, path: string, file: string | undefined, o: { mode?: string }) => {
      const src = !file || file === '-' ? process.stdin : fs.createReadStream(file);
      const body = Readable.toWeb(src) as unknown as ReadableStream<Uint8Array>;
      print(await connect(global()).writeFile(bot, path, body, o.mode === undefined ? {} : { mode: o.mode }), global().json);
    });
  files
    .command('rm <bot> <path>')
    .description('remove a file or link; a non-empty directory needs -r')
    .option('-r, --recursive', 'remove a directory with its contents')
    .action(async (bot: string, path: string, o: { recursive?: boolean }) => {
      await connect(global()).deleteFile(bot, path, { recursive: o.recursive === true });
    });
  files
    .command('edit <bot> <path>')
    .description('replace text that occurs exactly once')
    .requiredOption('--old <text>', 'the exact text to replace')
    .requiredOption('--new <text>', 'what replaces it')
    .action(async (bot: string, path: string, o: { old: string; new: string }) => print(await connect(global()).editFile(bot, { path, oldText: o.old, newText: o.new }), global().json));
  files
    .command('mv <bot> <from> <to>')
    .description('move or rename')
    .option('-f, --overwrite', 'replace an existing file at <to>')
    .action(async (bot: string, from: string, to: string, o: { overwrite?: boolean }) => print(await connect(global()).moveFile(bot, { from, to, overwrite: o.overwrite === true }), global().json));
}

async function execBody(command: string[], o: ExecOptions): Promise<Omit<ExecBody, 'background'>> {
  if (o.sh !== undefined && command.length > 0) throw new Error('give either --sh "script" or a command after --, not both');
  if (o.sh === undefined && command.length === 0) throw new Error('no command: berth exec <bot> -- cmd args…, or --sh "script"');
  const env: Record<string, string> = {};
  for (const kv of o.env) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--env takes KEY=VALUE (got ${kv})`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const body: Omit<ExecBody, 'background'> = { command: o.sh ?? command };
  if (o.cwd) body.cwd = o.cwd;
  if (Object.keys(env).length > 0) body.env = env;
  if (o.timeout !== undefined) body.timeoutSeconds = o.timeout;
  if (o.stdin) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_STDIN) throw new Error(`standard input is larger than ${MAX_STDIN} bytes; write it to a file with berth files put instead`);
      chunks.push(chunk as Buffer);
    }
    body.stdin = Buffer.concat(chunks).toString('base64');
    body.stdinEncoding = 'base64';
  }
  return body;
}

function commandText(t: Task): string {
  return typeof t.command === 'string' ? t.command : t.command.join(' ');
}
