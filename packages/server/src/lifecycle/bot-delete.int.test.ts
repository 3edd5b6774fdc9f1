import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';
import { buildTar } from '../testing/tree.js';

/** What the engine holds for a bot: containers, snapshot images and its network, labelled for it. */
function engineLeftovers(botId: string): { containers: string; images: string; networks: string } {
  return {
    containers: execFileSync('podman', ['ps', '-a', '--quiet', '--filter', `label=berth.bot=${botId}`], { encoding: 'utf8' }).trim(),
    images: execFileSync('podman', ['images', '--all', '--quiet', '--filter', `label=berth.bot=${botId}`], { encoding: 'utf8' }).trim(),
    networks: networksOf(botId).join('\n'),
  };
}

function networksOf(botId: string): string[] {
  return execFileSync('podman', ['network', 'ls', '--format', '{{.Name}}', '--filter', `label=berth.bot=${botId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Bot delete as an operation on the real Podman engine: never racing a create or an import, and finished after a crash. */
describe('bot delete on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  const run = randomBytes(3).toString('hex');
  const homes: string[] = [];
  const berths: TestBerth[] = [];
  const foreign: string[] = [];
  const foreignNetworks: string[] = [];

  beforeAll(async () => {
    podman = await realPodman();
  });

  afterEach(async () => {
    for (const t of berths.splice(0)) await closeTestBerth(t).catch(() => undefined);
  });

  afterAll(async () => {
    for (const name of foreign) execFileSync('podman', ['rm', '--force', '--ignore', name], { stdio: 'ignore' });
    for (const name of foreignNetworks) execFileSync('podman', ['network', 'rm', '--force', name], { stdio: 'ignore' });
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    await podman?.close();
  });

  /** A Berth on a home of its own that outlives it, so a second one can start on it as after a restart. */
  async function berthOn(home: string, failpoints = ''): Promise<TestBerth> {
    const t = await startTestBerth({ driver: podman.driver, home, config: { failpoints } });
    berths.push(t);
    return t;
  }
  function newHome(): string {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-delete-'));
    homes.push(home);
    return home;
  }
  async function restart(t: TestBerth, failpoints = ''): Promise<TestBerth> {
    berths.splice(berths.indexOf(t), 1);
    await t.close();
    return berthOn(t.home, failpoints);
  }

  async function runningBot(t: TestBerth, name: string): Promise<Bot> {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `${name}-${run}`, image: TEST_IMAGE } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect(await t.berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    return bot;
  }

  /** Deletes the bot, waiting out an operation that was first (the delete then answers 409 and removes nothing). */
  async function deleteWhenIdle(t: TestBerth, bot: Bot, first: Response): Promise<void> {
    if (first.status === 204) return;
    const body = (await first.json()) as { error: { code: string; details?: { operationId?: string } } };
    expect({ status: first.status, code: body.error.code }).toEqual({ status: 409, code: 'operation_in_progress' });
    await t.berth.operations.settled(body.error.details?.operationId ?? '');
    expect((await t.api('DELETE', `/bots/${bot.id}`)).status).toBe(204);
  }

  /** Resolves when an operation of the bot has been recorded (it may have ended since). */
  function operationStarted(t: TestBerth, botId: string): Promise<void> {
    return new Promise((resolve) => {
      const stop = t.berth.changes.subscribe((change) => {
        if (change.type === 'operation.started' && change.botId === botId) {
          stop();
          resolve();
        }
      });
    });
  }

  function expectNothingLeft(t: TestBerth, bot: Bot): void {
    expect(engineLeftovers(bot.id)).toEqual({ containers: '', images: '', networks: '' });
    expect(fs.existsSync(t.berth.paths.botDir(bot.id))).toBe(false);
  }

  it('a delete racing a create never leaves a container or a directory behind (10 tries)', async () => {
    const t = await berthOn(newHome());
    for (let i = 0; i < 10; i++) {
      const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `race-${i}-${run}`, image: TEST_IMAGE } }), 201);
      // Both at once (the delete tends to win), or the delete as soon as the create is under way.
      const creating = t.api('POST', `/bots/${bot.id}/container`, { body: {} });
      if (i % 2 === 1) await operationStarted(t, bot.id);
      const [create, del] = await Promise.all([creating, t.api('DELETE', `/bots/${bot.id}`)]);
      // The create was first (202; the delete is refused until it ends), or the delete was (the create is refused).
      if (create.status === 202) {
        const { operation } = (await create.json()) as { operation: Operation };
        await t.berth.operations.settled(operation.id);
      } else {
        expect([404, 409]).toContain(create.status);
        expect(del.status).toBe(204);
      }
      await deleteWhenIdle(t, bot, del);
      expect((await t.api('GET', `/bots/${bot.id}`)).status).toBe(404);
      expectNothingLeft(t, bot);
    }
  });

  it('a delete racing an import answers no 500 and leaves no directory', async () => {
    const t = await berthOn(newHome());
    const archive = await buildTar([{ name: 'big.bin', body: randomBytes(4 * 1024 * 1024) }, { name: 'notes.txt', body: 'hi\n' }]);
    for (let i = 0; i < 4; i++) {
      const bot = await runningBot(t, `imp-${i}`);
      const importing = Promise.resolve(t.berth.app.request(`/api/v1/bots/${bot.id}/data/import`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: archive }));
      if (i % 2 === 1) await operationStarted(t, bot.id);
      const [imported, del] = await Promise.all([importing, t.api('DELETE', `/bots/${bot.id}`)]);
      expect([200, 404, 409]).toContain(imported.status);
      expect([204, 409]).toContain(del.status);
      await deleteWhenIdle(t, bot, del);
      expectNothingLeft(t, bot);
    }
  });

  for (const step of ['container', 'images', 'files', 'record']) {
    it(`a delete that fails before its ${step} step leaves the bot gone to the API and is finished at the next start`, async () => {
      let t = await berthOn(newHome(), `bot-delete.${step}:error`);
      const bot = await runningBot(t, `cut-${step}`);
      await expectJson(t.api('POST', `/bots/${bot.id}/snapshots`, { body: { name: 's1' } }), 201);
      expect(engineLeftovers(bot.id).images).not.toBe('');
      expect(engineLeftovers(bot.id).networks).toBe(`berth-${bot.id}`);

      const failed = await t.api('DELETE', `/bots/${bot.id}`);
      expect(failed.status).toBe(500);
      // Cut off half-way: what the steps before it removed is gone, the rest is still there.
      expect(await t.store.findBotEvenIfDeleting(bot.id)).toMatchObject({ deleting: 1 });
      expect(fs.existsSync(t.berth.paths.dataDir(bot.id))).toBe(step !== 'record');
      // From the moment its delete began the bot is gone, and nothing new starts on it.
      expect((await t.api('GET', `/bots/${bot.id}`)).status).toBe(404);
      expect(((await expectJson<{ bots: Bot[] }>(t.api('GET', '/bots'), 200)).bots).map((b) => b.id)).not.toContain(bot.id);
      expect((await t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } })).status).toBe(404);

      t = await restart(t);
      expect((await t.api('GET', `/bots/${bot.id}`)).status).toBe(404);
      expectNothingLeft(t, bot);
      expect(await t.store.findBotEvenIfDeleting(bot.id)).toBeUndefined();
    });
  }

  it('a delete of a bot whose delete failed finishes it, without a restart', async () => {
    const t = await berthOn(newHome());
    const bot = await runningBot(t, 'again');
    // As a delete leaves it when it fails after marking the bot (the engine refused, say).
    await t.store.markBotDeleting(bot.id);
    expect((await t.api('GET', `/bots/${bot.id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/bots/${bot.id}`)).status).toBe(204);
    expectNothingLeft(t, bot);
    expect(await t.store.findBotEvenIfDeleting(bot.id)).toBeUndefined();
  });

  it('at start-up removes its own containers and networks of bots that do not exist and directories without a bot, and leaves other Berths’ alone', async () => {
    const home = newHome();
    const ghost = `bot_ghost${run}`;
    // A directory there before the database was: kept at that first start (it may be data of a lost database).
    const orphanDir = path.join(home, 'bots', ghost);
    fs.mkdirSync(path.join(orphanDir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(orphanDir, 'data', 'left.txt'), 'left behind\n');
    let t = await berthOn(home);
    expect(fs.existsSync(orphanDir)).toBe(true);
    const mine = `berth-${ghost}`;
    const theirs = `berth-${ghost}-other`;
    foreign.push(mine, theirs);
    const labels = (instance: string) => ['--label', 'berth.managed=true', '--label', `berth.bot=${ghost}`, '--label', `berth.instance=${instance}`];
    execFileSync('podman', ['create', '--name', mine, ...labels(t.berth.instanceId), TEST_IMAGE, 'sleep', '1'], { stdio: 'ignore' });
    execFileSync('podman', ['create', '--name', theirs, ...labels('another-berth'), TEST_IMAGE, 'sleep', '1'], { stdio: 'ignore' });
    foreignNetworks.push(mine, theirs);
    execFileSync('podman', ['network', 'create', ...labels(t.berth.instanceId), mine], { stdio: 'ignore' });
    execFileSync('podman', ['network', 'create', ...labels('another-berth'), theirs], { stdio: 'ignore' });
    const kept = await runningBot(t, 'kept');

    t = await restart(t);
    const names = execFileSync('podman', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=berth.bot=${ghost}`], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual([theirs]);
    expect(networksOf(ghost)).toEqual([theirs]);
    expect(fs.existsSync(orphanDir)).toBe(false);
    const info = await expectJson<{ unmanagedContainers: { name: string }[] }>(t.api('GET', '/info'), 200);
    expect(info.unmanagedContainers.map((c) => c.name)).not.toContain(mine);
    // The bot that exists keeps its container and its data dir.
    expect(await expectJson<{ status: string }>(t.api('GET', `/bots/${kept.id}/container`), 200)).toMatchObject({ status: 'running' });
    expect(fs.existsSync(t.berth.paths.dataDir(kept.id))).toBe(true);
    expect(networksOf(kept.id)).toEqual([`berth-${kept.id}`]);
  });
});
