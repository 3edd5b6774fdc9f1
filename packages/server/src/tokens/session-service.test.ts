import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { openStore, type Store } from '../store/store.js';
import { LiveConnections, sessionKey } from '../core/live-connections.js';
import { SESSION_IDLE_SECONDS, SESSION_MAX_AGE_SECONDS, SessionService } from './session-service.js';

const HOUR = 3_600_000;

/** Web sessions with a clock the test moves: idle and absolute expiry, logout, the streams they end. */
describe('SessionService', () => {
  let store: Store;
  let clock: number;
  let connections: LiveConnections;
  const services: SessionService[] = [];

  beforeEach(async () => {
    store = await openStore({ home: '', databaseUrl: 'sqlite::memory:' });
    clock = Date.parse('2026-01-01T00:00:00Z');
    connections = new LiveConnections();
  });
  afterEach(async () => {
    for (const s of services.splice(0)) s.stop();
    await store.close();
  });

  const service = (adminToken = 'admin-token-one-0123456789') => {
    const s = new SessionService({ store, logger: createLogger({ level: 'silent' }), adminToken, instanceId: 'test', connections, now: () => clock });
    services.push(s);
    return s;
  };

  it('defaults to 12 hours idle and 7 days in all', () => {
    expect(SESSION_IDLE_SECONDS).toBe(12 * 60 * 60);
    expect(SESSION_MAX_AGE_SECONDS).toBe(7 * 24 * 60 * 60);
  });

  it('ends a session left idle, and keeps one in use until its maximum age', async () => {
    const s = service();
    const idle = await s.create();
    const busy = await s.create();
    for (let h = 1; h <= 13; h++) {
      clock += HOUR;
      expect(await s.authenticate(busy.id)).not.toBeNull();
    }
    expect(await s.authenticate(idle.id)).toBeNull();
    // Used every hour, it still ends after 7 days.
    for (let h = 13; h < 7 * 24 - 1; h++) {
      clock += HOUR;
      expect(await s.authenticate(busy.id)).not.toBeNull();
    }
    clock += 2 * HOUR;
    expect(await s.authenticate(busy.id)).toBeNull();
    expect(await store.db.selectFrom('web_sessions').selectAll().execute()).toEqual([]);
  });

  it('counts an open stream as use, and ends the streams of a session that ends', async () => {
    const s = service();
    const watched = await s.create();
    const loggedOut = await s.create();
    let ended = 0;
    connections.add([sessionKey(watched.session.hash)], () => ended++);
    connections.add([sessionKey(loggedOut.session.hash)], () => ended++);
    await s.end(loggedOut.session.hash);
    expect(ended).toBe(1);
    expect(await s.authenticate(loggedOut.id)).toBeNull();

    for (let h = 0; h < 24; h++) {
      clock += HOUR;
      await s.sweep();
    }
    expect(ended).toBe(1);
    expect(await s.authenticate(watched.id)).not.toBeNull();
    clock += 7 * 24 * HOUR;
    await s.sweep();
    expect(ended).toBe(2);
    expect(connections.has(sessionKey(watched.session.hash))).toBe(false);
  });

  it('refuses and removes sessions opened with another admin token', async () => {
    const before = await service('admin-token-one-0123456789').create();
    const after = service('admin-token-two-0123456789');
    await after.start();
    expect(await after.authenticate(before.id)).toBeNull();
    expect(await store.db.selectFrom('web_sessions').selectAll().execute()).toEqual([]);
  });

  it('looks up only well-formed ids', async () => {
    const s = service();
    const { id } = await s.create();
    expect(await s.authenticate(id)).not.toBeNull();
    for (const bad of ['', `${id}x`, id.slice(1), `${id.slice(0, -1)}=`, 'admin-token-one-0123456789']) expect(await s.authenticate(bad)).toBeNull();
  });
});
