import { BerthApiError, routes } from '@berth/contract';
import { describe, expect, it } from 'vitest';
import { fillPath, queryString, toApiError, Transport } from './http.js';

describe('fillPath', () => {
  it('fills every slot, encoded', () => {
    expect(fillPath('/bots/{bot}/snapshots/{snap}/restore', { bot: 'alpha', snap: 'a b/../c?' })).toBe('/bots/alpha/snapshots/a%20b%2F..%2Fc%3F/restore');
    expect(fillPath('/bots')).toBe('/bots');
  });

  it('refuses a missing or empty parameter rather than call another path', () => {
    expect(() => fillPath('/bots/{bot}', {})).toThrow(/"bot"/);
    expect(() => fillPath('/bots/{bot}', { bot: '' })).toThrow(TypeError);
    expect(() => fillPath('/bots/{toString}', {})).toThrow(TypeError);
  });
});

describe('queryString', () => {
  it('keeps defined values only', () => {
    expect(queryString({ path: 'a b&c', offset: 0, recursive: undefined, on: true })).toBe('?path=a+b%26c&offset=0&on=true');
    expect(queryString({ x: undefined })).toBe('');
  });
});

describe('toApiError', () => {
  it('carries the envelope: code, status, message, details, requestId', async () => {
    const res = new Response(JSON.stringify({ error: { code: 'bot_not_found', message: 'no bot "x"', details: { bot: 'x' }, requestId: 'r1' } }), { status: 404 });
    const err = await toApiError(res);
    expect(err).toBeInstanceOf(BerthApiError);
    expect({ status: err.status, code: err.code, message: err.message, details: err.details, requestId: err.requestId }).toEqual({
      status: 404,
      code: 'bot_not_found',
      message: 'no bot "x"',
      details: { bot: 'x' },
      requestId: 'r1',
    });
  });

  it('names a code from the status when the answer is not Berth’s (a proxy’s page), with a bounded message', async () => {
    const res = new Response(`<html>${'x'.repeat(200_000)}</html>`, { status: 502, statusText: 'Bad Gateway', headers: { 'x-request-id': 'r2' } });
    const err = await toApiError(res);
    expect(err.code).toBe('internal');
    expect(err.status).toBe(502);
    expect(err.requestId).toBe('r2');
    expect(err.message.length).toBeLessThan(1000);
    expect((await toApiError(new Response('', { status: 401 }))).code).toBe('unauthorized');
    expect((await toApiError(new Response('{"error":1}', { status: 400 }))).code).toBe('validation_failed');
  });
});

describe('Transport', () => {
  function recording(answer: () => Response = () => Response.json({})) {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return answer();
    }) as unknown as typeof fetch;
    return { calls, fetchImpl };
  }

  it('sends the token, JSON and the CSRF header on a state change; a GET without them', async () => {
    const { calls, fetchImpl } = recording();
    const http = new Transport({ baseUrl: 'http://berth.test:7070/', token: 't0k', fetch: fetchImpl });
    await http.json(routes.lifecycle.updateBot, { params: { bot: 'alpha' }, body: { image: 'x' } });
    await http.json(routes.lifecycle.listBots, {});
    const [patch, list] = calls;
    expect(patch?.url).toBe('http://berth.test:7070/api/v1/bots/alpha');
    expect(patch?.init.method).toBe('PATCH');
    expect(patch?.init.body).toBe('{"image":"x"}');
    expect(patch?.init.headers).toMatchObject({ authorization: 'Bearer t0k', 'content-type': 'application/json', 'x-berth': '1' });
    expect(list?.init.headers).not.toHaveProperty('x-berth');
    expect(list?.init.headers).not.toHaveProperty('content-type');
  });

  it('streams an async iterable upload as it is read', async () => {
    const { calls, fetchImpl } = recording();
    const http = new Transport({ baseUrl: '', fetch: fetchImpl });
    async function* chunks() {
      yield new Uint8Array([1, 2]);
      yield new Uint8Array([3]);
    }
    await http.json(routes.files.write, { params: { bot: 'b' }, query: { path: 'f' }, upload: chunks() });
    const init = calls[0]!.init as RequestInit & { duplex?: string };
    expect(init.duplex).toBe('half');
    expect(init.headers).toMatchObject({ 'content-type': 'application/octet-stream' });
    expect(new Uint8Array(await new Response(init.body).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('throws the API error for any answer but 2xx', async () => {
    const { fetchImpl } = recording(() => Response.json({ error: { code: 'container_exists', message: 'it exists', requestId: 'r' } }, { status: 409 }));
    const http = new Transport({ baseUrl: '', fetch: fetchImpl });
    await expect(http.json(routes.lifecycle.createContainer, { params: { bot: 'b' }, body: {} })).rejects.toMatchObject({ code: 'container_exists', status: 409 });
  });
});
