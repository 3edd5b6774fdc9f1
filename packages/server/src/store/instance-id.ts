import { randomBytes } from 'node:crypto';
import type { Store } from './store.js';

const KEY = 'instance_id';

/**
 * This Berth's identity, made once and kept in its database: the `berth.instance` label on what it
 * creates in the engine, so that at start-up it removes only its own leftovers, never those of
 * another Berth (another BERTH_HOME) on the same engine.
 */
export async function ensureInstanceId(store: Store): Promise<string> {
  const found = await store.db.selectFrom('meta').select('value').where('key', '=', KEY).executeTakeFirst();
  if (found) return found.value;
  const id = randomBytes(8).toString('hex');
  await store.db.insertInto('meta').values({ key: KEY, value: id }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return (await store.db.selectFrom('meta').select('value').where('key', '=', KEY).executeTakeFirstOrThrow()).value;
}
