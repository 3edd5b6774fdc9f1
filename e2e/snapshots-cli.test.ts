import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SnapshotList } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { runCli, startServer, type ServerProcess } from './server-process.js';

/** `berth snapshots` and `berth versions` with the built CLI against the built server, and a kill -9 mid-snapshot. */
describe('berth snapshots', () => {
  let server: ServerProcess;
  const id = randomBytes(3).toString('hex');

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    if (!server) return;
    const client = new BerthClient({ baseUrl: server.url, token: server.token });
    for (const b of await client.listBots().catch(() => [])) await client.deleteBot(b.id).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
  });

  function berth(...args: string[]) {
    return runCli(server, args);
  }

  it('takes, lists as a tree, restores with progress and deletes snapshots; shows versions', async () => {
    const name = `snapcli-${id}`;
    await berth('bots', 'create', name);
    await berth('container', 'create', name);
    await berth('snapshots', 'create', name, 'a');
    await berth('snapshots', 'create', name, 'b');
    const restored = await berth('snapshots', 'restore', name, 'a');
    expect(restored.stdout).toMatch(/\[snapshot\] saving the current state as auto-before-restore-/);
    expect(restored.stdout).toMatch(/\[ready\] the container is running\ndone\n$/);
    await berth('snapshots', 'create', name, 'c');

    const tree = (await berth('snapshots', 'list', name)).stdout.split('\n');
    // a at the root; b and c under it; the automatic snapshot under b; the head (*) is c.
    expect(tree[0]).toMatch(/^ {2}a {2}/);
    expect(tree.find((l) => / b {2}/.test(l))).toMatch(/^ {4}└ b/);
    expect(tree.find((l) => /auto-before-restore/.test(l))).toMatch(/^ {6}└ auto-before-restore-\S+ .*\(auto\)$/);
    expect(tree.find((l) => / c {2}/.test(l))).toMatch(/^\* {3}└ c/);

    const list = JSON.parse((await berth('--json', 'snapshots', 'list', name)).stdout) as SnapshotList;
    expect(list.snapshots.map((s) => s.name)).toEqual(['a', 'b', expect.stringMatching(/^auto-before-restore-/), 'c']);

    const versions = (await berth('versions', name)).stdout;
    expect(versions).toMatch(/^current version 2\nv2 .* restore .* from snap_[0-9a-f]+\nv1 .* create /);

    await berth('snapshots', 'delete', name, 'a');
    const after = JSON.parse((await berth('--json', 'snapshots', 'list', name)).stdout) as SnapshotList;
    expect(after.snapshots.filter((s) => s.parentId === null).map((s) => s.name)).toEqual(['b', 'c']);
    await expect(berth('snapshots', 'restore', name, 'a')).rejects.toMatchObject({ stderr: expect.stringContaining('snapshot_not_found') });
  });

  it('recovers from a kill -9 mid-snapshot: the operation failed, the container running, no half tree left', async () => {
    let client = new BerthClient({ baseUrl: server.url, token: server.token });
    const bot = await client.createBot({ name: `snapcrash-${id}` });
    for await (const ev of client.createContainerStream(bot.id)) if (ev.event === 'error') throw new Error(JSON.stringify(ev.data));
    const container = await client.getContainer(bot.id);
    // Enough data that the copy is still under way when the process is killed.
    const data = container.paths.host;
    for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(data, `f${i}`), randomBytes(100 * 1024));
    const root = path.join(path.dirname(data), 'snapshots');
    const staging = () => (fs.existsSync(root) ? fs.readdirSync(root).filter((n) => n.startsWith('.staging-')) : []);

    const pending = client.createSnapshot(bot.id, { name: 'cut' }).catch((err: unknown) => err);
    while (staging().length === 0) await new Promise((r) => setTimeout(r, 10));
    await server.kill('SIGKILL');
    await pending;
    // As if the kill had come while the container was frozen for the commit.
    execFileSync('podman', ['pause', container.id]);

    server = await startServer({ home: server.home, token: server.token });
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    const [op] = (await client.listOperations(bot.id)).filter((o) => o.kind === 'snapshot');
    expect(op).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/interrupted/) } });
    expect(execFileSync('podman', ['inspect', '--format', '{{.State.Status}}', container.id], { encoding: 'utf8' }).trim()).toBe('running');
    expect(staging()).toEqual([]);
    expect(await client.listSnapshots(bot.id)).toEqual({ snapshots: [], head: null });
    expect(fs.readdirSync(data)).toHaveLength(1500);
    // And the next snapshot works.
    expect(await client.createSnapshot(bot.id, { name: 'after' })).toMatchObject({ name: 'after', parentId: null });
    await client.deleteBot(bot.id);
  });
});
