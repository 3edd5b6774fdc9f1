import { BerthApiError, type BerthClient } from '@berth/contract';
import { sleep } from './timing.js';

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
