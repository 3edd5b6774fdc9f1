import { Option, type Command } from 'commander';

export interface GlobalOptions {
  url?: string;
  token?: string;
  json: boolean;
}

/**
 * The options every command takes. They belong before the verb (`berth --json ls`); each verb also
 * accepts them (hidden from its help) so `berth ls --json` keeps working now that options are positional.
 */
export function addGlobalOptions(cmd: Command, { hidden }: { hidden: boolean }): Command {
  const opts = [
    new Option('--url <url>', 'server URL (BERTH_URL, default http://127.0.0.1:7070)'),
    new Option('--token <token>', 'API token (BERTH_TOKEN, default BERTH_HOME/admin-token)'),
    new Option('--json', 'print JSON'),
  ];
  for (const o of opts) cmd.addOption(hidden ? o.hideHelp() : o);
  return cmd;
}

/** The global options given to the program and to the verb, the verb's winning. */
export function mergeGlobals(...sources: Partial<GlobalOptions>[]): GlobalOptions {
  const merged: GlobalOptions = { json: false };
  for (const s of sources) {
    if (s.url !== undefined) merged.url = s.url;
    if (s.token !== undefined) merged.token = s.token;
    if (s.json) merged.json = true;
  }
  return merged;
}
