import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { createLogger } from '../logger.js';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { FilesService } from './files-service.js';

const IMAGE = 'localhost/berth/test:busybox';

/** The files API while a container is paused, over the fake driver (the in-container side needs Podman). */
describe('files while the container is paused', () => {
  let t: TestBerth;
  let driver: FakeDriver;

  beforeEach(async () => {
    driver = new FakeDriver({ images: [IMAGE] });
    t = await startTestBerth({ driver });
  });
  afterEach(async () => {
    await t.close();
  });

  it('answers container_not_running when it stays paused, and never works on the data dir from the host meanwhile', async () => {
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: 'paused' } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    const c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    const dataDir = path.join(t.home, 'bots', bot.id, 'data');
    fs.writeFileSync(path.join(dataDir, 'there.txt'), 'on the host');
    await driver.pauseContainer(c.id);

    const files = new FilesService({ store: t.store, driver, paths: t.berth.paths, logger: createLogger({ level: 'silent' }), containerDataPath: t.config.containerDataPath, readLimit: 1024, pauseWaitMs: 100 });
    await expect(files.write(bot.id, '/data/new.txt', chunks('x'))).rejects.toMatchObject({ code: 'container_not_running', details: { status: 'paused' } });
    await expect(files.read(bot.id, '/data/there.txt')).rejects.toMatchObject({ code: 'container_not_running' });
    await expect(files.remove(bot.id, '/data/there.txt')).rejects.toMatchObject({ code: 'container_not_running' });
    expect(fs.readdirSync(dataDir)).toEqual(['there.txt']);
  });
});

async function* chunks(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}
