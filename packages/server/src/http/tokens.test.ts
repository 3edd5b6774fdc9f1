import SqliteDatabase from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, BotToken, Container, IssuedBotToken } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

describe('bot tokens', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
  });
  afterEach(async () => {
    await t.close();
  });

  async function json<T>(res: Response | Promise<Response>, status: number): Promise<T> {
    const r = await res;
    const text = await r.text();
    const body = (text ? JSON.parse(text) : null) as T;
    expect({ status: r.status, body }).toMatchObject({ status });
    return body;
  }

  async function bot(name: string): Promise<Bot> {
    return json<Bot>(t.api('POST', '/bots', { body: { name } }), 201);
  }

  async function issue(botName: string, name = 'agent'): Promise<IssuedBotToken> {
    return json<IssuedBotToken>(t.api('POST', `/bots/${botName}/tokens`, { body: { name } }), 201);
  }

  it('issues a token once, lists it without its secret, and the token reaches its bot', async () => {
    const alpha = await bot('alpha');
    const issued = await issue('alpha', 'my agent');
    expect(issued).toMatchObject({ id: expect.stringMatching(/^tok_/), name: 'my agent', createdAt: expect.any(String) });
    expect(issued.token).toMatch(/^berth_bot_[A-Za-z0-9_-]{43}$/);

    const { tokens } = await json<{ tokens: BotToken[] }>(t.api('GET', '/bots/alpha/tokens'), 200);
    expect(tokens).toEqual([{ id: issued.id, name: 'my agent', createdAt: issued.createdAt, lastUsedAt: null }]);
    expect(JSON.stringify(tokens)).not.toContain(issued.token);

    // Its own container info: 404 container_not_found (the route was reached), by name and by id.
    for (const ref of ['alpha', alpha.id]) {
      const err = await json<{ error: { code: string } }>(t.api('GET', `/bots/${ref}/container`, { token: issued.token }), 404);
      expect(err.error.code).toBe('container_not_found');
    }
    const [listed] = (await json<{ tokens: BotToken[] }>(t.api('GET', '/bots/alpha/tokens'), 200)).tokens;
    expect(listed?.lastUsedAt).not.toBeNull();
  });

  it('sees its own container once it exists', async () => {
    await bot('alpha');
    const { token } = await issue('alpha');
    const { operation } = await json<{ operation: { id: string } }>(t.api('POST', '/bots/alpha/container', { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const info = await json<Container>(t.api('GET', '/bots/alpha/container', { token }), 200);
    expect(info.status).toBe('running');
  });

  it('keeps only a SHA-256 hash of the token at rest', async () => {
    await bot('alpha');
    const issued = await issue('alpha');
    const secret = issued.token.slice('berth_bot_'.length);
    const file = path.join(t.home, 'berth.db');
    // Every table and column, read through a second connection as someone holding a copy would.
    const db = new SqliteDatabase(file, { readonly: true });
    try {
      const rows = db.prepare('select * from tokens').all() as Record<string, unknown>[];
      expect(rows).toEqual([expect.objectContaining({ id: issued.id, hash: createHash('sha256').update(issued.token).digest('hex') })]);
      const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
      for (const { name } of tables) expect(JSON.stringify(db.prepare(`select * from "${name}"`).all())).not.toContain(secret);
    } finally {
      db.close();
    }
    // And the raw bytes of the database and its write-ahead log.
    for (const f of [file, `${file}-wal`].filter((f) => fs.existsSync(f))) expect(fs.readFileSync(f).includes(secret)).toBe(false);
  });

  it('revokes a token: it stops working at once and the list forgets it', async () => {
    await bot('alpha');
    const a = await issue('alpha', 'a');
    const b = await issue('alpha', 'b');
    expect((await t.api('DELETE', `/bots/alpha/tokens/${a.id}`)).status).toBe(204);
    const err = await json<{ error: { code: string } }>(t.api('GET', '/bots/alpha/container', { token: a.token }), 401);
    expect(err.error.code).toBe('unauthorized');
    expect((await t.api('GET', '/bots/alpha/container', { token: b.token })).status).toBe(404);
    expect((await json<{ tokens: BotToken[] }>(t.api('GET', '/bots/alpha/tokens'), 200)).tokens.map((x) => x.name)).toEqual(['b']);
    // Again, or a token of another bot: not_found.
    expect((await json<{ error: { code: string } }>(t.api('DELETE', `/bots/alpha/tokens/${a.id}`), 404)).error.code).toBe('not_found');
    await bot('beta');
    expect((await t.api('DELETE', `/bots/beta/tokens/${b.id}`)).status).toBe(404);
    expect((await t.api('GET', '/bots/alpha/container', { token: b.token })).status).toBe(404);
  });

  it('tokens go with their bot, and a new bot of the same name does not inherit them', async () => {
    await bot('alpha');
    const { token } = await issue('alpha');
    expect((await t.api('DELETE', '/bots/alpha')).status).toBe(204);
    expect((await t.api('GET', '/bots/alpha/container', { token })).status).toBe(401);
    await bot('alpha');
    expect((await t.api('GET', '/bots/alpha/container', { token })).status).toBe(401);
    expect((await json<{ tokens: BotToken[] }>(t.api('GET', '/bots/alpha/tokens'), 200)).tokens).toEqual([]);
  });

  it('validates the body and the bot', async () => {
    await bot('alpha');
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 'ok', extra: 1 }]) {
      expect((await json<{ error: { code: string } }>(t.api('POST', '/bots/alpha/tokens', { body }), 400)).error.code).toBe('validation_failed');
    }
    expect((await json<{ error: { code: string } }>(t.api('POST', '/bots/nobody/tokens', { body: { name: 'x' } }), 404)).error.code).toBe('bot_not_found');
  });

  it('a bot token cannot issue, list or revoke tokens, not even its own bot’s', async () => {
    await bot('alpha');
    const { id, token } = await issue('alpha');
    expect((await t.api('POST', '/bots/alpha/tokens', { token, body: { name: 'more' } })).status).toBe(403);
    expect((await t.api('GET', '/bots/alpha/tokens', { token })).status).toBe(403);
    expect((await t.api('DELETE', `/bots/alpha/tokens/${id}`, { token })).status).toBe(403);
    expect((await json<{ tokens: BotToken[] }>(t.api('GET', '/bots/alpha/tokens'), 200)).tokens).toHaveLength(1);
  });
});
