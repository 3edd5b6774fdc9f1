#!/usr/bin/env node
import { Command } from 'commander';
import { BerthApiError } from '@berth/contract';
import { registerBots } from './commands/bots.js';
import { registerContainer } from './commands/container.js';
import { registerData } from './commands/data.js';
import { registerExec } from './commands/exec.js';
import { registerSnapshots } from './commands/snapshots.js';
import { registerSystem } from './commands/system.js';
import { registerTokens } from './commands/tokens.js';
import type { GlobalOptions } from './global-options.js';

const program = new Command('berth')
  .description('Berth: every bot its own isolated, persistent container')
  .option('--url <url>', 'server URL (BERTH_URL, default http://127.0.0.1:7070)')
  .option('--token <token>', 'API token (BERTH_TOKEN, default BERTH_HOME/admin-token)')
  .option('--json', 'print JSON', false);

const global = () => program.opts<GlobalOptions>();
registerBots(program, global);
registerContainer(program, global);
registerData(program, global);
registerExec(program, global);
registerSnapshots(program, global);
registerSystem(program, global);
registerTokens(program, global);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof BerthApiError) process.stderr.write(`berth: ${err.message} (${err.code})\n`);
  else process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
