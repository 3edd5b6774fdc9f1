import type { Bot, CreateBotBody, PatchBotBody } from '@berth/contract';

/** A bot's config as the form edits it: text, as typed. */
export interface ConfigDraft {
  image: string;
  cdi: string;
  cpus: string;
  memoryMb: string;
  pidsLimit: string;
  network: 'bridge' | 'none';
  env: string;
  diskLimitMb: string;
}

export const EMPTY_DRAFT: ConfigDraft = { image: '', cdi: '', cpus: '', memoryMb: '', pidsLimit: '', network: 'bridge', env: '', diskLimitMb: '' };

export function draftFromBot(bot: Bot): ConfigDraft {
  return {
    image: bot.image,
    cdi: bot.cdiDevices.join('\n'),
    cpus: bot.resources.cpus === null ? '' : String(bot.resources.cpus),
    memoryMb: bot.resources.memoryMb === null ? '' : String(bot.resources.memoryMb),
    pidsLimit: String(bot.resources.pidsLimit),
    network: bot.network,
    env: Object.entries(bot.env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    diskLimitMb: bot.diskLimitMb === null ? '' : String(bot.diskLimitMb),
  };
}

/** The rule the server holds bot names to, for the name field's `pattern`. */
export const BOT_NAME_PATTERN = '[a-z0-9][a-z0-9\\-]*';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `KEY=value` per line; blank lines and `#` comments are skipped. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`"${line}" is not KEY=value`);
    const key = line.slice(0, eq).trim();
    if (!ENV_NAME.test(key)) throw new Error(`"${key}" is not a variable name: use letters, digits and _, not starting with a digit`);
    env[key] = line.slice(eq + 1);
  }
  return env;
}

/**
 * A number as a person writes it in a form: digits with an optional decimal point. Empty is null (no
 * value); `abc`, `0x10` or `1e3` are refused rather than read as something else or as nothing.
 */
export function parseNumberField(text: string, label: string, options: { integer?: boolean } = {}): number | null {
  const t = text.trim();
  if (!t) return null;
  if (options.integer ? !/^\d+$/.test(t) : !/^(\d+\.?\d*|\.\d+)$/.test(t)) {
    throw new Error(options.integer ? `${label} must be a whole number, such as 512` : `${label} must be a number, such as 1.5`);
  }
  return Number(t);
}

const cpusOf = (d: ConfigDraft) => parseNumberField(d.cpus, 'CPUs');
const memoryOf = (d: ConfigDraft) => parseNumberField(d.memoryMb, 'Memory', { integer: true });
const pidsOf = (d: ConfigDraft) => parseNumberField(d.pidsLimit, 'Process limit', { integer: true });
const diskOf = (d: ConfigDraft) => parseNumberField(d.diskLimitMb, 'Disk limit', { integer: true });

/** The body for `POST /bots`: only what was filled in, so the server's defaults apply to the rest. */
export function createBody(name: string, d: ConfigDraft): CreateBotBody {
  const body: CreateBotBody = { name: name.trim(), network: d.network };
  if (d.image.trim()) body.image = d.image.trim();
  if (d.cdi.trim()) body.cdiDevices = d.cdi;
  const resources: NonNullable<CreateBotBody['resources']> = {};
  const cpus = cpusOf(d);
  const memoryMb = memoryOf(d);
  const pidsLimit = pidsOf(d);
  if (cpus !== null) resources.cpus = cpus;
  if (memoryMb !== null) resources.memoryMb = memoryMb;
  if (pidsLimit !== null) resources.pidsLimit = pidsLimit;
  if (Object.keys(resources).length > 0) body.resources = resources;
  const env = parseEnv(d.env);
  if (Object.keys(env).length > 0) body.env = env;
  // Empty leaves the server's default limit (BERTH_DEFAULT_DISK_LIMIT_MB) in place.
  const diskLimitMb = diskOf(d);
  if (diskLimitMb !== null) body.diskLimitMb = diskLimitMb;
  return body;
}

/** The body for `PATCH /bots/{bot}`: every field, so that cleared ones are cleared. */
export function patchBody(d: ConfigDraft): PatchBotBody {
  const resources: NonNullable<PatchBotBody['resources']> = { cpus: cpusOf(d), memoryMb: memoryOf(d) };
  const pidsLimit = pidsOf(d);
  // The process limit has no "none": empty keeps the bot's current one.
  if (pidsLimit !== null) resources.pidsLimit = pidsLimit;
  const body: PatchBotBody = { cdiDevices: d.cdi, network: d.network, env: parseEnv(d.env), resources, diskLimitMb: diskOf(d) };
  if (d.image.trim()) body.image = d.image.trim();
  return body;
}

/** A disk limit applies at once; anything else the container was made with needs a recreate. */
export function needsRecreate(before: Bot, after: Bot): boolean {
  const made = (b: Bot) => JSON.stringify([b.image, b.cdiDevices, b.resources, b.network, b.env]);
  return made(before) !== made(after);
}
