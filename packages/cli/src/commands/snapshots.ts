import type { Command } from 'commander';
import type { Snapshot, SnapshotList, VersionList } from '@berth/contract';
import { connect, print, serverUrl } from '../connection.js';
import type { GlobalOptions } from '../global-options.js';
import { followOperation } from '../progress.js';

export function registerSnapshots(program: Command, global: () => GlobalOptions): void {
  const snapshots = program.command('snapshots').description('a bot’s snapshots: take, list (as a tree), restore, delete');

  snapshots
    .command('list <bot>')
    .description('the snapshots as a tree; * marks the head (what the current state descends from)')
    .action(async (bot: string) => {
      const g = global();
      const list = await connect(g).listSnapshots(bot);
      if (g.json) return print(list, true);
      process.stdout.write(renderTree(list));
    });

  snapshots
    .command('create <bot> <name>')
    .description('snapshot the container (root filesystem changes and data dir); a running one keeps running')
    .action(async (bot: string, name: string) => print(await connect(global()).createSnapshot(bot, { name }), global().json));

  snapshots
    .command('restore <bot> <snapshot>')
    .description('restore a snapshot (id or name), showing progress; the state left is saved first as an automatic snapshot')
    .option('--no-keep-current', 'do not save the current state first')
    .action(async (bot: string, snapshot: string, o: { keepCurrent: boolean }) => {
      const g = global();
      const client = connect(g);
      await followOperation(client.restoreSnapshotStream(bot, snapshot, { keepCurrent: o.keepCurrent }), { asJson: g.json, bot, client, url: serverUrl(g) });
    });

  snapshots
    .command('delete <bot> <snapshot>')
    .description('delete a snapshot; its children take its parent as theirs')
    .action(async (bot: string, snapshot: string) => {
      await connect(global()).deleteSnapshot(bot, snapshot);
      process.stdout.write(`snapshot ${snapshot} of ${bot} deleted\n`);
    });

  program
    .command('versions <bot>')
    .description('the current container version and the history of every instance built for the bot')
    .action(async (bot: string) => {
      const g = global();
      const versions = await connect(g).listVersions(bot);
      if (g.json) return print(versions, true);
      process.stdout.write(renderVersions(versions));
    });
}

export function renderTree(list: SnapshotList): string {
  const byParent = new Map<string | null, Snapshot[]>();
  const ids = new Set(list.snapshots.map((s) => s.id));
  for (const s of list.snapshots) {
    const parent = s.parentId && ids.has(s.parentId) ? s.parentId : null;
    byParent.set(parent, [...(byParent.get(parent) ?? []), s]);
  }
  const lines: string[] = [];
  const visit = (s: Snapshot, depth: number) => {
    const head = s.id === list.head ? '*' : ' ';
    const notes = [s.source === 'auto' ? 'auto' : '', s.missing.length > 0 ? `MISSING ${s.missing.join('+')}` : ''].filter(Boolean).join(', ');
    lines.push(`${head} ${'  '.repeat(depth)}${depth > 0 ? '└ ' : ''}${s.name}  ${s.createdAt}  v${s.version}  ${mb(s.sizeBytes)}  ${s.id}${notes ? `  (${notes})` : ''}`);
    for (const child of byParent.get(s.id) ?? []) visit(child, depth + 1);
  };
  for (const root of byParent.get(null) ?? []) visit(root, 0);
  if (lines.length === 0) lines.push('no snapshots');
  return `${lines.join('\n')}\n`;
}

function renderVersions(v: VersionList): string {
  const lines = [`current version ${v.current}`];
  for (const h of [...v.history].reverse()) {
    lines.push(`v${h.version}  ${h.createdAt}  ${h.reason.padEnd(8)}  ${h.image}${h.snapshotId ? `  from ${h.snapshotId}` : ''}${h.cdiDevices.length > 0 ? `  cdi ${h.cdiDevices.join(',')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function mb(n: number): string {
  return n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}
