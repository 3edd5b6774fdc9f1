import type { Bot, Network, Resources } from '@berth/contract';
import type { BotRow, VersionRow } from '../store/store.js';

/** The part of a bot's config that a container instance is built from. */
export interface BotConfig {
  image: string;
  cdiDevices: string[];
  resources: Resources;
  network: Network;
  env: Record<string, string>;
}

export function configOf(row: BotRow): BotConfig {
  return {
    image: row.image,
    cdiDevices: JSON.parse(row.cdi_devices) as string[],
    resources: JSON.parse(row.resources) as Resources,
    network: row.network as Network,
    env: JSON.parse(row.env) as Record<string, string>,
  };
}

/** The config a version's container was built from, as recorded with it. */
export function configOfVersion(row: VersionRow): BotConfig {
  return JSON.parse(row.config) as BotConfig;
}

/** Whether a container built from `applied` differs from what the bot now asks for. */
export function needsRecreate(applied: BotConfig, desired: BotConfig): boolean {
  return canonical(applied) !== canonical(desired);
}

function canonical(c: BotConfig): string {
  const env = Object.fromEntries(Object.entries(c.env).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify([c.image, [...c.cdiDevices].sort(), c.resources.cpus, c.resources.memoryMb, c.resources.pidsLimit, c.network, env]);
}

export function toBot(row: BotRow, status: Bot['status']): Bot {
  const c = configOf(row);
  return { id: row.id, name: row.name, ...c, diskLimitMb: row.disk_limit_mb, createdAt: row.created_at, updatedAt: row.updated_at, status, version: row.current_version };
}
