import { randomBytes } from 'node:crypto';
import type { Store } from './store.js';

const KEY = 'instance_id';

/**
 * This Berth's identity, made once and kept in its database: the `berth.instance` label on what it
 * creates in the engine, so that at start-up it removes only its own leftovers, never those of
 * another Berth (another BERTH_HOME) on the same engine. `created` on the first start of a database
 * (a new one, or one from before instance ids).
 */
export async function ensureInstanceId(store: Store): Promise<{ id: string; created: boolean }> {
  const found = await store.db.selectFrom('meta').select('value').where('key', '=', KEY).executeTakeFirst();
  if (found) return { id: found.value, created: false };
  const id = randomBytes(8).toString('hex');
  await store.db.insertInto('meta').values({ key: KEY, value: id }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return { id: (await store.db.selectFrom('meta').select('value').where('key', '=', KEY).executeTakeFirstOrThrow()).value, created: true };
}
