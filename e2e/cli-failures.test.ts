import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN } from './server-process.js';

/**
 * The built CLI against a stand-in server that misbehaves as a restarting server or a hostile
 * neighbour would: answers are scripted per request, so each failure is exact.
 */
let server: http.Server;
let url: string;
let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.writeHead(404).end();
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-failures-'));
  server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI; `stdout` may be a file descriptor to write to instead of a pipe. `started` sees its pid. */
function cli(args: string[], options: { stdout?: number; started?: (pid: number) => void } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { ...process.env, BERTH_URL: url, BERTH_TOKEN: 'berth_test_token' },
      stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    });
    options.started?.(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('berth exec when the stream ends before the command’s exit', () => {
  it('exits 125 and says the exit is unknown, after printing the output that came', async () => {
    handle = (req, res) => {
      expect(`${req.method} ${req.url}`).toBe('POST /api/v1/bots/alpha/exec');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // The output, then the connection closes as a stopping server closes it: no exit event.
      res.end(`event: stdout\ndata: ${JSON.stringify({ data: 'partial\n', encoding: 'utf8' })}\n\n`);
    };
    const r = await cli(['exec', 'alpha', 'sleep', '60']);
    expect(r.stdout).toBe('partial\n');
    expect(r.stderr).toMatch(/^berth: the exec stream ended before the command’s exit was known/);
    expect(r.code).toBe(125);
  });
});

describe('a standard output that fails for another reason than a closed pipe', () => {
  it('is said as berth: <message> with exit 125, not a stack trace', async () => {
    handle = (_req, res) => {
      const task = { id: 'task_1', botId: 'bot_1', command: ['sleep', '1'], status: 'running', exitCode: null, startedAt: 't', finishedAt: null };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tasks: [task] }));
    };
    // /dev/full takes no byte: every write fails with ENOSPC.
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = await cli(['tasks', 'ls', 'alpha'], { stdout: full });
      expect(r.stderr).toBe('berth: ENOSPC: no space left on device, write\n');
      expect(r.code).toBe(125);
    } finally {
      fs.closeSync(full);
    }
  });
});

describe('berth cp out of a bot', () => {
  it('does not write through a symlink planted at the temporary file’s name', async () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'keep me');
    const target = path.join(dir, 'copied.txt');
    let pid = 0;
    handle = (req, res) => {
      expect(req.url).toMatch(/^\/api\/v1\/bots\/alpha\/files\?/);
      // Someone who can write to the directory plants a link where the copy used to write.
      fs.symlinkSync(victim, path.join(dir, `.copied.txt.berth-${pid}`));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-berth-file-size': '4', 'x-berth-file-mode': '0644' }).end('data');
    };
    const r = await cli(['cp', 'alpha:/data/copied.txt', target], { started: (p) => (pid = p) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(fs.lstatSync(target).isFile()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('data');
    // Only the copy and what was there before: no temporary file left behind.
    expect(fs.readdirSync(dir).filter((n) => !n.startsWith('.copied.txt.berth-')).sort()).toEqual(['copied.txt', 'victim']);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.copied.txt.berth-') && n !== `.copied.txt.berth-${pid}`)).toEqual([]);
  });
});
