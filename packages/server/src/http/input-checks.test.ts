import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';

/** Inputs that used to reach the engine and come back as 500s are refused up front with a clear 4xx. */
describe('bad input answers 4xx, not 500', () => {
  let t: TestBerth;

  beforeEach(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    expect((await t.api('POST', '/bots', { body: { name: 'alpha' } })).status).toBe(201);
  });
  afterEach(async () => {
    await t.close();
  });

  const error = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error });

  it('refuses a CPU limit below what the kernel can enforce, on create and on change', async () => {
    expect(await error(await t.api('POST', '/bots', { body: { name: 'tiny', resources: { cpus: 1e-7 } } }))).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(await error(await t.api('PATCH', '/bots/alpha', { body: { resources: { cpus: 0.001 } } }))).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((await t.api('PATCH', '/bots/alpha', { body: { resources: { cpus: 0.01 } } })).status).toBe(200);
    expect(await error(await t.api('PATCH', '/bots/alpha', { body: { resources: { memoryMb: 1 } } }))).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('wants bot names to start with a letter or digit', async () => {
    for (const name of ['-', '-abc', '--']) {
      expect(await error(await t.api('POST', '/bots', { body: { name } }))).toMatchObject({ status: 400, code: 'validation_failed' });
    }
    expect((await t.api('POST', '/bots', { body: { name: '0-a-' } })).status).toBe(201);
  });

  it('refuses a file name longer than 255 bytes', async () => {
    const long = 'a'.repeat(256);
    for (const [method, path] of [
      ['GET', `/bots/alpha/files?path=${long}`],
      ['PUT', `/bots/alpha/files?path=dir/${long}`],
      ['DELETE', `/bots/alpha/files?path=${long}`],
    ] as const) {
      expect(await error(await t.api(method, path))).toMatchObject({ status: 400, code: 'validation_failed' });
    }
    // 255 bytes of UTF-8 is fine (the bot has no container: only the data dir, where it is absent).
    expect((await error(await t.api('GET', `/bots/alpha/files?path=${'é'.repeat(127)}`))).code).toBe('file_not_found');
    expect(await error(await t.api('GET', `/bots/alpha/files?path=${'é'.repeat(128)}`))).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('refuses byte ranges past what a file can hold with 400, before looking at the file', async () => {
    for (const range of ['bytes=99999999999999999999999-', 'bytes=0-99999999999999999999', 'bytes=-99999999999999999999']) {
      expect(await error(await t.api('GET', '/bots/alpha/files?path=f', { headers: { range } }))).toMatchObject({ status: 400, code: 'validation_failed' });
    }
    expect(await error(await t.api('GET', '/bots/alpha/files?path=f&offset=1e30'))).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('checks image references when they are set: syntax, and no registry on a local address', async () => {
    for (const image of ['Upper', 'UPPER/Case', 'a//b', 'repo:tag:tag', 'repo@sha256:short', ':tag', 'x/-y', 'host:99999/x']) {
      expect(await error(await t.api('POST', '/bots', { body: { name: 'img', image } })), image).toMatchObject({ status: 400, code: 'image_invalid' });
    }
    for (const image of ['127.0.0.1:7399/x', 'localhost:7399/x', '[::1]:5000/x', '169.254.169.254/latest', '0.0.0.0:80/x', '[::ffff:127.0.0.1]:80/x', '127.1:7399/x', '0x7f.1:80/x', '2130706433:80/x']) {
      expect(await error(await t.api('PATCH', '/bots/alpha', { body: { image } })), image).toMatchObject({ status: 400, code: 'image_invalid' });
    }
    // Nothing changed.
    expect(((await (await t.api('GET', '/bots/alpha')).json()) as { image: string }).image).toBe(IMAGE);
    for (const image of ['busybox', 'docker.io/library/busybox:1.36', 'localhost/berth/workspace:bookworm', 'registry.example.com:5000/team/app@sha256:' + 'a'.repeat(64), '10.1.2.3:5000/x:y']) {
      expect((await t.api('PATCH', '/bots/alpha', { body: { image } })).status, image).toBe(200);
    }
  });

  it('lets images name a local registry the engine is configured with', async () => {
    // The fake driver's composition reads no registries.conf: the rule itself, with one configured.
    const { checkImageReference } = await import('../lifecycle/index.js');
    expect(checkImageReference('127.0.0.1:5000/berth/x:1', { allowedRegistries: ['127.0.0.1:5000'] }).registry).toBe('127.0.0.1:5000');
    expect(() => checkImageReference('127.0.0.1:5001/berth/x:1', { allowedRegistries: ['127.0.0.1:5000'] })).toThrow(/registries.conf/);
    // Short and numeric IPv4 forms are the addresses they spell, as the engine's resolver reads them.
    for (const image of ['127.1:7399/x', '0x7f.1:80/x', '2130706433:80/x', '0177.0.0.1:80/x']) {
      expect(() => checkImageReference(image, { allowedRegistries: [] }), image).toThrow(/registries.conf/);
    }
  });

  it('still creates a container after all that', async () => {
    const { operation } = (await (await t.api('POST', '/bots/alpha/container', { body: {} })).json()) as { operation: Operation };
    await t.berth.operations.settled(operation.id);
    expect((await t.api('GET', '/bots/alpha/container')).status).toBe(200);
  });
});
