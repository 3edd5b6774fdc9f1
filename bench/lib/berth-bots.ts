import { BerthApiError, type Bot, type Container, type OperationEventData } from '@berth/contract';
import { type BerthClient } from '@berth/sdk';
import type { Cleanup } from './cleanup.js';
import { sleep } from './timing.js';

/**
 * Creates a bot for a section: tracked for the final sweep and deleted by a cleanup step at the end;
 * `remove` runs that step now.
 */
export async function createTrackedBot(
  ctx: { berth: BerthClient; cleanup: Cleanup; trackBot(botId: string): void },
  name: string,
): Promise<{ bot: Bot; remove: () => Promise<void> }> {
  const bot = await ctx.berth.createBot({ name });
  ctx.trackBot(bot.id);
  const remove = ctx.cleanup.add(`Berth bot ${name}`, () => deleteBotPatiently(ctx.berth, bot.id));
  return { bot, remove };
}

/** Creates the bot's container and answers it as the `done` event reports it. */
export async function createRunning(berth: BerthClient, botId: string): Promise<Container> {
  for await (const ev of berth.createContainerStream(botId)) {
    if (ev.event === 'error') {
      const e = ev.data as OperationEventData<'error'>;
      throw new Error(`create failed: ${e.code}: ${e.message}`);
    }
    if (ev.event === 'done') {
      const { container } = ev.data as OperationEventData<'done'>;
      if (!container) throw new Error('create ended with no container');
      return container;
    }
  }
  throw new Error('create stream ended without done');
}

/**
 * Deletes a bot, waiting out an operation still running on it (an interrupted round) for up to
 * `waitMs`; a bot already gone is fine.
 */
export async function deleteBotPatiently(berth: BerthClient, botId: string, options: { waitMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 20_000);
  for (;;) {
    try {
      await berth.deleteBot(botId);
      return;
    } catch (err) {
      if (err instanceof BerthApiError && err.code === 'bot_not_found') return;
      const busy = err instanceof BerthApiError && err.code === 'operation_in_progress';
      if (!busy || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
