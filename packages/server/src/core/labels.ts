/**
 * Ownership: the labels and names that mark what Berth made in the engine. Start-up lists by these
 * labels, adopts what matches the database and reports (or removes, when it is its own leftover)
 * what does not.
 */
export const LABEL = {
  managed: 'berth.managed',
  bot: 'berth.bot',
  version: 'berth.version',
  cdi: 'berth.cdi',
  /** Which Berth (its database) made it: start-up cleans up only its own leftovers. */
  instance: 'berth.instance',
} as const;

/** Marks a snapshot image, so nothing prunes it unseen. */
export const SNAPSHOT_LABEL = 'berth.snapshot';

/** The bot's container. */
export function containerName(botId: string): string {
  return `berth-${botId}`;
}

/** The bot's own network, which its containers (and a replacement beside them) join. */
export function botNetworkName(botId: string): string {
  return `berth-${botId}`;
}
