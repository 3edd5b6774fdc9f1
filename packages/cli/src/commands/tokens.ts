import type { Command } from 'commander';
import { connect, print } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';

export function registerTokens(program: Command, global: () => GlobalOptions): void {
  const tokens = program.command('tokens').description('issue, list and revoke a bot’s tokens (they reach only that bot’s tools)');

  tokens
    .command('create <bot> <name>')
    .description('issue a token for a bot; its secret is printed once and never again')
    .action(async (bot: string, name: string) => {
      const g = global();
      const issued = await connect(g).createToken(bot, { name });
      if (g.json) return print(issued, true);
      process.stdout.write(`${issued.token}\n`);
      process.stderr.write(`token ${issued.id} (${issued.name}) for ${bot}: shown only now, keep it safe\n`);
    });

  tokens
    .command('list <bot>')
    .description('list a bot’s tokens (without their secrets)')
    .action(async (bot: string) => {
      const g = global();
      const list = await connect(g).listTokens(bot);
      if (g.json) return print(list, true);
      for (const t of list) process.stdout.write(`${t.id}  ${t.name.padEnd(24)} created ${t.createdAt}  last used ${t.lastUsedAt ?? 'never'}\n`);
    });

  tokens
    .command('revoke <bot> <tokenId>')
    .description('revoke a token; it stops working at once')
    .action(async (bot: string, tokenId: string) => {
      await connect(global()).revokeToken(bot, tokenId);
      process.stdout.write(`revoked ${tokenId}\n`);
    });
}
