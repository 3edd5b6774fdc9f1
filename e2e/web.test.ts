import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BerthClient } from '@berth/sdk';
import { pushFreshRunnableImage, startTestRegistry, type TestRegistry } from '../packages/server/src/testing/registry.js';
import { launchChromium, screenshot, waitForText } from './browser.js';
import { startServer, type ServerProcess } from './server-process.js';

const TEST_IMAGE = 'localhost/berth/test:busybox';

/**
 * The web UI in real headless Chromium against the built server on real Podman: what an operator
 * does with the mouse and keyboard, checked against what the API and the engine then report.
 */
describe('web UI', () => {
  const run = randomBytes(3).toString('hex');
  const botName = `web-${run}`;
  const cdiFile = `/var/run/cdi/berth-web-${run}.json`;
  const cdiKind = `berth-web-${run}.example/gpu`;
  const gpu = `${cdiKind}=0`;
  let server: ServerProcess;
  let registry: TestRegistry;
  let imageRef: string;
  let api: BerthClient;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const temps: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync('/var/run/cdi', { recursive: true });
    fs.writeFileSync(
      cdiFile,
      JSON.stringify({
        cdiVersion: '0.5.0',
        kind: cdiKind,
        devices: [{ name: '0', containerEdits: { env: ['BERTH_WEB_GPU=0'], deviceNodes: [{ path: '/dev/berth-web-gpu', hostPath: '/dev/null' }] } }],
      }),
    );
    // The registry holds each download part-way for a few seconds: long enough to see the bytes and
    // to reload the page while the create is still running.
    registry = await startTestRegistry({ stallMs: 6_000 });
    // A fresh image in the local registry, so that creating the container really pulls it, layer by layer.
    imageRef = await pushFreshRunnableImage(registry, { base: TEST_IMAGE, repoTag: `berth/web:${run}` });
    server = await startServer();
    api = new BerthClient({ baseUrl: server.url, token: server.token });
    const home = await fetch(server.url);
    if (home.status !== 200) throw new Error(`the server does not serve the web UI (${home.status}: ${await home.text()}); run npm run build first`);
    browser = await launchChromium();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      for (const b of await api.listBots().catch(() => [])) await api.deleteBot(b.id).catch(() => undefined);
      await server.kill();
      fs.rmSync(server.home, { recursive: true, force: true });
    }
    if (imageRef) execFileSync('podman', ['rmi', '--force', imageRef], { stdio: 'ignore' });
    await registry?.stop();
    fs.rmSync(cdiFile, { force: true });
    for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
  });

  const info = (field: string) => page.locator(`dl.info [data-field="${field}"]`);
  const panel = () => page.locator('.progress-panel');

  it('logs in with the admin token, refusing a wrong one', async () => {
    await page.goto(server.url);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await waitForText(page.getByRole('alert'), 'not a valid admin token');
    await screenshot(page, '01-login');

    await page.getByLabel('Admin token').fill(server.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Bots' }).waitFor();
    // The session is an HttpOnly cookie: the page's scripts cannot read the token.
    expect(await page.evaluate('document.cookie')).toBe('');
    const cookies = await browser.context.cookies(`${server.url}/api/v1/bots`);
    expect(cookies.find((c) => c.name === 'berth_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('creates a bot from the New bot form', async () => {
    await page.getByRole('link', { name: 'New bot' }).click();
    await page.getByLabel('Name').fill(botName);
    await page.getByLabel('Image').fill(imageRef);
    await page.getByLabel('Memory (MB)').fill('256');
    await page.getByLabel('Disk limit (MiB)').fill('2048');
    await page.getByLabel('Environment variables').fill('GREETING=hello');
    await page.getByLabel('Create its container now').uncheck();
    await screenshot(page, '02-new-bot');
    await page.getByRole('button', { name: 'Create bot' }).click();

    await page.getByRole('heading', { name: botName }).waitFor();
    await page.getByTestId('no-container').waitFor();
    const bot = await api.getBot(botName);
    expect(bot).toMatchObject({ image: imageRef, env: { GREETING: 'hello' }, resources: { memoryMb: 256 }, diskLimitMb: 2048, status: null });
  });

  it('creates the container with live progress per layer that survives a reload, then shows its info', async () => {
    await page.getByRole('button', { name: 'Create container' }).click();
    await waitForText(panel().getByRole('heading'), 'Creating the container');
    // The registry is holding the download: the pull phase is the current one.
    await page.locator('.progress-panel [data-phase="pull"][data-state="current"]').waitFor();
    await screenshot(page, '03-create-progress');

    const [op] = await api.listOperations(botName, { limit: 1 });
    expect(op).toMatchObject({ kind: 'create', status: 'running' });
    await page.reload();
    // After the reload the page finds the create among the bot's operations and replays its events.
    if (registry.started) {
      await page.locator(`.progress-panel[data-operation="${op?.id}"][data-status="running"]`).waitFor();
    } else {
      // Someone else's registry holds downloads for a shorter time: the create may be over already.
      console.warn('web UI test: the registry on :5000 was already running, so the create may end before the reload');
      await page.locator(`.progress-panel[data-operation="${op?.id}"]`).waitFor();
    }
    // Each layer has its own bar with bytes.
    const layer = panel().locator('.layer', { hasText: / MB \/ / });
    await waitForText(layer.locator('.layer-bytes'), /^[\d.]+ MB \/ [\d.]+ MB$/);
    expect(await layer.locator('progress').count()).toBe(1);
    await page.locator('.progress-panel[data-status="succeeded"]').waitFor({ timeout: 90_000 });
    await screenshot(page, '03b-create-done');
    for (const phase of ['image', 'pull', 'create', 'start', 'ready']) {
      expect(await panel().locator(`[data-phase="${phase}"]`).getAttribute('data-state')).toBe('done');
    }

    const container = await api.getContainer(botName);
    await waitForText(info('id'), container.id);
    await waitForText(info('status'), 'running');
    await waitForText(info('image'), imageRef);
    await waitForText(info('paths'), container.paths.host);
    await waitForText(info('paths'), '/data');
    await waitForText(info('tasks'), '0 running');
    await waitForText(info('cdi'), 'none');
    await waitForText(info('version'), '1');
    // Usage against the limit, once the measurement that follows the create is in.
    await waitForText(info('disk'), /^[\d.,]+ MiB used of 2,?048 MiB/);
    await waitForText(page.getByTestId('disk-enforcement'), /^soft limit: measured every 30 s · measured /);
    expect((await api.getContainer(botName)).diskLimit).toMatchObject({ mb: 2048, enforcement: 'soft', exceeded: false });
    await screenshot(page, '04-container-info');
  });

  it('stops and starts the container', async () => {
    await page.getByRole('button', { name: 'Stop' }).click();
    await waitForText(info('status'), 'stopped');
    expect((await api.getContainer(botName)).status).toBe('stopped');
    await page.getByRole('button', { name: 'Start' }).click();
    await waitForText(info('status'), 'running');
    expect((await api.getContainer(botName)).status).toBe('running');
  });

  it('shows changes made elsewhere without a reload', async () => {
    await api.stopContainer(botName);
    await waitForText(info('status'), 'stopped');
    await api.startContainer(botName);
    await waitForText(info('status'), 'running');
  });

  it('sets CDI devices in Advanced options and shows them in effect after a recreate', async () => {
    await page.getByText('Advanced options').click();
    const advanced = page.locator('details.advanced');
    // The host's devices are offered; Enable GPU picks the GPU class among them.
    await advanced.getByRole('checkbox', { name: gpu }).waitFor();
    await advanced.getByRole('checkbox', { name: 'Enable GPU' }).check();
    expect(await advanced.getByLabel('CDI devices').inputValue()).toBe(gpu);
    await waitForText(advanced.getByRole('note'), 'Devices are applied when the container is created; changing them needs a recreate.');
    await advanced.getByRole('button', { name: 'Save devices' }).click();
    await waitForText(advanced, 'Saved to the bot');
    expect((await api.getBot(botName)).cdiDevices).toEqual([gpu]);
    await waitForText(advanced, 'Recreate the container to apply them');
    await screenshot(page, '05-advanced-options');

    await advanced.getByRole('button', { name: 'Recreate' }).click();
    const dialog = page.getByRole('dialog');
    await waitForText(dialog, 'data in /data is kept');
    await dialog.getByRole('button', { name: 'Recreate' }).click();
    await page.locator('.progress-panel[data-status="succeeded"]').waitFor({ timeout: 90_000 });
    await waitForText(info('cdi'), gpu);
    await waitForText(info('version'), '2');
    await waitForText(advanced.getByTestId('effective-devices'), gpu);
    const container = await api.getContainer(botName);
    expect(container.cdiDevices).toEqual([gpu]);
    expect(container.devices).toContainEqual({ hostPath: '/dev/null', containerPath: '/dev/berth-web-gpu' });
  });

  it('explains an unknown CDI device with the engine’s words', async () => {
    const advanced = page.locator('details.advanced');
    await advanced.getByLabel('CDI devices').fill(`${gpu}, ${cdiKind}=nope`);
    await advanced.getByRole('button', { name: 'Save devices' }).click();
    await waitForText(advanced, 'Saved to the bot');
    await advanced.getByRole('button', { name: 'Recreate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Recreate' }).click();
    await page.locator('.progress-panel[data-status="failed"]').waitFor({ timeout: 60_000 });
    const alert = await waitForText(panel().getByRole('alert'), 'unresolvable CDI devices');
    expect(alert).toContain(`${cdiKind}=nope`);
    // In plain words: which of the two is missing (the engine's own message names both).
    expect(alert).toContain(`Not declared in this host’s CDI specs: ${cdiKind}=nope. No container was made.`);
    await screenshot(page, '06-cdi-error');
    // The container it had is untouched.
    expect((await api.getContainer(botName)).cdiDevices).toEqual([gpu]);
    await api.updateBot(botName, { cdiDevices: [gpu] });
  });

  /** A tar.gz holding the given files, made with tar(1) in a temp dir. */
  function archive(name: string, files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-archive-'));
    temps.push(dir);
    fs.mkdirSync(path.join(dir, 'content'));
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'content', f), text);
    const out = path.join(dir, name);
    execFileSync('tar', ['-czf', out, '-C', path.join(dir, 'content'), '.']);
    return out;
  }

  /** The names in the bot's data dir, read through the API's export. */
  async function dataFiles(): Promise<string[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-export-'));
    temps.push(dir);
    const file = path.join(dir, 'export.tar.gz');
    fs.writeFileSync(file, Buffer.from(await (await api.exportData(botName)).arrayBuffer()));
    return listArchive(file);
  }

  function listArchive(file: string): string[] {
    return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.replace(/^\.\//, '').replace(/\/$/, ''))
      .filter((l) => l && l !== '.')
      .sort();
  }

  const dataCard = () => page.locator('section', { has: page.getByRole('heading', { name: 'Data', exact: true }) });
  const snapshotsCard = () => page.locator('section', { has: page.getByRole('heading', { name: 'Snapshots', exact: true }) });

  async function importFile(file: string, mode: 'Merge' | 'Replace') {
    await dataCard().getByLabel('Archive (.tar or .tar.gz)').setInputFiles(file);
    await dataCard().getByLabel(mode, { exact: false }).check();
    await dataCard().getByRole('button', { name: 'Import data' }).click();
    if (mode === 'Replace') await page.getByRole('dialog').getByRole('button', { name: 'Import and replace' }).click();
    return waitForText(dataCard().getByRole('status'), `from ${path.basename(file)}`);
  }

  async function takeSnapshot(name: string) {
    await snapshotsCard().getByRole('button', { name: 'Create snapshot' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Snapshot name').fill(name);
    await dialog.getByRole('button', { name: 'Create snapshot' }).click();
    await snapshotsCard().locator(`li[data-snapshot="${name}"]`).waitFor();
  }

  it('imports data with merge and replace, and exports it as a download', async () => {
    await page.goto(`${server.url}/bots/${botName}`);
    const merged = await importFile(archive('one.tar.gz', { 'one.txt': 'first file\n', 'keep.txt': 'kept\n' }), 'Merge');
    expect(merged).toContain('Imported 2 entries');
    expect(await dataFiles()).toEqual(['keep.txt', 'one.txt']);
    await screenshot(page, '08-data');

    await importFile(archive('replace.tar.gz', { 'one.txt': 'first file\n' }), 'Replace');
    expect(await dataFiles()).toEqual(['one.txt']);

    const [download] = await Promise.all([page.waitForEvent('download'), dataCard().getByRole('link', { name: 'Export data' }).click()]);
    expect(download.suggestedFilename()).toBe(`${botName}-data.tar.gz`);
    const saved = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-download-')), 'export.tar.gz');
    temps.push(path.dirname(saved));
    await download.saveAs(saved);
    expect(listArchive(saved)).toEqual(['one.txt']);
  });

  it('takes two snapshots, restores the first, and shows the tree with the version history growing', async () => {
    const versionRows = page.locator('.versions-table tbody tr');
    const versionsBefore = await versionRows.count();
    expect(versionsBefore).toBe(2);

    await takeSnapshot('first');
    await importFile(archive('two.tar.gz', { 'two.txt': 'second file\n' }), 'Merge');
    expect(await dataFiles()).toEqual(['one.txt', 'two.txt']);
    await takeSnapshot('second');
    // second descends from first.
    await snapshotsCard().locator('li[data-snapshot="first"] > ul > li[data-snapshot="second"]').waitFor();

    await snapshotsCard().getByRole('button', { name: 'Restore first' }).click();
    const dialog = page.getByRole('dialog');
    await waitForText(dialog, 'Running processes are restarted');
    await dialog.getByRole('button', { name: 'Restore' }).click();
    await waitForText(panel().getByRole('heading'), 'Restoring a snapshot: done', 90_000);
    expect(await dataFiles()).toEqual(['one.txt']);
    await waitForText(info('status'), 'running');

    // The state that was left is kept as an automatic snapshot under second; then a third from first.
    await snapshotsCard().locator('li[data-snapshot="second"] li .badge', { hasText: 'auto' }).waitFor();
    await takeSnapshot('third');
    const tree = snapshotsCard();
    await tree.locator('li[data-snapshot="first"] > ul > li[data-snapshot="third"]').waitFor();
    expect(await tree.locator('li[data-snapshot="first"] > ul > li[data-snapshot="second"]').count()).toBe(1);
    await waitForText(tree.locator('li[data-snapshot="third"] .snapshot'), 'current');
    await waitForText(tree.locator('li[data-snapshot="first"] .snapshot').first(), /\d{1,2}:\d{2}/);
    await waitForText(tree.locator('li[data-snapshot="first"] .snapshot').first(), /\d+(\.\d+)? (B|kB|MB)/);
    const { snapshots } = await api.listSnapshots(botName);
    const byName = new Map(snapshots.map((x) => [x.name, x]));
    expect(byName.get('second')?.parentId).toBe(byName.get('first')?.id);
    expect(byName.get('third')?.parentId).toBe(byName.get('first')?.id);

    // The restore built version 3, shown as current, from “first”.
    await page.locator('.versions-table tbody tr').nth(versionsBefore).waitFor();
    const newest = page.locator('.versions-table tbody tr').first();
    await waitForText(newest, 'restored from “first”');
    await waitForText(page.getByTestId('current-version'), 'version 3');
    expect((await api.listVersions(botName)).current).toBe(3);
    await screenshot(page, '09-snapshots-versions');

    await tree.getByRole('button', { name: 'Delete second' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete snapshot' }).click();
    await tree.locator('li[data-snapshot="second"]').waitFor({ state: 'detached' });
    // Its automatic child now hangs from first.
    await tree.locator('li[data-snapshot="first"] > ul > li .badge', { hasText: 'auto' }).waitFor();
  });

  it('restores the data directory to clean after a confirmation', async () => {
    await dataCard().getByRole('button', { name: 'Restore to clean' }).click();
    const dialog = page.getByRole('dialog');
    await waitForText(dialog, 'Everything in /data is deleted');
    await dialog.getByRole('button', { name: 'Delete all data' }).click();
    await waitForText(dataCard().getByRole('status'), '/data is empty again');
    expect(await dataFiles()).toEqual([]);
    expect((await api.getContainer(botName)).status).toBe('running');
  });

  it('creates, edits and saves a text file in Files, uploads one and downloads one', async () => {
    await page.getByRole('link', { name: 'Files' }).click();
    const folder = page.getByLabel('Folder');
    await page.locator('.files-table').waitFor();
    expect(await folder.inputValue()).toBe('/data');

    await page.getByRole('button', { name: 'New file' }).click();
    await page.getByRole('dialog').getByLabel('File name').fill('notes.txt');
    await page.getByRole('dialog').getByRole('button', { name: 'Create file' }).click();
    const editor = page.getByLabel('Content of /data/notes.txt');
    await editor.fill('hello from the web\n');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitForText(page.getByRole('status').filter({ hasText: 'Saved' }), 'Saved /data/notes.txt');
    expect(new TextDecoder().decode(await api.readFile(botName, '/data/notes.txt'))).toBe('hello from the web\n');

    // Opened again from the list, changed, and saved with Ctrl+S.
    await page.getByRole('button', { name: 'Close' }).click();
    await page.locator('tr[data-file="notes.txt"]').getByRole('button', { name: 'notes.txt', exact: true }).click();
    await editor.press('Control+End');
    await editor.pressSequentially('second line');
    await editor.press('Control+s');
    await waitForText(page.getByRole('status').filter({ hasText: 'Saved' }), 'Saved /data/notes.txt');
    expect(new TextDecoder().decode(await api.readFile(botName, '/data/notes.txt'))).toBe('hello from the web\nsecond line');
    await screenshot(page, '13-files');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);

    const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-upload-')), 'upload.txt');
    temps.push(path.dirname(local));
    fs.writeFileSync(local, 'uploaded through the browser\n');
    await page.locator('input[type="file"]').setInputFiles(local);
    await page.locator('tr[data-file="upload.txt"]').waitFor();
    expect(new TextDecoder().decode(await api.readFile(botName, '/data/upload.txt'))).toBe('uploaded through the browser\n');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download notes.txt' }).click()]);
    const saved = path.join(path.dirname(local), 'notes-download.txt');
    await download.saveAs(saved);
    expect(fs.readFileSync(saved, 'utf8')).toBe('hello from the web\nsecond line');

    // Up to / and back into data/.
    await page.getByRole('button', { name: 'Up', exact: true }).click();
    await page.locator('tr[data-file="data"]').waitFor();
    expect(await folder.inputValue()).toBe('/');
    await page.locator('tr[data-file="data"]').getByRole('button').first().click();
    await page.locator('tr[data-file="notes.txt"]').waitFor();
  });

  it('runs a command in the Terminal', async () => {
    await page.getByRole('link', { name: 'Terminal' }).click();
    await waitForText(page.locator('.terminal-card [role="status"]'), 'Connected');
    await page.locator('.terminal-host').click();
    await page.keyboard.type('echo term-$((6*7)) > /data/from-terminal.txt; echo done-$((7*6))');
    await page.keyboard.press('Enter');
    await waitForText(page.locator('.terminal-host .xterm-rows'), 'done-42');
    expect(new TextDecoder().decode(await api.readFile(botName, '/data/from-terminal.txt'))).toBe('term-42\n');
    await screenshot(page, '14-terminal');
  });

  it('warns when the bot is over its disk limit and explains a refused save', async () => {
    await api.writeFile(botName, '/data/big.bin', new Uint8Array(2 * 1024 * 1024).fill(7));
    // A new limit is measured against at once: 2 MiB of data is over 1 MiB, and under the margin that stops it.
    await api.updateBot(botName, { diskLimitMb: 1 });
    await page.getByRole('link', { name: 'Container' }).click();
    await waitForText(page.locator('.notice.over[role="alert"]'), 'This bot is over its disk limit of 1 MiB');
    await waitForText(info('disk'), 'over the limit');
    await screenshot(page, '15-disk-limit-exceeded');

    await page.getByRole('link', { name: 'Files' }).click();
    await page.locator('tr[data-file="notes.txt"]').getByRole('button', { name: 'notes.txt', exact: true }).click();
    const editor = page.getByLabel('Content of /data/notes.txt');
    await editor.press('Control+End');
    await editor.pressSequentially('!');
    await editor.press('Control+s');
    const alert = await waitForText(page.getByRole('alert'), 'This bot is over its disk limit. Free some space');
    expect(alert).toContain('1 MiB disk limit');
    expect(new TextDecoder().decode(await api.readFile(botName, '/data/notes.txt'))).toBe('hello from the web\nsecond line');

    await api.deleteFile(botName, '/data/big.bin');
    await api.updateBot(botName, { diskLimitMb: 2048 });
    await page.getByRole('link', { name: 'Container' }).click();
    await page.locator('.notice.over').waitFor({ state: 'detached' });
    await waitForText(info('disk'), /MiB used of 2,?048 MiB/);
  });

  it('edits the settings and issues and revokes a token', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    await page.getByLabel('Memory (MB)').fill('512');
    await page.getByLabel('Environment variables').fill('GREETING=hello\nMODE=web');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await waitForText(page.getByRole('status').filter({ hasText: 'Saved' }), 'Recreate the container to apply');
    expect(await api.getBot(botName)).toMatchObject({ resources: { memoryMb: 512 }, env: { GREETING: 'hello', MODE: 'web' }, cdiDevices: [gpu] });

    // The disk limit round-trips: emptied means no limit; a number alone needs no recreate.
    const disk = page.getByLabel('Disk limit (MiB)');
    expect(await disk.inputValue()).toBe('2048');
    await disk.fill('');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await waitForText(page.getByRole('status').filter({ hasText: 'Saved' }), 'The disk limit applies at once');
    await expect.poll(async () => (await api.getBot(botName)).diskLimitMb, { timeout: 30_000 }).toBeNull();
    expect((await api.getContainer(botName)).diskLimit).toMatchObject({ mb: null, enforcement: 'none' });
    await disk.fill('4096');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await api.getBot(botName)).diskLimitMb, { timeout: 30_000 }).toBe(4096);
    await page.reload();
    expect(await page.getByLabel('Disk limit (MiB)').inputValue()).toBe('4096');

    await page.getByLabel('New token’s name').fill('agent');
    await page.getByRole('button', { name: 'Issue token' }).click();
    const secret = await waitForText(page.getByTestId('issued-token'), /^berth_bot_/);
    await screenshot(page, '10-settings');
    // The token shown reaches its bot's container info.
    expect((await new BerthClient({ baseUrl: server.url, token: secret.trim() }).getContainer(botName)).status).toBe('running');
    expect((await api.listTokens(botName)).map((t) => t.name)).toEqual(['agent']);
    await page.getByRole('button', { name: 'Revoke agent' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tr[data-token="agent"]').waitFor({ state: 'detached' });
    expect(await api.listTokens(botName)).toEqual([]);

    // Back on the Container tab the pending change is announced.
    await page.getByRole('link', { name: 'Container' }).click();
    await waitForText(page.locator('.notice').first(), 'settings changed since this container was made');
    await waitForText(info('disk'), /MiB used of 4,?096 MiB/);
  });

  it('is usable with the keyboard: a confirmation opens with Enter, takes the focus and Escape cancels it', async () => {
    const before = (await api.listOperations(botName, { limit: 1 }))[0]?.id;
    await page.getByRole('button', { name: 'Recreate', exact: true }).first().focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await page.evaluate('document.activeElement?.closest("dialog") !== null')).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect((await api.listOperations(botName, { limit: 1 }))[0]?.id).toBe(before);
  });

  it('fits a narrow window', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const pages = [
        [`/bots/${botName}`, '11-narrow-bot', 'dl.info'],
        ['/', '12-narrow-bots', `tr[data-bot="${botName}"]`],
        [`/bots/${botName}/files`, '12b-narrow-files', 'tr[data-file="notes.txt"]'],
      ] as const;
      for (const [address, name, ready] of pages) {
        await page.goto(`${server.url}${address}`);
        await page.locator(ready).waitFor();
        // Nothing wider than the window: long IDs and paths wrap, tables scroll inside their box.
        expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
        await screenshot(page, name);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('lists bots with live status and logs out', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bots' }).click();
    const row = page.locator(`tr[data-bot="${botName}"]`);
    await waitForText(row, 'running');
    await api.stopContainer(botName);
    await waitForText(row.locator('.badge'), 'stopped');
    const other = `web-${run}-b`;
    await api.createBot({ name: other });
    await page.locator(`tr[data-bot="${other}"]`).waitFor();
    await screenshot(page, '07-bots');
    await api.startContainer(botName);

    // Deleting a bot asks for its name.
    await page.getByRole('link', { name: other }).click();
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Delete bot…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(`Type ${other} to confirm`).fill(other);
    await dialog.getByRole('button', { name: 'Delete bot' }).click();
    await page.getByRole('heading', { name: 'Bots' }).waitFor();
    await page.locator(`tr[data-bot="${other}"]`).waitFor({ state: 'detached' });
    expect((await api.listBots()).map((b) => b.name)).toEqual([botName]);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect((await browser.context.cookies(server.url)).find((c) => c.name === 'berth_session')).toBeUndefined();
  });
});
