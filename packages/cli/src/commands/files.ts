import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { BerthApiError, connect, print, type BerthClient } from '../connection.js';
import { CliError } from '../failure.js';
import type { GlobalOptions } from '../global-options.js';
import { LIMITS, numberOption } from '../numbers.js';

/** `berth cp` and `berth files …`: files in the bot's container. */
export function registerFiles(program: Command, global: () => GlobalOptions): void {
  program
    .command('cp <source> <destination>')
    .description('copy a file between the bot’s container and here: berth cp alpha:/data/a.txt ./a.txt, berth cp ./a.txt alpha:notes/; - is stdin or stdout')
    .action(async (source: string, destination: string) => {
      const spec = parseCpArgs(source, destination);
      const client = connect(global());
      if (spec.direction === 'from-bot') await copyFromBot(client, spec.bot, spec.remote, spec.local);
      else await copyToBot(client, spec.local, spec.bot, spec.remote);
    });

  const files = program.command('files').description('files in a bot’s container (only the data dir while it is stopped)');
  files
    .command('ls <bot> [path]')
    .description('list a directory (default: the data dir)')
    .action(async (bot: string, dir: string | undefined) => {
      const g = global();
      const listing = await connect(g).listFiles(bot, dir ?? '.');
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
    .option('--offset <bytes>', 'start here', numberOption(LIMITS.bytes))
    .option('--length <bytes>', 'this many bytes', numberOption(LIMITS.bytes))
    .action(async (bot: string, file: string, o: { out?: string; offset?: number; length?: number }) => {
      const res = await connect(global()).readFileResponse(bot, file, { ...(o.offset !== undefined && { offset: o.offset }), ...(o.length !== undefined && { length: o.length }) });
      if (res.headers.get('x-berth-truncated') === 'true') process.stderr.write(`berth: only the first part was sent (the server's read limit); ask for the rest with --offset, or use berth cp\n`);
      if (!res.body) return;
      await pipeline(webToNode(res.body), o.out ? fs.createWriteStream(o.out) : process.stdout);
    });
  files
    .command('put <bot> <path> [file]')
    .description('write a file from a local file or standard input (-), atomically; parents are made')
    .option('--mode <octal>', 'permission bits, e.g. 0644')
    .action(async (bot: string, file: string, local: string | undefined, o: { mode?: string }) => {
      if (o.mode !== undefined && !/^[0-7]{3,4}$/.test(o.mode)) throw new CliError(`--mode takes octal permission bits such as 0644 (got ${o.mode})`);
      const src = !local || local === '-' ? process.stdin : fs.createReadStream(local);
      print(await connect(global()).writeFile(bot, file, nodeToWeb(src), o.mode === undefined ? {} : { mode: o.mode }), global().json);
    });
  files
    .command('rm <bot> <path>')
    .description('remove a file or link; a non-empty directory needs -r')
    .option('-r, --recursive', 'remove a directory with its contents')
    .action(async (bot: string, file: string, o: { recursive?: boolean }) => {
      await connect(global()).deleteFile(bot, file, { recursive: o.recursive === true });
    });
  files
    .command('edit <bot> <path>')
    .description('replace text that occurs exactly once')
    .requiredOption('--old <text>', 'the exact text to replace')
    .requiredOption('--new <text>', 'what replaces it')
    .action(async (bot: string, file: string, o: { old: string; new: string }) => print(await connect(global()).editFile(bot, { path: file, oldText: o.old, newText: o.new }), global().json));
  files
    .command('mv <bot> <from> <to>')
    .description('move or rename')
    .option('-f, --overwrite', 'replace an existing file at <to>')
    .action(async (bot: string, from: string, to: string, o: { overwrite?: boolean }) => print(await connect(global()).moveFile(bot, { from, to, overwrite: o.overwrite === true }), global().json));
  files
    .command('mkdir <bot> <path>')
    .description('make a directory with any missing parents (one that exists is fine)')
    .action(async (bot: string, dir: string) => print(await connect(global()).makeDirectory(bot, dir), global().json));
  files
    .command('glob <bot> <pattern>')
    .description('find paths matching a pattern such as "**/*.ts" (quote it), one per line, sorted')
    .option('-p, --path <dir>', 'the directory to search (default: the data dir)')
    .option('--limit <n>', `most paths to show (default 200, at most ${LIMITS.globLimit.max})`, numberOption(LIMITS.globLimit))
    .action(async (bot: string, pattern: string, o: { path?: string; limit?: number }) => {
      const g = global();
      const found = await connect(g).globFiles(bot, pattern, { ...(o.path !== undefined && { path: o.path }), ...(o.limit !== undefined && { limit: o.limit }) });
      if (g.json) return print(found, true);
      for (const m of found.matches) process.stdout.write(`${m}\n`);
      if (found.truncated) process.stderr.write('berth: more paths match than were shown; narrow the pattern or raise --limit\n');
    });
}

export type CpSpec = { direction: 'from-bot' | 'to-bot'; bot: string; remote: string; local: string };

/** `bot:path` (a bot name or id before the first colon, no slash before it), or null for a local path. */
export function parseRemote(arg: string): { bot: string; path: string } | null {
  // As in docker cp: a local path with a colon is written ./a:b or /abs/a:b.
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]*):(.*)$/s.exec(arg);
  if (!m) return null;
  return { bot: m[1] as string, path: m[2] as string };
}

/** Which way `berth cp <source> <destination>` copies; exactly one side names a bot. */
export function parseCpArgs(source: string, destination: string): CpSpec {
  const from = parseRemote(source);
  const to = parseRemote(destination);
  if (from && to) throw new CliError('copying between two bots is not supported: copy to here first');
  if (!from && !to) throw new CliError('one side must be <bot>:<path>, e.g. berth cp ./a.txt alpha:/data/a.txt (a local path with a colon is written ./a:b)');
  const remote = (from ?? to) as { bot: string; path: string };
  if (remote.path === '') throw new CliError(`give a path after "${remote.bot}:" (relative paths start at the data dir)`);
  return from ? { direction: 'from-bot', bot: from.bot, remote: from.path, local: destination } : { direction: 'to-bot', bot: remote.bot, remote: remote.path, local: source };
}

function directoryError(where: string): CliError {
  return new CliError(`${where} is a directory: berth cp copies one file at a time (the data dir as an archive: berth data export / berth data import)`);
}

/** Streams a file out of the container; a file past the server's read limit is read in parts. */
async function copyFromBot(client: BerthClient, bot: string, remote: string, local: string): Promise<void> {
  let target: string | null = null;
  if (local !== '-') {
    target = local;
    const st = fs.statSync(local, { throwIfNoEntry: false });
    if (st?.isDirectory() || local.endsWith('/')) target = path.join(local, path.posix.basename(remote));
  }
  const first = await client.readFileResponse(bot, remote).catch(async (err: unknown) => {
    if (err instanceof BerthApiError && err.code === 'validation_failed' && (await isRemoteDirectory(client, bot, remote))) throw directoryError(`${bot}:${remote}`);
    throw err;
  });
  const size = Number(first.headers.get('x-berth-file-size') ?? NaN);
  const mode = first.headers.get('x-berth-file-mode');
  // Written beside the target and renamed at the end, so a failed copy leaves no half file.
  // A name no one can guess, created only if nothing is there ('wx': O_CREAT|O_EXCL, which does not
  // follow a symlink planted at it), so the copy never writes through someone else's link.
  const partial = target === null ? null : path.join(path.dirname(target), `.${path.basename(target)}.berth-${process.pid}-${randomBytes(6).toString('hex')}`);
  const out: Writable = partial === null ? process.stdout : fs.createWriteStream(partial, { fd: fs.openSync(partial, 'wx', 0o600) });
  try {
    let copied = 0;
    let res: Response | null = first;
    while (res) {
      if (res.body) {
        for await (const chunk of webToNode(res.body)) {
          copied += (chunk as Buffer).length;
          if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
        }
      }
      const more: boolean = Number.isFinite(size) && copied < size && res.headers.get('x-berth-truncated') === 'true';
      res = more ? await client.readFileResponse(bot, remote, { offset: copied }) : null;
    }
    if (partial !== null && target !== null) {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      if (mode && /^[0-7]{3,4}$/.test(mode)) fs.chmodSync(partial, Number.parseInt(mode, 8) & 0o777);
      fs.renameSync(partial, target);
    }
  } catch (err) {
    if (partial !== null) {
      out.destroy();
      fs.rmSync(partial, { force: true });
    }
    throw err;
  }
}

/** Streams a local file (or stdin) into the container; it keeps the local file's permission bits. */
async function copyToBot(client: BerthClient, local: string, bot: string, remote: string): Promise<void> {
  let mode: string | undefined;
  let target = remote;
  if (local === '-') {
    if (remote.endsWith('/')) throw new CliError('copying standard input needs a file name, not a directory');
  } else {
    const st = fs.statSync(local, { throwIfNoEntry: false });
    if (!st) throw new CliError(`${local}: no such file`);
    if (st.isDirectory()) throw directoryError(local);
    mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    if (remote.endsWith('/') || (await isRemoteDirectory(client, bot, remote))) target = path.posix.join(remote, path.basename(local));
  }
  const src = local === '-' ? process.stdin : fs.createReadStream(local, { highWaterMark: 1024 * 1024 });
  await client.writeFile(bot, target, nodeToWeb(src), mode === undefined ? {} : { mode });
}

async function isRemoteDirectory(client: BerthClient, bot: string, remote: string): Promise<boolean> {
  try {
    await client.listFiles(bot, remote);
    return true;
  } catch (err) {
    if (err instanceof BerthApiError && (err.code === 'file_not_found' || err.code === 'validation_failed')) return false;
    throw err;
  }
}

function webToNode(body: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(body as unknown as NodeWebReadableStream<Uint8Array>);
}

function nodeToWeb(src: Readable): ReadableStream<Uint8Array> {
  return Readable.toWeb(src) as unknown as ReadableStream<Uint8Array>;
}
