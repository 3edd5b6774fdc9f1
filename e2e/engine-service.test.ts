import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './server-process.js';
import { alive, until } from '../packages/server/src/testing/wait.js';

interface PidRecord {
  servicePid: number;
  ownerPid: number;
}



/**
 * The built server with a Podman service of its own (on a private socket, so the system service
 * other runs share is never touched): killed with SIGKILL, then started again.
 */
describe('the server’s own Podman service', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-engine-'));
  const socket = path.join(home, 'engine', 'podman.sock');
  const pidFile = path.join(home, 'engine', 'podman-service.json');
  const servers: ServerProcess[] = [];
  const servicePids = new Set<number>();

  afterAll(async () => {
    for (const s of servers) await s.kill('SIGKILL');
    for (const pid of servicePids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  const readRecord = () => JSON.parse(fs.readFileSync(pidFile, 'utf8')) as PidRecord;

  it('is taken back after a SIGKILL of the server, and stopped when the next one exits', async () => {
    const first = await startServer({ home, env: { BERTH_RUNTIME_SOCKET: socket } });
    servers.push(first);
    const record = readRecord();
    servicePids.add(record.servicePid);
    expect(record.ownerPid).toBe(first.child.pid);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);

    await first.kill('SIGKILL');
    expect(alive(record.servicePid)).toBe(true);

    const second = await startServer({ home, env: { BERTH_RUNTIME_SOCKET: socket } });
    servers.push(second);
    expect(second.output()).toContain('taking back the Podman service an earlier Berth started');
    expect(readRecord()).toEqual({ servicePid: record.servicePid, ownerPid: second.child.pid, socketPath: socket });

    await second.kill('SIGTERM');
    await until('the service is stopped', () => !alive(record.servicePid));
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  it('refuses to start with CDI spec dirs Podman never reads', async () => {
    const err = await startServer({ home, env: { BERTH_RUNTIME_SOCKET: socket, BERTH_CDI_SPEC_DIRS: path.join(home, 'cdi') } }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/BERTH_CDI_SPEC_DIRS names .*where Podman never reads CDI specs/);
    expect(fs.existsSync(pidFile)).toBe(false);
  });
});
