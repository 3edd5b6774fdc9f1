import { Command, Option } from 'commander';
import { decodeData, MAX_EXEC_STDIN_CHARS, TASK_OUTPUT_MAX_LENGTH, TASK_WAIT_MAX_SECONDS, type ExecBody, type Task } from '@berth/contract';
import { connect, print } from '../connection.js';
import { CliError, EXIT } from '../failure.js';
import { addGlobalOptions, mergeGlobals, type GlobalOptions } from '../global-options.js';
import { cliHint } from '../hints.js';
import { LIMITS, numberOption } from '../numbers.js';

/** Most stdin `berth exec -i` sends: the API takes it base64-encoded in the JSON body, 4 characters per 3 bytes. */
const MAX_STDIN = Math.floor(MAX_EXEC_STDIN_CHARS / 4) * 3;

export interface ExecOptions extends Partial<GlobalOptions> {
  sh?: string;
  cwd?: string;
  env: string[];
  timeout?: number;
  stdin?: boolean;
  background?: boolean;
  tty?: boolean;
}

function addExecOptions(cmd: Command): Command {
  return cmd
    .option('--sh <script>', 'a shell string, run by /bin/sh -c')
    .option('-w, --cwd <dir>', 'working directory (relative ones start at the data dir)')
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--timeout <seconds>', 'kill the command’s whole process group after this long', numberOption(LIMITS.execTimeout))
    .option('-i, --stdin', 'send this process’s standard input to the command')
    .option('-d, --background', 'start it as a background task and print the task')
    .addOption(new Option('-t, --tty', 'not supported: the interactive terminal is berth shell').hideHelp());
}

/**
 * Splits what follows the bot name, Docker's way: the command starts at the first argument that is not
 * one of exec's own options, and everything from there is the command's (`ls -la` needs no `--`).
 * Exec's options right after the bot name are still read, so `berth exec bot --sh '…'` keeps working;
 * `--` ends them explicitly. Throws commander's error for an unknown option before the command.
 */
export function splitExecArgs(rest: string[]): { options: ExecOptions; command: string[] } {
  const sub = addGlobalOptions(addExecOptions(new Command('exec')), { hidden: true })
    .argument('[command...]')
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  sub.parse(rest, { from: 'user' });
  return { options: sub.opts<ExecOptions>(), command: sub.args };
}

/** The options given before and after the bot name, as one. */
export function mergeExecOptions(before: ExecOptions, after: ExecOptions): ExecOptions {
  return { ...before, ...after, ...mergeGlobals(before, after), env: [...before.env, ...after.env] };
}

/** `berth exec` and `berth tasks …`: commands in the bot's container. */
export function registerExec(program: Command, global: () => GlobalOptions): void {
  addExecOptions(program.command('exec'))
    .argument('<bot>')
    .argument('[command...]', 'the command and its arguments (no -- needed)')
    .passThroughOptions()
    .description(
      'run a command in the bot’s container: berth exec alpha ls -la, or --sh "echo $HOME"; exits with its exit code (126: cannot be run, 127: not found, 125: Berth failed)',
    )
    .action(async (bot: string, rest: string[], before: ExecOptions) => {
      const split = splitExecArgs(rest);
      const o = mergeExecOptions(before, split.options);
      // docker exec -it habits: the API's exec has no terminal; the terminal is its own verb.
      if (o.tty) throw new CliError(`berth exec runs without a terminal; for an interactive shell run \`berth shell ${bot}\``);
      const g = mergeGlobals(global(), o);
      const client = connect(g);
      const body = await execBody(split.command, o);
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
      try {
        for await (const ev of client.execStream(bot, body, { signal: abort.signal })) {
          if (ev.event === 'exit') {
            if (ev.data.timedOut) process.stderr.write(`berth: timed out; the command’s process group was killed\n`);
            // 126 (found but cannot be run) and 127 (not found) come from the container's runtime, as in Docker.
            process.exitCode = ev.data.exitCode;
          } else if (ev.event === 'error') {
            process.stderr.write(`berth: ${cliHint(ev.data, { bot })} (${ev.data.code})\n`);
            process.exitCode = EXIT.berth;
          } else {
            (ev.event === 'stdout' ? process.stdout : process.stderr).write(decodeData(ev.data.data, ev.data.encoding));
          }
        }
      } catch (err) {
        // Ctrl-C: the command was killed with the request; exit as a shell does after SIGINT.
        if (!abort.signal.aborted) throw err;
        process.exitCode = 130;
      }
    });

  const tasks = program.command('tasks').description('a bot’s background tasks (start one with berth exec -d)');
  tasks
    .command('list <bot>')
    .alias('ls')
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
    .option('--tail <bytes>', `bytes of each stream to show (at most ${LIMITS.tailBytes.max})`, numberOption(LIMITS.tailBytes))
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
  tasks
    .command('wait <bot> <task>')
    .description('wait for a task to end and print its exit code, as docker wait; exits 124 if --timeout runs out first')
    .option('--timeout <seconds>', 'give up after this long (default: wait until it ends)', numberOption(LIMITS.waitTimeout))
    .action(async (bot: string, task: string, o: { timeout?: number }) => {
      const g = global();
      const client = connect(g);
      // Ctrl-C ends the wait, not the task.
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const deadline = o.timeout === undefined ? Infinity : Date.now() + o.timeout * 1000;
      let t: Task;
      try {
        // The server waits at most TASK_WAIT_MAX_SECONDS per call: ask again until the end or the deadline.
        do {
          const seconds = Math.min(TASK_WAIT_MAX_SECONDS, Math.max(0.001, (deadline - Date.now()) / 1000));
          t = await client.waitTask(bot, task, { timeoutSeconds: seconds, tail: 0, signal: abort.signal });
        } while (t.status === 'running' && Date.now() < deadline);
      } catch (err) {
        if (!abort.signal.aborted) throw err;
        process.exitCode = 130;
        return;
      }
      if (g.json) print(t, true);
      else if (t.exitCode !== null) {
        process.stdout.write(`${t.exitCode}\n`);
      }
      if (t.status === 'running') {
        process.stderr.write(`berth: task ${t.id} is still running after ${o.timeout} s\n`);
        process.exitCode = EXIT.stillRunning;
      } else if (t.exitCode === null) {
        process.stderr.write(`berth: task ${t.id} was lost (its container stopped or was replaced): it has no exit code\n`);
        process.exitCode = EXIT.berth;
      }
    });
  tasks
    .command('output <bot> <task>')
    .description('print a task’s output as it is so far (stdout, or --stderr), raw bytes')
    .option('--stderr', 'print its stderr instead')
    .option('--offset <bytes>', 'start here', numberOption(LIMITS.bytes))
    .option('--length <bytes>', 'at most this many bytes', numberOption(LIMITS.outputLength))
    .action(async (bot: string, task: string, o: { stderr?: boolean; offset?: number; length?: number }) => {
      const client = connect(global());
      const stream = o.stderr ? 'stderr' : 'stdout';
      let offset = o.offset ?? 0;
      let left = o.length ?? Infinity;
      // The server answers at most TASK_OUTPUT_MAX_LENGTH bytes a call: read on until the stream's end so far.
      while (left > 0) {
        const part = await client.readTaskOutput(bot, task, { stream, offset, length: Math.min(left, TASK_OUTPUT_MAX_LENGTH) });
        if (part.data.length > 0 && !process.stdout.write(part.data)) await new Promise((r) => process.stdout.once('drain', r));
        offset += part.data.length;
        left -= part.data.length;
        if (part.data.length === 0 || offset >= part.size) break;
      }
    });
}

async function execBody(command: string[], o: ExecOptions): Promise<Omit<ExecBody, 'background'>> {
  if (o.sh !== undefined && command.length > 0) throw new CliError('give either --sh "script" or a command, not both');
  if (o.sh === undefined && command.length === 0) throw new CliError('no command: berth exec <bot> cmd args…, or --sh "script"');
  const env: Record<string, string> = {};
  for (const kv of o.env) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new CliError(`--env takes KEY=VALUE (got ${kv})`);
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
      if (size > MAX_STDIN) throw new CliError(`standard input is larger than ${MAX_STDIN} bytes; copy it in with berth cp - <bot>:<path> instead`);
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
