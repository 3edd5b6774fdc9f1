import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, IssuedBotToken, Operation } from '@berth/contract';
import { FakeDriver } from '../runtime/fake/fake-driver.js';
import { startTestBerth, TEST_ADMIN_TOKEN, type TestBerth } from '../testing/harness.js';

const IMAGE = 'localhost/berth/test:busybox';
const DOC_ID = 'https://berth.invalid/api/v1/openapi.json';

interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

/**
 * Real answers of the in-process server, checked the way a generated client checks them: each
 * status must be one the document declares for the operation, and each JSON body must match the
 * schema the document gives for that status (JSON Schema 2020-12, as OpenAPI 3.1 says, by ajv).
 */
describe('answers match the OpenAPI document', () => {
  let t: TestBerth;
  let doc: Doc;
  let ajv: Ajv2020;
  const checked = new Set<string>();

  beforeAll(async () => {
    t = await startTestBerth({ driver: new FakeDriver({ images: [IMAGE] }) });
    doc = (await (await t.api('GET', '/openapi.json')).json()) as Doc;
    ajv = new Ajv2020({ strict: false, allErrors: true, formats: { binary: true } });
    // The whole document is one schema resource: a response's schema is found by its JSON pointer.
    ajv.addSchema({ ...doc, $id: DOC_ID });
  });
  afterAll(async () => {
    await t.close();
  });

  const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

  /** The document's JSON schema for an operation's answer, compiled once. */
  function validatorFor(method: string, template: string, status: number): ValidateFunction {
    const ref = `${DOC_ID}#/${pointer('paths', template, method, 'responses', String(status), 'content', 'application/json', 'schema')}`;
    return ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  }

  /** Checks an answer against the document's operation `method template`; returns its JSON body. */
  async function answer<T = unknown>(res: Response | Promise<Response>, method: string, template: string): Promise<T> {
    const r = await res;
    const m = method.toLowerCase();
    const op = doc.paths[template]?.[m];
    expect(op, `${method} ${template} is in the document`).toBeDefined();
    const declared = op!.responses[String(r.status)];
    expect(declared, `${method} ${template} answered ${r.status}, a status the document declares`).toBeDefined();
    checked.add(`${method} ${template} ${r.status}`);
    if (r.status === 204) {
      expect(await r.text()).toBe('');
      return undefined as T;
    }
    const type = (r.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(declared!.content ?? {}), `${method} ${template} ${r.status} as ${type}`).toContain(type);
    if (type !== 'application/json') return undefined as T;
    const body = (await r.json()) as T;
    const validate = validatorFor(m, template, r.status);
    expect(validate(body) ? [] : validate.errors, `${method} ${template} ${r.status}: ${JSON.stringify(body).slice(0, 500)}`).toEqual([]);
    return body;
  }

  it('bots, containers and operations', async () => {
    const bot = await answer<Bot>(t.api('POST', '/bots', { body: { name: 'alpha', env: { A: '1' } } }), 'POST', '/bots');
    await answer(t.api('GET', '/bots'), 'GET', '/bots');
    await answer(t.api('GET', '/bots/alpha'), 'GET', '/bots/{bot}');
    await answer(t.api('PATCH', `/bots/${bot.id}`, { body: { diskLimitMb: 1024 } }), 'PATCH', '/bots/{bot}');
    const { operation } = await answer<{ operation: Operation }>(t.api('POST', '/bots/alpha/container', { body: {} }), 'POST', '/bots/{bot}/container');
    await t.berth.operations.settled(operation.id);
    await answer(t.api('GET', `/operations/${operation.id}`), 'GET', '/operations/{op}');
    await answer(t.api('GET', '/bots/alpha/operations'), 'GET', '/bots/{bot}/operations');
    await answer(t.api('GET', '/bots/alpha/container'), 'GET', '/bots/{bot}/container');
    await answer(t.api('POST', '/bots/alpha/container/stop', { body: { timeoutSeconds: 0 } }), 'POST', '/bots/{bot}/container/stop');
    await answer(t.api('POST', '/bots/alpha/container/start'), 'POST', '/bots/{bot}/container/start');
    await answer(t.api('GET', '/info'), 'GET', '/info');
    await answer(t.api('GET', '/cdi/devices'), 'GET', '/cdi/devices');
  });

  it('snapshots, versions and data', async () => {
    await answer(t.api('POST', '/bots/alpha/snapshots', { body: { name: 'first' } }), 'POST', '/bots/{bot}/snapshots');
    await answer(t.api('GET', '/bots/alpha/snapshots'), 'GET', '/bots/{bot}/snapshots');
    await answer(t.api('GET', '/bots/alpha/snapshots/first'), 'GET', '/bots/{bot}/snapshots/{snap}');
    await answer(t.api('GET', '/bots/alpha/versions'), 'GET', '/bots/{bot}/versions');
    await answer(t.api('POST', '/bots/alpha/snapshots', { body: { name: 'first' } }), 'POST', '/bots/{bot}/snapshots');
    await answer(t.api('GET', '/bots/alpha/snapshots/none'), 'GET', '/bots/{bot}/snapshots/{snap}');
    await answer(t.api('POST', '/bots/alpha/data/reset'), 'POST', '/bots/{bot}/data/reset');
  });

  it('exec, tasks and files', async () => {
    await answer(t.api('POST', '/bots/alpha/exec', { body: { command: ['echo', 'hi'] } }), 'POST', '/bots/{bot}/exec');
    // Background tasks need a real shell in the container; their answers are checked by their schemas in tasks.int.test.ts.
    await answer(t.api('GET', '/bots/alpha/tasks'), 'GET', '/bots/{bot}/tasks');
    await answer(t.api('GET', '/bots/alpha/tasks/none'), 'GET', '/bots/{bot}/tasks/{task}');
    await answer(t.api('GET', '/bots/alpha/tasks/none/wait?timeoutSeconds=1'), 'GET', '/bots/{bot}/tasks/{task}/wait');
    await answer(t.api('GET', '/bots/alpha/tasks/none/wait?timeoutSeconds=601'), 'GET', '/bots/{bot}/tasks/{task}/wait');
    await answer(t.api('GET', '/bots/alpha/tasks/none/output'), 'GET', '/bots/{bot}/tasks/{task}/output');
    await answer(t.api('GET', '/bots/alpha/tasks/none/output?stream=stdin'), 'GET', '/bots/{bot}/tasks/{task}/output');

    // With the container stopped, the data dir's files are served from the host: no shell needed in the fake container.
    await answer(t.api('POST', '/bots/alpha/container/stop', { body: {} }), 'POST', '/bots/{bot}/container/stop');
    const put = await t.berth.app.request('/api/v1/bots/alpha/files?path=notes.txt', {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' },
      body: 'hello world',
    });
    await answer(put, 'PUT', '/bots/{bot}/files');
    await answer(t.api('GET', '/bots/alpha/files?path=.'), 'GET', '/bots/{bot}/files');
    await answer(t.api('GET', '/bots/alpha/files?path=notes.txt'), 'GET', '/bots/{bot}/files');
    await answer(t.api('GET', '/bots/alpha/files?path=notes.txt', { headers: { range: 'bytes=0-4' } }), 'GET', '/bots/{bot}/files');
    await answer(t.api('GET', '/bots/alpha/files?path=notes.txt', { headers: { range: 'bytes=50-' } }), 'GET', '/bots/{bot}/files');
    await answer(t.api('GET', '/bots/alpha/files?path=missing.txt'), 'GET', '/bots/{bot}/files');
    await answer(t.api('POST', '/bots/alpha/files/edit', { body: { path: 'notes.txt', oldText: 'world', newText: 'there' } }), 'POST', '/bots/{bot}/files/edit');
    await answer(t.api('POST', '/bots/alpha/files/edit', { body: { path: 'notes.txt', oldText: 'absent', newText: 'x' } }), 'POST', '/bots/{bot}/files/edit');
    await answer(t.api('POST', '/bots/alpha/files/move', { body: { from: 'notes.txt', to: 'moved.txt' } }), 'POST', '/bots/{bot}/files/move');
    await answer(t.api('DELETE', '/bots/alpha/files?path=moved.txt'), 'DELETE', '/bots/{bot}/files');
    await answer(t.api('POST', '/bots/alpha/files/mkdir', { body: { path: 'made/deep' } }), 'POST', '/bots/{bot}/files/mkdir');
    await answer(t.api('POST', '/bots/alpha/files/mkdir', { body: { path: '../out' } }), 'POST', '/bots/{bot}/files/mkdir');
    await answer(t.api('POST', '/bots/alpha/files/mkdir', { body: { path: '/etc/made' } }), 'POST', '/bots/{bot}/files/mkdir');
    await answer(t.api('GET', '/bots/alpha/files/glob?pattern=**'), 'GET', '/bots/{bot}/files/glob');
    await answer(t.api('GET', '/bots/alpha/files/glob?pattern=*&path=missing'), 'GET', '/bots/{bot}/files/glob');
    await answer(t.api('GET', '/bots/alpha/files/glob?pattern=/abs'), 'GET', '/bots/{bot}/files/glob');
    await answer(t.api('GET', '/bots/alpha/files?path=/etc/hostname'), 'GET', '/bots/{bot}/files');
    await answer(t.api('POST', '/bots/alpha/container/start'), 'POST', '/bots/{bot}/container/start');
  });

  it('tokens, the session, and refusals', async () => {
    const issued = await answer<IssuedBotToken>(t.api('POST', '/bots/alpha/tokens', { body: { name: 'agent' } }), 'POST', '/bots/{bot}/tokens');
    await answer(t.api('GET', '/bots/alpha/tokens'), 'GET', '/bots/{bot}/tokens');
    // A bot token reaches its own bot's container info, nothing of the admin's.
    await answer(t.api('GET', '/bots/alpha/container', { token: issued.token }), 'GET', '/bots/{bot}/container');
    await answer(t.api('GET', '/bots', { token: issued.token }), 'GET', '/bots');
    await answer(t.api('DELETE', `/bots/alpha/tokens/${issued.id}`), 'DELETE', '/bots/{bot}/tokens/{token}');

    await answer(t.api('POST', '/session', { token: null, body: { token: TEST_ADMIN_TOKEN } }), 'POST', '/session');
    await answer(t.api('POST', '/session', { token: null, body: { token: 'wrong' } }), 'POST', '/session');

    await answer(t.api('GET', '/bots', { token: null }), 'GET', '/bots');
    await answer(t.api('GET', '/bots/nope'), 'GET', '/bots/{bot}');
    await answer(t.api('POST', '/bots', { body: { name: 'alpha' } }), 'POST', '/bots');
    await answer(t.api('POST', '/bots', { body: { name: 'Not A Name' } }), 'POST', '/bots');
    const plain = t.berth.app.request('/api/v1/bots', { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'text/plain' }, body: 'name=beta' });
    await answer(plain, 'POST', '/bots');
    await answer(t.api('GET', '/bots/alpha/operations?limit=0'), 'GET', '/bots/{bot}/operations');
    await answer(t.api('POST', '/bots/alpha/container/stop'), 'POST', '/bots/{bot}/container/stop');
    await answer(t.api('POST', '/bots/alpha/exec', { body: { command: ['true'] } }), 'POST', '/bots/{bot}/exec');
    await answer(t.api('DELETE', '/bots/alpha/container'), 'DELETE', '/bots/{bot}/container');
    await answer(t.api('GET', '/bots/alpha/container'), 'GET', '/bots/{bot}/container');
    await answer(t.api('DELETE', '/bots/alpha'), 'DELETE', '/bots/{bot}');
  });

  it('covered successes and errors alike', () => {
    const statuses = new Set([...checked].map((k) => Number(k.split(' ').pop())));
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 201, 202, 204, 206, 400, 401, 403, 404, 409, 415, 416]));
    expect(checked.size).toBeGreaterThan(40);
    // The checks have teeth: a body the schema does not describe is refused.
    expect(validatorFor('get', '/bots/{bot}', 200)({ id: 'bot_1', name: 'alpha' })).toBe(false);
    expect(validatorFor('get', '/bots/{bot}', 404)({ error: { code: 'no_such_code', message: 'm', requestId: 'r' } })).toBe(false);
  });
});
