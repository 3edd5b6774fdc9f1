import { Command } from 'commander';
import { registerData } from './commands/data.js';
import { registerExec } from './commands/exec.js';
import { registerFiles } from './commands/files.js';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerSnapshots } from './commands/snapshots.js';
import { CLI_VERSION, registerSystem } from './commands/system.js';
import { registerTerminal } from './commands/terminal.js';
import { registerTokens } from './commands/tokens.js';
import { addGlobalOptions, mergeGlobals, type GlobalOptions } from './global-options.js';

/** What the running command is about, for error messages: its bot, when it has one. */
export interface RunContext {
  bot?: string;
  globals: GlobalOptions;
}

/**
 * The `berth` program, one file per capability under commands/. Options are positional, as in
 * Docker: the program's before the verb, a verb's before its arguments, so `berth exec bot ls -la`
 * hands `-la` to `ls`. Commander's failures throw (exitOverride) so the caller picks the exit code.
 */
export function buildProgram(ctx: RunContext = { globals: { json: false } }): Command {
  const program = new Command('berth')
    .description('Berth: every bot its own isolated, persistent container')
    .version(`berth ${CLI_VERSION}`, '-v, --version', 'print the CLI’s version (berth version: the server’s too)')
    .enablePositionalOptions()
    .exitOverride();
  addGlobalOptions(program, { hidden: false });

  const global = () => ctx.globals;
  registerLifecycle(program, global);
  registerSnapshots(program, global);
  registerData(program, global);
  registerExec(program, global);
  registerFiles(program, global);
  registerTerminal(program, global);
  registerTokens(program, global);
  registerSystem(program, global);

  for (const leaf of leaves(program)) addGlobalOptions(leaf, { hidden: true });
  program.hook('preAction', (_program, action) => {
    ctx.globals = mergeGlobals(program.opts<GlobalOptions>(), action.opts<Partial<GlobalOptions>>());
    const index = action.registeredArguments.findIndex((a) => a.name() === 'bot');
    const bot = index >= 0 ? action.processedArgs[index] : undefined;
    if (typeof bot === 'string') ctx.bot = bot;
  });
  return program;
}

function leaves(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leaves);
}
