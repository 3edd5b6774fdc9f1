import { BerthApiError, type Operation } from '@berth/contract';
import { describe, expect, it } from 'vitest';
import { Berth } from './berth.js';
import { BerthClient } from './client.js';
import { OperationFailedError } from './errors.js';

type Answer = Response | Error;

/** A fake server: each "METHOD path" answers from its list in turn (the last one repeats); an Error is thrown as fetch throws. */
function fakeServer(script: Record<string, (req: { headers: Record<string, string> }) => Answer>) {
  const seen: string[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const key = `${init.method ?? 'GET'} ${new URL(url).pathname.replace('/api/v1', '')}`;
    seen.push(key);
    const handler = script[key];
    if (!handler) return Response.json({ error: { code: 'not_found', message: key, requestId: 'r' } }, { status: 404 });
    const answer = handler({ headers: (init.headers ?? {}) as Record<string, string> });
    if (answer instanceof Error) throw answer;
    return answer;
  }) as unknown as typeof fetch;
  const options = { baseUrl: 'http://berth.test', token: 't', fetch: fetchImpl };
  return { seen, berth: new Berth(options), client: new BerthClient(options) };
}

/** An SSE body with these frames that then ends cleanly, or is cut (fetch's TypeError "terminated"). */
function sse(frames: [event: string, id: number | null, data: unknown][], end: 'ends' | 'cut' = 'ends'): Response {
  const text = frames.map(([e, id, d]) => `event: ${e}\n${id === null ? '' : `id: ${id}\n`}data: ${JSON.stringify(d)}\n\n`).join('');
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      // Erroring only once the frames were read: an error discards what is still queued.
      if (!sent) controller.enqueue(new TextEncoder().encode(text));
      else if (end === 'ends') controller.close();
      else controller.error(new TypeError('terminated'));
      sent = true;
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

/** What fetch throws when nothing listens on the port. */
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7070'), { code: 'ECONNREFUSED' }) });
const unavailable = () => new Response('Bad Gateway', { status: 502, statusText: 'Bad Gateway' });

const op = (status: Operation['status'], error: Operation['error'] = null) => ({ id: 'op_1', botId: 'bot_1', kind: 'create', status, phase: null, error, startedAt: 't', finishedAt: status === 'running' ? null : 't' });
const container = { id: 'c1', botId: 'bot_1', status: 'running' };

/** Answers from a list in turn, the last one for every call after. */
function inTurn(...answers: (() => Answer)[]) {
  let n = 0;
  const headers: Record<string, string>[] = [];
  const handler = (req: { headers: Record<string, string> }) => {
    headers.push(req.headers);
    return answers[Math.min(n++, answers.length - 1)]!();
  };
  return Object.assign(handler, { headers });
}

describe('an exec stream that ends before its exit', () => {
  for (const end of ['ends', 'cut'] as const) {
    it(`throws a BerthApiError when the stream ${end === 'ends' ? 'ends quietly' : 'is cut'}; the low-level stream yields it as its error event`, async () => {
      const { berth, client } = fakeServer({ 'POST /bots/b/exec': () => sse([['stdout', null, { data: 'hi\n', encoding: 'utf8' }]], end) });
      const got: string[] = [];
      const err = await (async () => {
        for await (const ev of berth.bots.get('b').execStream('ls')) got.push(ev.event);
      })().catch((e: unknown) => e);
      expect(got).toEqual(['stdout']);
      expect(err).toBeInstanceOf(BerthApiError);
      expect(err).toMatchObject({ code: 'internal', status: 500, details: { streamEnded: true } });
      expect((err as Error).message).toMatch(/ended before the command’s exit was known/);

      const raw: { event: string; data: unknown }[] = [];
      for await (const ev of client.execStream('b', { command: 'ls' })) raw.push(ev);
      expect(raw.map((e) => e.event)).toEqual(['stdout', 'error']);
      expect(raw[1]!.data).toMatchObject({ code: 'internal', details: { streamEnded: true } });
    });
  }

  it('still ends quietly after its exit', async () => {
    const { berth } = fakeServer({ 'POST /bots/b/exec': () => sse([['exit', null, { exitCode: 3, timedOut: false }]]) });
    const got: unknown[] = [];
    for await (const ev of berth.bots.get('b').execStream('ls')) got.push(ev.data);
    expect(got).toEqual([{ exitCode: 3, timedOut: false }]);
  });
});

describe('following an operation across a server restart', () => {
  it('tries a refused or 502 reconnect again until the stream answers, resuming with Last-Event-ID', async () => {
    const events = inTurn(
      () => sse([['phase', 2, { phase: 'pull', message: '' }]], 'cut'),
      refused,
      refused,
      unavailable,
      () => sse([['done', 3, { container }]]),
    );
    const get = inTurn(() => Response.json(op('running')), refused, () => Response.json(op('succeeded')));
    const { berth } = fakeServer({ 'GET /operations/op_1': get, 'GET /operations/op_1/events': events });
    const seen: string[] = [];
    expect(await berth.operations.wait('op_1', { onEvent: (e) => seen.push(e.event) })).toMatchObject({ status: 'succeeded' });
    expect(seen).toEqual(['phase', 'done']);
    expect(events.headers.at(-1)!['last-event-id']).toBe('2');
  });

  it('a create whose stream is cut reports the operation’s end from the restarted server', async () => {
    const { berth } = fakeServer({
      'POST /bots/alpha/container': () => sse([['operation', 1, { id: 'op_1', kind: 'create', botId: 'bot_1' }]], 'cut'),
      'GET /operations/op_1/events': inTurn(refused, refused, () => sse([['done', 2, { container }]])),
    });
    expect(await berth.bots.get('alpha').container.create()).toEqual(container);
  });

  it('a 204 after the restart means over: a failed operation throws its error from the record', async () => {
    const interrupted = { code: 'internal', message: 'the operation was interrupted because the Berth server stopped' };
    const { berth } = fakeServer({
      'GET /operations/op_1': inTurn(refused, () => Response.json(op('failed', interrupted))),
      'GET /operations/op_1/events': inTurn(refused, () => new Response(null, { status: 204 })),
    });
    const err = await (async () => {
      for await (const _ of berth.operations.events('op_1', { lastEventId: 4 })) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect(err).toMatchObject({ code: 'internal', operationId: 'op_1', message: interrupted.message });
  });

  it('gives up with the connection’s failure once reconnectTimeoutMs has passed', async () => {
    const { berth } = fakeServer({ 'GET /operations/op_1/events': refused });
    const err = await (async () => {
      for await (const _ of berth.operations.events('op_1', { reconnectTimeoutMs: 300 })) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('fetch failed');
  });

  it('stops trying when the caller aborts', async () => {
    const { berth } = fakeServer({ 'GET /operations/op_1/events': refused });
    const abort = new AbortController();
    const following = (async () => {
      for await (const _ of berth.operations.events('op_1', { signal: abort.signal })) void _;
    })().catch((e: unknown) => e);
    setTimeout(() => abort.abort(new Error('caller gave up')), 300);
    expect(await following).toMatchObject({ message: 'caller gave up' });
  });

  it('does not retry an answer that a restart does not cure', async () => {
    const { berth, seen } = fakeServer({ 'GET /operations/op_1/events': () => Response.json({ error: { code: 'operation_not_found', message: 'no operation "op_1"', requestId: 'r' } }, { status: 404 }) });
    await expect(berth.operations.events('op_1').next()).rejects.toMatchObject({ code: 'operation_not_found' });
    expect(seen).toEqual(['GET /operations/op_1/events']);
  });
});
