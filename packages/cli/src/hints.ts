/** What the CLI knows when it words an API error: the bot it was working on, if any. */
export interface HintContext {
  bot?: string | undefined;
}

interface ApiErrorLike {
  code: string;
  message: string;
  details?: unknown;
}

/** API field names as the CLI's flags (validation messages start with the field's path). */
const FIELD_FLAGS: Record<string, string> = {
  'resources.cpus': '--cpus',
  'resources.memoryMb': '--memory-mb',
  'resources.pidsLimit': '--pids-limit',
  diskLimitMb: '--disk-limit-mb',
  cdiDevices: '--cdi',
  image: '--image',
  network: '--network',
  timeoutSeconds: '--timeout',
  cwd: '--cwd',
  env: '--env',
  keepCurrent: '--no-keep-current',
  recreate: '--recreate',
  purgeData: '--purge-data',
  mode: '--mode',
  offset: '--offset',
  length: '--length',
  tail: '--tail',
};

/**
 * The API's words said in the CLI's: the server's messages speak of request fields
 * (`recreate it`, `set overwrite`), the CLI's user knows commands and flags.
 */
export function cliHint(err: ApiErrorLike, ctx: HintContext): string {
  const bot = ctx.bot ?? '<bot>';
  let message = err.message;
  const rewrite = (pattern: RegExp, replacement: string) => {
    const next = message.replace(pattern, replacement);
    const changed = next !== message;
    message = next;
    return changed;
  };
  const rewrites: [RegExp, string][] = [
    [/recreate it to replace it/, `run \`berth recreate ${bot}\` to replace it`],
    [/set overwrite to replace it/, 'pass -f to replace it'],
    [/pass recursive=true to remove it with its contents/, 'pass -r to remove it with its contents'],
    [/use POST \/bots\/\{bot\}\/data\/reset to empty (?:it|the data dir)/, `run \`berth data reset ${bot}\` to empty the data dir`],
    [/\(or raise diskLimitMb\)/, `(or raise the limit with \`berth bots set ${bot} --disk-limit-mb <n>\`)`],
    [/raise diskLimitMb/, `raise the limit with \`berth bots set ${bot} --disk-limit-mb <n>\``],
    [/: start it first$/, `: start it with \`berth start ${bot}\``],
    [/: create one first$/, `: create it with \`berth container create ${bot}\``],
    [/: create one before taking a snapshot$/, `: create it with \`berth container create ${bot}\` first`],
    [/is a directory; use listFiles/, `is a directory; list it with \`berth files ls ${bot} <path>\``],
    [/is a directory; list it with list_files/, `is a directory; list it with \`berth files ls ${bot} <path>\``],
  ];
  const retryAfter = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (typeof retryAfter === 'number') rewrites.push([/retry later$/, `try again in ${Math.max(1, Math.ceil(retryAfter))} s`]);
  let rewritten = false;
  for (const [pattern, replacement] of rewrites) rewritten = rewrite(pattern, replacement) || rewritten;
  if (err.code === 'validation_failed') {
    // "resources.cpus: Number must be …; timeoutSeconds: …" → "--cpus: …; --timeout: …"
    message = message.replace(/(^|; )([A-Za-z][\w.]*): /g, (whole, lead: string, field: string) => (FIELD_FLAGS[field] ? `${lead}${FIELD_FLAGS[field]}: ` : whole));
  }
  if (!rewritten) {
    const extra = codeHint(err.code, bot, err.details);
    if (extra) message = `${message}; ${extra}`;
  }
  return message;
}

/** A next step for a code whose message names none, from the error's `details` where they help. */
function codeHint(code: string, bot: string, details: unknown): string | null {
  const d = (typeof details === 'object' && details !== null ? details : {}) as Record<string, unknown>;
  switch (code) {
    case 'operation_in_progress':
      return typeof d.operationId === 'string' ? `follow it with \`berth operations follow ${d.operationId}\`, then try again` : 'wait for it to end, then try again';
    case 'container_exists':
      return `run \`berth recreate ${bot}\` to replace it`;
    case 'container_not_found':
      return `create it with \`berth container create ${bot}\``;
    case 'container_not_running':
      return `start it with \`berth start ${bot}\``;
    case 'unauthorized':
      return 'check --token or BERTH_TOKEN (the admin token is in BERTH_HOME/admin-token)';
    default:
      return null;
  }
}
