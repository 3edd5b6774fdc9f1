import { BerthApiError, type Operation } from '@berth/contract';
import { describe, expect, it } from 'vitest';
import { Berth } from './berth.js';
import { BerthClient } from './client.js';
import { OperationFailedError } from './errors.js';

/** A fake server: answers by "METHOD path" (query left out), records each request. */
function fakeServer(handlers: Record<string, (req: { url: URL; headers: Record<string, string>; n: number }) => Response>) {
  const seen: string[] = [];
  const counts = new Map<string, number>();
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const u = new URL(url);
    const key = `${init.method ?? 'GET'} ${u.pathname.replace('/api/v1', '')}`;
    seen.push(key);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const handler = handlers[key];
    if (!handler) return Response.json({ error: { code: 'not_found', message: key, requestId: 'r' } }, { status: 404 });
    return handler({ url: u, headers: (init.headers ?? {}) as Record<string, string>, n });
  }) as unknown as typeof fetch;
  return { seen, berth: new Berth({ baseUrl: 'http://berth.test', token: 't', fetch: fetchImpl }), client: new BerthClient({ baseUrl: 'http://berth.test', token: 't', fetch: fetchImpl }) };
}

function sse(frames: [event: string, id: number, data: unknown][]): Response {
  const text = frames.map(([e, id, d]) => `event: ${e}\nid: ${id}\ndata: ${JSON.stringify(d)}\n\n`).join('');
  return new Response(text, { headers: { 'content-type': 'text/event-stream' } });
}

const bot = { id: 'bot_1', name: 'alpha' };
const container = { id: 'c1', botId: 'bot_1', status: 'running' };
const op = (status: Operation['status'], error: Operation['error'] = null) => ({ id: 'op_1', botId: 'bot_1', kind: 'create', status, phase: null, error, startedAt: 't', finishedAt: status === 'running' ? null : 't' });
const started: [string, number, unknown] = ['operation', 1, { id: 'op_1', kind: 'create', botId: 'bot_1' }];

describe('bots.create with a container', () => {
  it('resolves with the handle once the container runs, reporting progress on the way', async () => {
    const { berth, seen } = fakeServer({
      'POST /bots': () => Response.json(bot, { status: 201 }),
      'POST /bots/bot_1/container': ({ headers }) => {
        expect(headers.accept).toBe('text/event-stream');
        return sse([started, ['phase', 2, { phase: 'pull', message: 'pulling' }], ['done', 3, { container }]]);
      },
    });
    const events: string[] = [];
    const handle = await berth.bots.create({ name: 'alpha' }, { container: true, onEvent: (e) => events.push(e.event) });
    expect(handle.ref).toBe('bot_1');
    expect(handle.record).toEqual(bot);
    expect(events).toEqual(['operation', 'phase', 'done']);
    expect(seen).toEqual(['POST /bots', 'POST /bots/bot_1/container']);
  });

  it('throws the failed operation’s error, where the low-level stream yields it and ends', async () => {
    const failing = () => sse([started, ['error', 2, { code: 'image_not_found', message: 'no such image', details: { image: 'x' } }]]);
    const { berth, client } = fakeServer({ 'POST /bots': () => Response.json(bot, { status: 201 }), 'POST /bots/bot_1/container': failing });
    const err = await berth.bots.create({ name: 'alpha' }, { container: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect(err).toBeInstanceOf(BerthApiError);
    expect(err).toMatchObject({ code: 'image_not_found', status: 404, operationId: 'op_1', details: { image: 'x' } });

    const seen: string[] = [];
    for await (const ev of client.createContainerStream('bot_1')) seen.push(ev.event);
    expect(seen).toEqual(['operation', 'error']);
  });

  it('a create stream cut before the end is followed from the last event by the operation’s id', async () => {
    const { berth, seen } = fakeServer({
      'POST /bots/alpha/container': () => sse([started, ['phase', 2, { phase: 'pull', message: '' }]]),
      'GET /operations/op_1': () => Response.json(op('running')),
      'GET /operations/op_1/events': ({ headers }) => {
        expect(headers['last-event-id']).toBe('2');
        return sse([['done', 3, { container }]]);
      },
    });
    expect(await berth.bots.get('alpha').container.create()).toEqual(container);
    expect(seen).toEqual(['POST /bots/alpha/container', 'GET /operations/op_1/events']);
  });

  it('a refused create (HTTP error) throws before any operation', async () => {
    const { berth } = fakeServer({
      'POST /bots/alpha/container': () => Response.json({ error: { code: 'container_exists', message: 'exists', requestId: 'r9' } }, { status: 409 }),
    });
    await expect(berth.bots.get('alpha').container.create()).rejects.toMatchObject({ code: 'container_exists', status: 409, requestId: 'r9' });
  });
});

describe('operations.wait', () => {
  it('resolves with the finished operation, following its events while it runs', async () => {
    const { berth } = fakeServer({
      'GET /operations/op_1': ({ n }) => Response.json(op(n === 1 ? 'running' : 'succeeded')),
      'GET /operations/op_1/events': () => sse([started, ['done', 2, { container }]]),
    });
    const events: string[] = [];
    expect(await berth.operations.wait('op_1', { onEvent: (e) => events.push(e.event) })).toMatchObject({ status: 'succeeded' });
    expect(events).toEqual(['operation', 'done']);
  });

  it('waits out the moment between the last event and the record being closed', async () => {
    const { berth } = fakeServer({
      'GET /operations/op_1': ({ n }) => Response.json(op(n <= 2 ? 'running' : 'succeeded')),
      'GET /operations/op_1/events': () => sse([['done', 2, { container }]]),
    });
    expect(await berth.operations.wait('op_1')).toMatchObject({ status: 'succeeded' });
  });

  it('throws a failed operation’s error, whether it failed before or while waiting', async () => {
    const failed = op('failed', { code: 'cdi_unresolvable', message: 'unresolvable CDI devices: x' });
    const before = fakeServer({ 'GET /operations/op_1': () => Response.json(failed) });
    await expect(before.berth.operations.wait('op_1')).rejects.toMatchObject({ code: 'cdi_unresolvable', status: 400, operationId: 'op_1' });

    const during = fakeServer({
      'GET /operations/op_1': () => Response.json(op('running')),
      'GET /operations/op_1/events': () => sse([['error', 4, { code: 'runtime_unavailable', message: 'engine gone' }]]),
    });
    await expect(during.berth.operations.wait('op_1')).rejects.toMatchObject({ code: 'runtime_unavailable', status: 503 });
  });

  it('a finished operation’s stream answering 204 ends by the record', async () => {
    const { berth } = fakeServer({
      'GET /operations/op_1': ({ n }) => Response.json(op(n === 1 ? 'running' : 'succeeded')),
      'GET /operations/op_1/events': () => new Response(null, { status: 204 }),
    });
    expect(await berth.operations.wait('op_1')).toMatchObject({ status: 'succeeded' });
  });
});

describe('the bot handle', () => {
  it('addresses every call by the ref it was made with, sending nothing until used', async () => {
    const { berth, seen } = fakeServer({
      'POST /bots/my-bot/exec': () => Response.json({ exitCode: 0, stdout: 'hi\n' }),
      'GET /bots/my-bot/files': ({ url }) => {
        expect(url.searchParams.get('path')).toBe('notes/a.txt');
        return new Response('hello', { headers: { 'x-berth-file-type': 'file', 'x-berth-file-size': '5', 'x-berth-file-mode': '0644' } });
      },
      'DELETE /bots/my-bot/snapshots/s1': () => new Response(null, { status: 204 }),
    });
    const handle = berth.bots.get('my-bot');
    expect(seen).toEqual([]);
    expect((await handle.exec(['echo', 'hi'])).stdout).toBe('hi\n');
    const file = await handle.files.read('notes/a.txt');
    expect({ size: file.size, mode: file.mode, truncated: file.truncated }).toEqual({ size: 5, mode: '0644', truncated: false });
    expect(await file.text()).toBe('hello');
    await handle.snapshots.delete('s1');
    expect(seen).toEqual(['POST /bots/my-bot/exec', 'GET /bots/my-bot/files', 'DELETE /bots/my-bot/snapshots/s1']);
    expect(handle.terminalUrl({ cols: 80, rows: 24 })).toBe('ws://berth.test/api/v1/bots/my-bot/terminal?cols=80&rows=24');
  });

  it('throws an exec stream’s error event; the low-level stream yields it', async () => {
    const exec = () => sse([['stdout', 0, { data: 'a', encoding: 'utf8' }], ['error', 0, { code: 'container_not_running', message: 'stopped' }]]);
    const { berth, client } = fakeServer({ 'POST /bots/b/exec': exec });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const ev of berth.bots.get('b').execStream('ls')) got.push(ev.event);
      })(),
    ).rejects.toMatchObject({ code: 'container_not_running' });
    expect(got).toEqual(['stdout']);
    const raw: string[] = [];
    for await (const ev of client.execStream('b', { command: 'ls' })) raw.push(ev.event);
    expect(raw).toEqual(['stdout', 'error']);
  });
});

describe('berth.events', () => {
  it('yields each event with its id, and the change parsed when it is one; resumes with Last-Event-ID', async () => {
    const { berth } = fakeServer({
      'GET /events': ({ headers }) => {
        expect(headers['last-event-id']).toBe('41');
        return sse([
          ['ready', 0, { at: 't' }],
          ['bot.created', 42, { type: 'bot.created', botId: 'bot_1', at: 't' }],
        ]);
      },
    });
    const got = [];
    for await (const ev of berth.events({ lastEventId: '41' })) got.push(ev);
    expect(got.map((e) => [e.event, e.id, e.change?.botId])).toEqual([
      ['ready', '0', undefined],
      ['bot.created', '42', 'bot_1'],
    ]);
  });
});
