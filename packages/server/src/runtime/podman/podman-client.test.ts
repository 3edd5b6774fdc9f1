import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../errors.js';
import { EngineHttpError, EngineTimeoutError, MAX_FRAME_BYTES, PodmanClient, demuxDockerStream, progressBounded, readAll, toAppError } from './podman-client.js';

/**
 * The client's deadlines against a stand-in engine on a unix socket: one that never answers, one
 * that answers and then goes silent, and one that streams slowly but steadily.
 */
describe('PodmanClient deadlines', () => {
  let tmp: string;
  let server: http.Server;
  let client: PodmanClient;
  const open = new Set<http.ServerResponse>();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'berth-client-'));
    server = http.createServer((req, res) => {
      open.add(res);
      res.on('close', () => open.delete(res));
      if (req.url === '/never') return; // a frozen engine: no head, ever
      if (req.url === '/head-then-silence') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
        return;
      }
      if (req.url === '/slow-steady') {
        // Six chunks 100 ms apart: longer in total than the deadline, never silent for that long.
        res.writeHead(200);
        let n = 0;
        const t = setInterval(() => {
          res.write(`${n}\n`);
          if (++n === 6) {
            clearInterval(t);
            res.end();
          }
        }, 100);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(join(tmp, 'engine.sock'), resolve));
    client = new PodmanClient({ socketPath: join(tmp, 'engine.sock'), timeoutMs: 300 });
  });

  afterAll(async () => {
    client.close();
    for (const res of open) res.destroy();
    await new Promise((r) => server.close(r));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers normally within the deadline', async () => {
    expect(await client.json({ path: '/ok' })).toEqual({ status: 200, body: { ok: true } });
  });

  it('fails a call whose head never comes with EngineTimeoutError, mapped to runtime_timeout', async () => {
    const err = await client.json({ path: '/never' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineTimeoutError);
    expect(isAppError(toAppError(err, { action: 'inspect container' }), 'runtime_timeout')).toBe(true);
    await expect(client.request({ path: '/never' })).rejects.toBeInstanceOf(EngineTimeoutError);
  });

  it('fails a plain call whose body stops half-way', async () => {
    await expect(client.json({ path: '/head-then-silence' })).rejects.toBeInstanceOf(EngineTimeoutError);
  });

  it('bounds only the head of a request: its body may stay silent (an exec session)', async () => {
    const res = await client.request({ path: '/head-then-silence' });
    await new Promise((r) => setTimeout(r, 600));
    expect(res.destroyed).toBe(false);
    res.destroy();
  });

  it('bounds a stream by progress, not in total', async () => {
    const steady = await client.request({ path: '/slow-steady' });
    expect((await readAll(progressBounded(steady, 300, 'streaming'))).toString()).toBe('0\n1\n2\n3\n4\n5\n');
    const silent = await client.request({ path: '/head-then-silence' });
    await expect(readAll(progressBounded(silent, 300, 'streaming'))).rejects.toBeInstanceOf(EngineTimeoutError);
  });

  it('does not count the time the reader spends elsewhere (backpressure) as silence', async () => {
    const steady = await client.request({ path: '/slow-steady' });
    const chunks: string[] = [];
    for await (const chunk of progressBounded(steady, 300, 'streaming')) {
      chunks.push(chunk.toString());
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(chunks.join('')).toBe('0\n1\n2\n3\n4\n5\n');
  });

  it('maps a refused connection to runtime_unavailable', async () => {
    const nobody = new PodmanClient({ socketPath: join(tmp, 'nobody.sock'), timeoutMs: 300 });
    const err = await nobody.json({ path: '/ok' }).catch((e: unknown) => e);
    expect(isAppError(toAppError(err), 'runtime_unavailable')).toBe(true);
    nobody.close();
  });
});

describe('toAppError', () => {
  it('maps the engine running out of space to 507 insufficient_storage naming the engine’s storage', () => {
    const err = toAppError(new EngineHttpError(500, 'committing container abc: writing blob: write /var/lib/containers/storage/overlay/x: no space left on device', ''), {
      resource: 'container',
      ref: 'abc',
      action: 'commit container',
    });
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'insufficient_storage', status: 507, details: { storage: 'engine' } });
    expect((err as AppError).message).toMatch(/^commit container abc ran out of space: the container engine's storage is full/);
  });

  it('keeps other engine failures as they were', () => {
    expect(toAppError(new EngineHttpError(500, 'no such container', ''), { resource: 'container' })).toMatchObject({ code: 'container_not_found' });
    expect(toAppError(new EngineHttpError(500, 'something else broke', ''))).toMatchObject({ code: 'internal' });
  });
});

describe('demuxDockerStream', () => {
  const frame = (type: number, data: Buffer) => {
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUInt32BE(data.length, 4);
    return Buffer.concat([head, data]);
  };
  const wire = Buffer.concat([frame(1, Buffer.from('out 1 ')), frame(2, Buffer.from('err')), frame(1, Buffer.alloc(0)), frame(1, Buffer.from('out 2'))]);
  async function* chunks(parts: Buffer[]): AsyncGenerator<Buffer> {
    for (const p of parts) yield p;
  }
  async function streams(parts: Buffer[]): Promise<Record<string, string>> {
    const got: Record<string, string> = { stdout: '', stderr: '' };
    for await (const f of demuxDockerStream(chunks(parts))) got[f.stream] += f.data.toString();
    return got;
  }

  it('splits the streams the same however the bytes arrive', async () => {
    const want = { stdout: 'out 1 out 2', stderr: 'err' };
    expect(await streams([wire])).toEqual(want);
    expect(await streams([...wire].map((b) => Buffer.from([b])))).toEqual(want);
    expect(await streams([wire.subarray(0, 3), wire.subarray(3, 11), wire.subarray(11)])).toEqual(want);
  });

  it('passes a long payload on as it arrives instead of gathering it', async () => {
    const head = frame(1, Buffer.alloc(0));
    head.writeUInt32BE(1000, 4);
    const seen: number[] = [];
    for await (const f of demuxDockerStream(chunks([head, Buffer.alloc(400), Buffer.alloc(600)]))) seen.push(f.data.length);
    expect(seen).toEqual([400, 600]);
  });

  it('refuses a frame that declares more than any engine writes, and a stream that ends inside a frame', async () => {
    const huge = Buffer.alloc(8);
    huge[0] = 1;
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1, 4);
    await expect(streams([huge])).rejects.toThrow(/declares/);
    await expect(streams([wire.subarray(0, wire.length - 2)])).rejects.toThrow(/inside a frame/);
    await expect(streams([wire.subarray(0, 4)])).rejects.toThrow(/inside a frame/);
  });
});
