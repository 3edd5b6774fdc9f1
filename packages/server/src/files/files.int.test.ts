import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, DirectoryListing, ExecResult, FileEditResult, FileGlobResult, FileInfo, Operation } from '@berth/contract';
import { closeTestBerth, createRunningBot, expectJson, startTestBerth, type TestBerth } from '../testing/harness.js';
import { realPodman, TEST_IMAGE } from '../testing/podman.js';

const WORKSPACE_IMAGE = 'localhost/berth/workspace:bookworm';

/**
 * The files API on the real Podman engine: round trips, listing, ranges, edit and move, in running
 * containers of both test images and on the data dir of a stopped one; and every escape we could
 * think of, against a canary file on the host that must be neither read nor written.
 */
describe('files on Podman', () => {
  let podman: Awaited<ReturnType<typeof realPodman>>;
  let t: TestBerth;
  const run = randomBytes(3).toString('hex');
  const secret = `host-secret-${randomBytes(8).toString('hex')}`;
  let canaryDir = '';
  let canary = '';
  let homeCanary = '';
  const bots: Record<'busybox' | 'debian', Bot> = {} as never;

  beforeAll(async () => {
    podman = await realPodman();
    t = await startTestBerth({ driver: podman.driver });
    canaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-canary-'));
    canary = path.join(canaryDir, 'canary.txt');
    fs.writeFileSync(canary, secret);
    homeCanary = path.join(t.home, 'canary.txt');
    fs.writeFileSync(homeCanary, secret);
    bots.busybox = await newBot('bb', TEST_IMAGE);
    bots.debian = await newBot('deb', WORKSPACE_IMAGE);
  });

  afterAll(async () => {
    await closeTestBerth(t);
    if (canaryDir) fs.rmSync(canaryDir, { recursive: true, force: true });
    await podman?.close();
  });

  const newBot = (name: string, image: string): Promise<Bot> => createRunningBot(t, name, image, run);

  const q = (p: string) => encodeURIComponent(p);
  const put = (bot: Bot, p: string, body: string | Buffer, query = '') =>
    Promise.resolve(t.berth.app.request(`/api/v1/bots/${bot.id}/files?path=${q(p)}${query}`, { method: 'PUT', headers: { authorization: `Bearer ${tokenOf()}`, 'content-type': 'application/octet-stream' }, body }));
  const get = (bot: Bot, p: string, headers: Record<string, string> = {}, query = '') => t.api('GET', `/bots/${bot.id}/files?path=${q(p)}${query}`, { headers });
  const del = (bot: Bot, p: string, query = '') => t.api('DELETE', `/bots/${bot.id}/files?path=${q(p)}${query}`);
  const sh = (bot: Bot, command: string) => expectJson<ExecResult>(t.api('POST', `/bots/${bot.id}/exec`, { body: { command } }), 200);
  const tokenOf = () => 'berth_test_admin_token_0123456789';
  const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());
  const codeOf = async (res: Response | Promise<Response>) => {
    const r = await res;
    return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
  };

  /** The canary is untouched, and `res` (if given) never carried its secret. */
  async function canaryIntact(res?: Response): Promise<void> {
    if (res) expect((await res.text()).includes(secret)).toBe(false);
    expect(fs.readFileSync(canary, 'utf8')).toBe(secret);
    expect(fs.readFileSync(homeCanary, 'utf8')).toBe(secret);
    expect(fs.readdirSync(canaryDir)).toEqual(['canary.txt']);
  }

  describe.each(['busybox', 'debian'] as const)('in a running container (%s image)', (image) => {
    const bot = () => bots[image];

    it('makes directories with their parents and finds paths by glob, links not followed', async () => {
      const mkdir = (p: string) => t.api('POST', `/bots/${bot().id}/files/mkdir`, { body: { path: p } });
      const glob = (query: string) => t.api('GET', `/bots/${bot().id}/files/glob?${query}`);
      expect(await expectJson<FileInfo>(mkdir('g/src/lib'), 200)).toMatchObject({ path: '/data/g/src/lib', type: 'directory', mode: '0755' });
      expect(await expectJson<FileInfo>(mkdir('/data/g/src'), 200)).toMatchObject({ path: '/data/g/src', type: 'directory' });
      expect(await expectJson<FileInfo>(mkdir('/tmp/made/here'), 200)).toMatchObject({ path: '/tmp/made/here', type: 'directory' });
      expect((await sh(bot(), 'test -d /tmp/made/here && test -d /data/g/src/lib && echo yes')).stdout).toBe('yes\n');
      expect(await codeOf(mkdir('/etc/passwd/x'))).toEqual({ status: 400, code: 'validation_failed' });

      await sh(bot(), 'cd /data/g && touch src/a.ts src/lib/b.ts src/lib/c.js .d.ts "src/sp ace.ts" && ln -s / src/root && ln -s /etc src/etc.ts');
      expect(await expectJson<FileGlobResult>(glob(`pattern=${q('**/*.ts')}&path=g`), 200)).toEqual({
        path: '/data/g',
        matches: ['/data/g/.d.ts', '/data/g/src/a.ts', '/data/g/src/etc.ts', '/data/g/src/lib/b.ts', '/data/g/src/sp ace.ts'],
        truncated: false,
      });
      expect((await expectJson<FileGlobResult>(glob(`pattern=${q('src/*.{js,ts}')}&path=/data/g`), 200)).matches).toEqual(['/data/g/src/a.ts', '/data/g/src/etc.ts', '/data/g/src/sp ace.ts']);
      const capped = await expectJson<FileGlobResult>(glob(`pattern=*&path=/etc&limit=2`), 200);
      expect(capped).toMatchObject({ path: '/etc', truncated: true });
      expect(capped.matches).toHaveLength(2);
      expect(await codeOf(glob(`pattern=*&path=/data/g/none`))).toEqual({ status: 404, code: 'file_not_found' });
      expect(await codeOf(glob(`pattern=${q('../*')}`))).toEqual({ status: 400, code: 'validation_failed' });
    });

    it('round-trips text, creating parents; the data dir on the host has it', async () => {
      const written = await expectJson<FileInfo>(put(bot(), 'notes/today/a.txt', 'hello, files \u2603\n'), 200);
      expect(written).toMatchObject({ path: '/data/notes/today/a.txt', type: 'file', size: 17, mode: '0644' });
      const res = await get(bot(), '/data/notes/today/a.txt');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-length')).toBe('17');
      expect(await res.text()).toBe('hello, files \u2603\n');
      const c = await expectJson<Container>(t.api('GET', `/bots/${bot().id}/container`), 200);
      expect(fs.readFileSync(path.join(c.paths.host, 'notes/today/a.txt'), 'utf8')).toBe('hello, files \u2603\n');
      // Outside the data dir too: the container's own root filesystem.
      await expectJson<FileInfo>(put(bot(), '/opt/berth-test/x.txt', 'rootfs'), 200);
      expect((await sh(bot(), 'cat /opt/berth-test/x.txt')).stdout).toBe('rootfs');
    });

    it('round-trips binary content byte for byte, big ones too', async () => {
      const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await expectJson<FileInfo>(put(bot(), 'bin/all-bytes', small), 200);
      expect((await bytesOf(await get(bot(), 'bin/all-bytes'))).equals(small)).toBe(true);
      const big = randomBytes(3 * 1024 * 1024 + 17);
      expect((await expectJson<FileInfo>(put(bot(), 'bin/big', big), 200)).size).toBe(big.length);
      expect((await bytesOf(await get(bot(), 'bin/big'))).equals(big)).toBe(true);
      expect((await sh(bot(), 'wc -c < /data/bin/big')).stdout.trim()).toBe(String(big.length));
    });

    it('sets the mode, keeps it on overwrite, and replaces atomically (no temporary file left)', async () => {
      expect((await expectJson<FileInfo>(put(bot(), 'modes/secret', 'one', '&mode=0600'), 200)).mode).toBe('0600');
      expect((await expectJson<FileInfo>(put(bot(), 'modes/secret', 'two'), 200)).mode).toBe('0600');
      expect((await expectJson<FileInfo>(put(bot(), 'modes/run.sh', '#!/bin/sh\necho ran\n', '&mode=755'), 200)).mode).toBe('0755');
      expect((await sh(bot(), '/data/modes/run.sh')).stdout).toBe('ran\n');
      const listing = await expectJson<DirectoryListing>(get(bot(), 'modes'), 200);
      expect(listing.entries.map((e) => e.name)).toEqual(['run.sh', 'secret']);
      expect((await codeOf(put(bot(), 'modes/x', 'x', '&mode=abc'))).code).toBe('validation_failed');
    });

    it('lists a directory: names, types, sizes, modes, mtimes, link targets not followed', async () => {
      await sh(bot(), "mkdir -p /data/ls/sub && printf 12345 > /data/ls/file && ln -s /etc /data/ls/abs && ln -s ../ls/file /data/ls/rel && ln -s /nowhere /data/ls/dangling && printf x > '/data/ls/we ird\nname'");
      const res = await get(bot(), '/data/ls');
      expect(res.headers.get('content-type')).toContain('application/json');
      const listing = (await res.json()) as DirectoryListing;
      expect(listing.path).toBe('/data/ls');
      expect(listing.truncated).toBe(false);
      const byName = Object.fromEntries(listing.entries.map((e) => [e.name, e]));
      expect(listing.entries.map((e) => e.name)).toEqual(['abs', 'dangling', 'file', 'rel', 'sub', 'we ird\nname']);
      expect(byName.file).toMatchObject({ type: 'file', size: 5, mode: '0644' });
      expect(Date.parse(byName.file!.mtime)).toBeGreaterThan(Date.now() - 600_000);
      expect(byName.sub).toMatchObject({ type: 'directory' });
      expect(byName.abs).toMatchObject({ type: 'symlink', linkTarget: '/etc' });
      expect(byName.rel).toMatchObject({ type: 'symlink', linkTarget: '../ls/file' });
      expect(byName.dangling).toMatchObject({ type: 'symlink', linkTarget: '/nowhere' });
      expect(byName.file!.linkTarget).toBeUndefined();
      // A link named as the path is followed, as in the container.
      expect(await (await get(bot(), '/data/ls/rel')).text()).toBe('12345');
      expect((await codeOf(get(bot(), '/data/ls/dangling'))).code).toBe('file_not_found');
    });

    it('reads ranges: Range header, offset/length, suffix; refuses one beyond the end', async () => {
      await expectJson<FileInfo>(put(bot(), 'range.txt', '0123456789'), 200);
      const a = await get(bot(), 'range.txt', { range: 'bytes=2-5' });
      expect(a.status).toBe(206);
      expect(a.headers.get('content-range')).toBe('bytes 2-5/10');
      expect(await a.text()).toBe('2345');
      const b = await get(bot(), 'range.txt', {}, '&offset=7&length=100');
      expect(b.status).toBe(206);
      expect(await b.text()).toBe('789');
      const c = await get(bot(), 'range.txt', { range: 'bytes=-3' });
      expect(c.headers.get('content-range')).toBe('bytes 7-9/10');
      expect(await c.text()).toBe('789');
      const past = await get(bot(), 'range.txt', { range: 'bytes=10-' });
      expect(past.headers.get('content-range')).toBe('bytes */10');
      expect(await codeOf(past)).toEqual({ status: 416, code: 'range_not_satisfiable' });
    });

    it('removes files, links (not their targets) and directories (non-empty ones only when recursive)', async () => {
      await sh(bot(), 'mkdir -p /data/rm/d/e && echo x > /data/rm/d/e/f && echo keep > /data/rm/target && ln -s /data/rm/target /data/rm/link');
      expect((await del(bot(), '/data/rm/link')).status).toBe(204);
      expect((await sh(bot(), 'cat /data/rm/target')).stdout).toBe('keep\n');
      expect(await codeOf(del(bot(), '/data/rm/d'))).toEqual({ status: 400, code: 'validation_failed' });
      expect((await del(bot(), '/data/rm/d', '&recursive=true')).status).toBe(204);
      expect(await codeOf(del(bot(), '/data/rm/d'))).toEqual({ status: 404, code: 'file_not_found' });
      expect((await codeOf(del(bot(), '/'))).code).toBe('validation_failed');
      expect((await codeOf(del(bot(), '/data'))).code).toBe('validation_failed');
    });

    it('moves: renames, refuses an existing target without overwrite, replaces it with', async () => {
      await expectJson<FileInfo>(put(bot(), 'mv/a', 'A'), 200);
      await expectJson<FileInfo>(put(bot(), 'mv/b', 'B'), 200);
      const moved = await expectJson<FileInfo>(t.api('POST', `/bots/${bot().id}/files/move`, { body: { from: 'mv/a', to: 'mv/new/c' } }), 200);
      expect(moved).toMatchObject({ path: '/data/mv/new/c', type: 'file', size: 1 });
      expect(await codeOf(get(bot(), 'mv/a'))).toEqual({ status: 404, code: 'file_not_found' });
      expect(await codeOf(t.api('POST', `/bots/${bot().id}/files/move`, { body: { from: 'mv/new/c', to: 'mv/b' } }))).toEqual({ status: 409, code: 'file_exists' });
      expect(await (await get(bot(), 'mv/b')).text()).toBe('B');
      await expectJson<FileInfo>(t.api('POST', `/bots/${bot().id}/files/move`, { body: { from: 'mv/new/c', to: 'mv/b', overwrite: true } }), 200);
      expect(await (await get(bot(), 'mv/b')).text()).toBe('A');
      expect(await codeOf(t.api('POST', `/bots/${bot().id}/files/move`, { body: { from: 'mv/nothing', to: 'mv/x' } }))).toEqual({ status: 404, code: 'file_not_found' });
    });

    it('edits text that occurs exactly once; zero or two occurrences leave the file as it was', async () => {
      await expectJson<FileInfo>(put(bot(), 'edit.py', 'x = 1\ny = 2\nx = 1\n', '&mode=0640'), 200);
      const edit = (oldText: string, newText: string) => t.api('POST', `/bots/${bot().id}/files/edit`, { body: { path: 'edit.py', oldText, newText } });
      const none = await expectJson<{ error: { code: string; details: { occurrences: number } } }>(edit('z = 3', 'z = 4'), 409);
      expect(none.error).toMatchObject({ code: 'edit_no_match', details: { occurrences: 0 } });
      const two = await expectJson<{ error: { code: string; details: { occurrences: number } } }>(edit('x = 1', 'x = 9'), 409);
      expect(two.error).toMatchObject({ code: 'edit_no_match', details: { occurrences: 2 } });
      expect(await (await get(bot(), 'edit.py')).text()).toBe('x = 1\ny = 2\nx = 1\n');
      const one = await expectJson<FileEditResult>(edit('y = 2', 'y = 20'), 200);
      expect(one).toMatchObject({ path: '/data/edit.py', replacements: 1, mode: '0640', size: 19 });
      expect(await (await get(bot(), 'edit.py')).text()).toBe('x = 1\ny = 20\nx = 1\n');
    });

    it('never reaches the host: .., absolute and relative links to / and to host paths', async () => {
      const c = await expectJson<Container>(t.api('GET', `/bots/${bot().id}/container`), 200);
      // Paths that climb above the root are refused outright.
      for (const p of [`/../../../..${canary}`, `../../../../../..${canary}`, `/data/../../${canary}`]) {
        expect({ p, ...(await codeOf(get(bot(), p))) }).toEqual({ p, status: 400, code: 'path_outside_root' });
        expect({ p, ...(await codeOf(put(bot(), p, 'pwned'))) }).toEqual({ p, status: 400, code: 'path_outside_root' });
      }
      // Links planted in the container, pointing at its root, at the host's paths, and climbing up.
      await sh(bot(), `mkdir -p /data/esc && ln -sfn / /data/esc/root && ln -sfn ${canaryDir} /data/esc/hostdir && ln -sfn ${canary} /data/esc/hostfile && ln -sfn ${t.home} /data/esc/home && ln -sfn ${c.paths.host} /data/esc/datadir && ln -sfn ../../../../../../../../.. /data/esc/up`);
      const reads = [
        `/data/esc/root${canary}`,
        '/data/esc/hostdir/canary.txt',
        '/data/esc/hostfile',
        '/data/esc/home/canary.txt',
        '/data/esc/datadir',
        `/data/esc/up${canary}`,
        `/data/esc/up${homeCanary}`,
      ];
      for (const p of reads) {
        const res = await get(bot(), p);
        expect({ p, status: res.status }).toEqual({ p, status: 404 });
        await canaryIntact(res);
      }
      // The links resolve inside the container: they read the container's own files.
      expect(await (await get(bot(), '/data/esc/root/etc/hostname')).text()).toMatch(/\S/);
      // Writes through the links land in the container, never on the host: where the link leads to
      // a path the container has (or can make), the file is written there...
      for (const p of ['/data/esc/hostfile', `/data/esc/root${canary}`, `/data/esc/up${canary}`]) {
        const res = await put(bot(), p, 'pwned');
        expect({ p, status: res.status }).toEqual({ p, status: 200 });
        await canaryIntact(res);
      }
      expect((await sh(bot(), `cat ${canary}`)).stdout).toBe('pwned');
      // ...and a link to a directory only the host has is a dangling link in here: no parent to write in.
      const dangling = await put(bot(), '/data/esc/home/canary.txt', 'pwned');
      expect(dangling.status).toBe(400);
      await canaryIntact(dangling);
      // Writing to a link replaced the link itself.
      expect((await expectJson<DirectoryListing>(get(bot(), '/data/esc'), 200)).entries.find((e) => e.name === 'hostfile')).toMatchObject({ type: 'file' });
      expect((await del(bot(), '/data/esc/home', '&recursive=true')).status).toBe(204);
      await canaryIntact();
      expect(fs.existsSync(t.home)).toBe(true);
    });
  });

  describe('while the container is stopped: the data dir, from the host', () => {
    let bot: Bot;
    let host = '';

    beforeAll(async () => {
      bot = await newBot('stopped', TEST_IMAGE);
      // Links planted while it ran: to /, to the host's canary and BERTH_HOME, climbing up, and one that stays inside.
      await sh(bot, `mkdir -p /data/esc /data/real && echo inside > /data/real/f && ln -s / /data/esc/root && ln -s ${canary} /data/esc/hostfile && ln -s ${canaryDir} /data/esc/hostdir && ln -s ${t.home} /data/esc/home && ln -s ../../../../../../.. /data/esc/up && ln -s /data/real /data/esc/ok-abs && ln -s ../real /data/esc/ok-rel && ln -s /etc /data/esc/etc`);
      host = (await expectJson<Container>(t.api('POST', `/bots/${bot.id}/container/stop`, { body: { timeoutSeconds: 1 } }), 200)).paths.host;
    });

    it('reads, writes, lists, moves, edits and removes under /data', async () => {
      expect((await expectJson<FileInfo>(put(bot, 'offline/a.txt', 'while stopped\n', '&mode=0600'), 200))).toMatchObject({ path: '/data/offline/a.txt', size: 14, mode: '0600' });
      expect(fs.readFileSync(path.join(host, 'offline/a.txt'), 'utf8')).toBe('while stopped\n');
      expect((fs.statSync(path.join(host, 'offline/a.txt')).mode & 0o777).toString(8)).toBe('600');
      expect(await (await get(bot, '/data/offline/a.txt')).text()).toBe('while stopped\n');
      const r = await get(bot, 'offline/a.txt', { range: 'bytes=6-' });
      expect([r.status, await r.text()]).toEqual([206, 'stopped\n']);
      const listing = await expectJson<DirectoryListing>(get(bot, '/data/esc'), 200);
      expect(listing.entries.find((e) => e.name === 'hostfile')).toMatchObject({ type: 'symlink', linkTarget: canary });
      expect(await (await get(bot, '/data/esc/ok-abs/f')).text()).toBe('inside\n');
      expect(await (await get(bot, '/data/esc/ok-rel/f')).text()).toBe('inside\n');
      await expectJson<FileEditResult>(t.api('POST', `/bots/${bot.id}/files/edit`, { body: { path: 'offline/a.txt', oldText: 'stopped', newText: 'offline' } }), 200);
      expect(fs.readFileSync(path.join(host, 'offline/a.txt'), 'utf8')).toBe('while offline\n');
      expect((fs.statSync(path.join(host, 'offline/a.txt')).mode & 0o777).toString(8)).toBe('600');
      expect((await expectJson<{ error: { details: { occurrences: number } } }>(t.api('POST', `/bots/${bot.id}/files/edit`, { body: { path: 'offline/a.txt', oldText: 'nope', newText: 'x' } }), 409)).error.details.occurrences).toBe(0);
      await expectJson<FileInfo>(t.api('POST', `/bots/${bot.id}/files/move`, { body: { from: 'offline/a.txt', to: 'offline/b.txt' } }), 200);
      expect(fs.existsSync(path.join(host, 'offline/b.txt'))).toBe(true);
      expect((await del(bot, '/data/offline', '&recursive=true')).status).toBe(204);
      expect(fs.existsSync(path.join(host, 'offline'))).toBe(false);
      expect(fs.readdirSync(host).filter((n) => n.startsWith('.berth-upload'))).toEqual([]);
    });

    it('makes directories and globs under /data, never walking a link out of it', async () => {
      expect(await expectJson<FileInfo>(t.api('POST', `/bots/${bot.id}/files/mkdir`, { body: { path: 'made/deep' } }), 200)).toMatchObject({ path: '/data/made/deep', type: 'directory' });
      expect(fs.statSync(path.join(host, 'made/deep')).isDirectory()).toBe(true);
      expect(await codeOf(t.api('POST', `/bots/${bot.id}/files/mkdir`, { body: { path: 'esc/root/tmp/x' } }))).toEqual({ status: 400, code: 'path_outside_root' });
      expect(await codeOf(t.api('POST', `/bots/${bot.id}/files/mkdir`, { body: { path: '/tmp/x' } }))).toEqual({ status: 409, code: 'container_not_running' });
      const found = await expectJson<FileGlobResult>(t.api('GET', `/bots/${bot.id}/files/glob?pattern=${q('**')}&path=esc`), 200);
      expect(found.matches).toEqual(['etc', 'home', 'hostdir', 'hostfile', 'ok-abs', 'ok-rel', 'root', 'up'].map((n) => `/data/esc/${n}`));
      expect(await codeOf(t.api('GET', `/bots/${bot.id}/files/glob?pattern=*&path=esc/hostdir`))).toEqual({ status: 400, code: 'path_outside_root' });
      await canaryIntact();
    });

    it('cannot reach the rest of the container: 409 container_not_running', async () => {
      expect(await codeOf(get(bot, '/etc/passwd'))).toEqual({ status: 409, code: 'container_not_running' });
      expect(await codeOf(put(bot, '/tmp/x', 'x'))).toEqual({ status: 409, code: 'container_not_running' });
    });

    it('never follows a link out of the data dir: path_outside_root, and the host is untouched', async () => {
      for (const p of [`/data/esc/root${canary}`, '/data/esc/hostfile', '/data/esc/hostdir/canary.txt', '/data/esc/home/canary.txt', `/data/esc/up${canary}`, '/data/esc/etc/passwd', '/data/esc/root']) {
        const res = await get(bot, p);
        expect({ p, status: res.status }).toEqual({ p, status: 400 });
        expect(((await res.clone().json()) as { error: { code: string } }).error.code).toBe('path_outside_root');
        await canaryIntact(res);
      }
      for (const p of ['/data/esc/hostdir/canary.txt', '/data/esc/home/new.txt', `/data/esc/up${canaryDir}/new.txt`, `/data/esc/root${canaryDir}/x`]) {
        const res = await put(bot, p, 'pwned');
        expect({ p, status: res.status }).toEqual({ p, status: 400 });
        await canaryIntact(res);
      }
      expect(fs.existsSync(path.join(t.home, 'new.txt'))).toBe(false);
      expect(await codeOf(t.api('POST', `/bots/${bot.id}/files/move`, { body: { from: '/data/real/f', to: '/data/esc/hostdir/canary.txt', overwrite: true } }))).toEqual({ status: 400, code: 'path_outside_root' });
      expect(await codeOf(del(bot, '/data/esc/hostdir/canary.txt'))).toEqual({ status: 400, code: 'path_outside_root' });
      await canaryIntact();
      // A write to a link replaces the link; it never writes through it.
      expect((await expectJson<FileInfo>(put(bot, '/data/esc/hostfile', 'replaced'), 200)).type).toBe('file');
      expect(fs.lstatSync(path.join(host, 'esc/hostfile')).isSymbolicLink()).toBe(false);
      // Removing a link removes the link only.
      expect((await del(bot, '/data/esc/home')).status).toBe(204);
      await canaryIntact();
      expect(fs.existsSync(t.home)).toBe(true);
    });

    it('answers container_not_found outside the data dir when the bot has no container', async () => {
      expect((await t.api('DELETE', `/bots/${bot.id}/container`)).status).toBe(204);
      expect(await (await get(bot, '/data/real/f')).text()).toBe('inside\n');
      expect(await codeOf(get(bot, '/etc/passwd'))).toEqual({ status: 404, code: 'container_not_found' });
    });
  });

  it('waits out a pause (a snapshot’s commit), then works inside the container', async () => {
    const bot = bots.busybox;
    const c = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    await podman.driver.pauseContainer(c.id);
    let settled = false;
    let pending: Promise<Response> | undefined;
    try {
      pending = put(bot, '/tmp/after-pause.txt', 'resumed');
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((r) => setTimeout(r, 500));
      // No answer while paused: neither an error nor work on the data dir from the host beside it.
      expect(settled).toBe(false);
    } finally {
      await podman.driver.unpauseContainer(c.id);
    }
    expect(await expectJson<FileInfo>(pending, 200)).toMatchObject({ path: '/tmp/after-pause.txt', size: 7 });
    expect((await sh(bot, 'cat /tmp/after-pause.txt')).stdout).toBe('resumed');
  });

  it('answers HEAD with the headers only, leaving no place taken and no helper running', async () => {
    const bot = bots.busybox;
    expect((await put(bot, '/data/head.txt', 'hello')).status).toBe(200);
    for (let i = 0; i < 6; i++) {
      const res = await t.api('HEAD', `/bots/${bot.id}/files?path=/data/head.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('5');
    }
    expect(t.berth.limiter.usage(bot.id)).toEqual({ running: 0, queued: 0 });
    expect((await sh(bot, 'ps -o args | grep -c "[b]erth-files read" || true')).stdout).toBe('0\n');
  });

  it('answers an unexpected failure in the container with internal and a generic message', async () => {
    // /proc takes no new files: the script's own words about it stay in the log.
    const res = await put(bots.busybox, '/proc/berth-nope', 'x');
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    expect(error).toMatchObject({ code: 'internal', message: 'the file operation failed inside the container', details: { path: '/proc/berth-nope' } });
  });

  it('caps a read at BERTH_FILES_READ_LIMIT: 206, the first part, X-Berth-Truncated', async () => {
    const small = await startTestBerth({ driver: podman.driver, config: { filesReadLimit: 1000 } });
    try {
      const bot = await expectJson<Bot>(small.api('POST', '/bots', { body: { name: `cap-${run}`, image: TEST_IMAGE } }), 201);
      const { operation } = await expectJson<{ operation: Operation }>(small.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
      await small.berth.operations.settled(operation.id);
      const data = randomBytes(5000);
      await expectJson<FileInfo>(
        Promise.resolve(small.berth.app.request(`/api/v1/bots/${bot.id}/files?path=big`, { method: 'PUT', headers: { authorization: `Bearer ${tokenOf()}` }, body: data })),
        200,
      );
      const res = await small.api('GET', `/bots/${bot.id}/files?path=big`);
      expect(res.status).toBe(206);
      expect(res.headers.get('x-berth-truncated')).toBe('true');
      expect(res.headers.get('content-range')).toBe('bytes 0-999/5000');
      expect((await bytesOf(res)).equals(data.subarray(0, 1000))).toBe(true);
      const rest = await small.api('GET', `/bots/${bot.id}/files?path=big&offset=4500`);
      expect((await bytesOf(rest)).equals(data.subarray(4500))).toBe(true);
      await small.berth.bots.remove(bot.id);
    } finally {
      await small.close();
    }
  });
});
