import { describe, expect, it } from 'vitest';
import { BerthClient } from './client.js';

/** Every request the low-level client sends, as "METHOD path?query", answered with `{}` (or an empty stream). */
function recordingClient(baseUrl = 'http://berth.test') {
  const sent: string[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const u = new URL(url, 'http://page.test');
    sent.push(`${init.method} ${u.pathname}${u.search}`);
    if ((init.headers as Record<string, string>).accept === 'text/event-stream') return new Response('', { headers: { 'content-type': 'text/event-stream' } });
    if (u.pathname.endsWith('/files') && init.method === 'GET') {
      const dir = u.searchParams.get('path') === 'dir';
      return new Response(dir ? '{"path":"/data/dir","entries":[],"truncated":false}' : 'x', { headers: { 'x-berth-file-type': dir ? 'directory' : 'file' } });
    }
    return Response.json({ bots: [], tokens: [], tasks: [], operations: [], devices: [], operation: {}, task: {} });
  }) as unknown as typeof fetch;
  return { sent, client: new BerthClient({ baseUrl, token: 't', fetch: fetchImpl }) };
}

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it) void _;
}

describe('BerthClient (the low-level client the CLI and web UI use)', () => {
  it('sends each method to its route', async () => {
    const { sent, client } = recordingClient();
    const b = 'al pha';
    await client.createBot({ name: 'alpha' });
    await client.listBots();
    await client.getBot(b);
    await client.updateBot(b, { image: 'x' });
    await client.deleteBot(b);
    await client.createContainer(b, { recreate: true });
    await drain(client.createContainerStream(b));
    await client.getContainer(b);
    await client.startContainer(b);
    await client.stopContainer(b, { timeoutSeconds: 5 });
    await client.deleteContainer(b, { purgeData: true });
    await client.createToken(b, { name: 'n' });
    await client.listTokens(b);
    await client.revokeToken(b, 'tok_1');
    await client.login('secret');
    await client.logout();
    await client.listOperations(b, { limit: 3 });
    await client.createSnapshot(b, { name: 's' });
    await client.listSnapshots(b);
    await client.getSnapshot(b, 's');
    await client.restoreSnapshot(b, 's');
    await drain(client.restoreSnapshotStream(b, 's', { keepCurrent: false }));
    await client.deleteSnapshot(b, 's');
    await client.listVersions(b);
    await client.exportData(b);
    await client.importData(b, new Uint8Array(1), { mode: 'replace' });
    await client.resetData(b);
    await client.exec(b, { command: 'ls' });
    await drain(client.execStream(b, { command: 'ls' }));
    await client.startTask(b, { command: 'sleep 1' });
    await client.listTasks(b);
    await client.getTask(b, 'task_1', { tail: 10 });
    await client.killTask(b, 'task_1');
    await client.waitTask(b, 'task_1', { timeoutSeconds: 5 });
    await client.readTaskOutput(b, 'task_1', { stream: 'stderr', offset: 3, length: 4 });
    await client.readFileResponse(b, 'a/b.txt', { offset: 1, length: 2 });
    await client.readFile(b, 'a');
    await client.listFiles(b, 'dir');
    await client.writeFile(b, 'a', 'x', { mode: '0600' });
    await client.deleteFile(b, 'a', { recursive: true });
    await client.editFile(b, { path: 'a', oldText: 'x', newText: 'y' });
    await client.moveFile(b, { from: 'a', to: 'b' });
    await client.makeDirectory(b, 'a/b');
    await client.globFiles(b, '**/*.ts', { path: 'src', limit: 7 });
    await client.getOperation('op_1');
    await drain(client.operationEvents('op_1', { lastEventId: 4 }));
    await drain(client.changes());
    await client.info();
    await client.cdiDevices();
    const bot = '/api/v1/bots/al%20pha';
    expect(sent).toEqual([
      'POST /api/v1/bots',
      'GET /api/v1/bots',
      `GET ${bot}`,
      `PATCH ${bot}`,
      `DELETE ${bot}`,
      `POST ${bot}/container`,
      `POST ${bot}/container`,
      `GET ${bot}/container`,
      `POST ${bot}/container/start`,
      `POST ${bot}/container/stop`,
      `DELETE ${bot}/container?purgeData=true`,
      `POST ${bot}/tokens`,
      `GET ${bot}/tokens`,
      `DELETE ${bot}/tokens/tok_1`,
      'POST /api/v1/session',
      'DELETE /api/v1/session',
      `GET ${bot}/operations?limit=3`,
      `POST ${bot}/snapshots`,
      `GET ${bot}/snapshots`,
      `GET ${bot}/snapshots/s`,
      `POST ${bot}/snapshots/s/restore`,
      `POST ${bot}/snapshots/s/restore`,
      `DELETE ${bot}/snapshots/s`,
      `GET ${bot}/versions`,
      `GET ${bot}/data/export`,
      `POST ${bot}/data/import?mode=replace`,
      `POST ${bot}/data/reset`,
      `POST ${bot}/exec`,
      `POST ${bot}/exec`,
      `POST ${bot}/exec`,
      `GET ${bot}/tasks`,
      `GET ${bot}/tasks/task_1?tail=10`,
      `DELETE ${bot}/tasks/task_1`,
      `GET ${bot}/tasks/task_1/wait?timeoutSeconds=5`,
      `GET ${bot}/tasks/task_1/output?stream=stderr&offset=3&length=4`,
      `GET ${bot}/files?path=a%2Fb.txt&offset=1&length=2`,
      `GET ${bot}/files?path=a`,
      `GET ${bot}/files?path=dir`,
      `PUT ${bot}/files?path=a&mode=0600`,
      `DELETE ${bot}/files?path=a&recursive=true`,
      `POST ${bot}/files/edit`,
      `POST ${bot}/files/move`,
      `POST ${bot}/files/mkdir`,
      `GET ${bot}/files/glob?pattern=**%2F*.ts&path=src&limit=7`,
      'GET /api/v1/operations/op_1',
      'GET /api/v1/operations/op_1/events',
      'GET /api/v1/events',
      'GET /api/v1/info',
      'GET /api/v1/cdi/devices',
    ]);
  });

  it('gives the terminal a WebSocket URL, on the page’s origin when the base URL is empty', () => {
    expect(recordingClient('https://berth.example/').client.terminalUrl('alpha', { cols: 80 })).toBe('wss://berth.example/api/v1/bots/alpha/terminal?cols=80');
    const g = globalThis as { location?: { origin: string } };
    const before = g.location;
    g.location = { origin: 'http://page.test' };
    try {
      expect(recordingClient('').client.terminalUrl('alpha')).toBe('ws://page.test/api/v1/bots/alpha/terminal');
    } finally {
      g.location = before;
    }
  });
});
