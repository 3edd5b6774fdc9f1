import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bot, Operation } from '@berth/contract';
import { expect } from 'vitest';
import { loadConfig, type Config } from '../config/config.js';
import { createLogger } from '../logger.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import { composeBerth } from '../services.js';
import { openStore, type Store } from '../store/store.js';

export const TEST_ADMIN_TOKEN = 'berth_test_admin_token_0123456789';

export interface TestBerth {
  home: string;
  config: Readonly<Config>;
  store: Store;
  berth: Awaited<ReturnType<typeof composeBerth>>;
  /** Calls the API in-process; JSON bodies are serialised, the admin token is sent unless `token: null`. */
  api(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** A Berth composed in-process over a given driver, with a temporary BERTH_HOME and database. */
export async function startTestBerth(options: { driver: RuntimeDriver; cdiSpecDirs?: string[]; home?: string; config?: Partial<Config>; adminToken?: string }): Promise<TestBerth> {
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  const config = loadConfig({ BERTH_HOME: home, BERTH_LOG_LEVEL: process.env.BERTH_LOG_LEVEL ?? 'silent' }, {
    cdiSpecDirs: options.cdiSpecDirs ?? [path.join(home, 'cdi')],
    defaultImage: 'localhost/berth/test:busybox',
    ...options.config,
  });
  const logger = createLogger({ level: config.logLevel, destination: process.stderr });
  const store = await openStore({ home, databaseUrl: null });
  const adminToken = options.adminToken ?? TEST_ADMIN_TOKEN;
  const berth = await composeBerth({ config, logger, store, driver: options.driver, adminToken });
  return {
    home,
    config,
    store,
    berth,
    api: (method, p, o = {}) => {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? adminToken : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      return Promise.resolve(berth.app.request(`/api/v1${p}`, { method, headers, ...(o.body !== undefined && { body: JSON.stringify(o.body) }) }));
    },
    close: async () => {
      berth.operations.abortAll();
      berth.sessions.stop();
      await berth.pauses.stop();
      await berth.diskLimits.stop();
      await berth.changes.flush();
      await store.close();
      if (!options.home) fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Reads an SSE response to its end into `{event, id, data}` frames. */
export interface SseTestFrame {
  event: string;
  id: string | undefined;
  data: unknown;
}

export async function readSse(res: Response): Promise<SseTestFrame[]> {
  const text = await res.text();
  return text.split('\n\n').flatMap((block) => parseSseBlock(block) ?? []);
}

/** One SSE frame (the text between blank lines) with its JSON data; null for a comment-only block. */
export function parseSseBlock(block: string): SseTestFrame | null {
  const lines = block.split('\n').filter((l) => l && !l.startsWith(':'));
  if (lines.length === 0) return null;
  const field = (name: string) => lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
  return { event: field('event') ?? 'message', id: field('id'), data: data ? (JSON.parse(data) as unknown) : null };
}

export function writeTestCdiSpec(dir: string, devices: { name: string; env: string }[], kind = 'berth.test/device'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'berth-test.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      cdiVersion: '0.5.0',
      kind,
      devices: devices.map((d) => ({ name: d.name, containerEdits: { env: [d.env], deviceNodes: [{ path: '/dev/berth-null', hostPath: '/dev/null' }] } })),
    }),
  );
  return file;
}

/** Asserts a response's status (showing the body when it differs) and returns its JSON body. */
export async function expectJson<T>(res: Response | Promise<Response>, status: number): Promise<T> {
  const r = await res;
  const body = (await r.json()) as T;
  expect({ status: r.status, body }).toMatchObject({ status });
  return body;
}

/** Removes every bot the test made (containers, data, snapshots go with them), then closes. */
export async function closeTestBerth(t: TestBerth | undefined): Promise<void> {
  if (!t) return;
  for (const bot of await t.berth.bots.list()) await t.berth.bots.remove(bot.id).catch(() => undefined);
  await t.close();
}

/** A new bot (`name` made unique by `suffix`) with a container created and running. */
export async function createRunningBot(t: TestBerth, name: string, image: string, suffix: string): Promise<Bot> {
  const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `${name}-${suffix}`, image } }), 201);
  const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
  await t.berth.operations.settled(operation.id);
  expect((await t.berth.operations.get(operation.id)).status).toBe('succeeded');
  return bot;
}
