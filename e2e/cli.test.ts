import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '@berth/contract';
import { BerthClient } from '@berth/sdk';
import { CLI_MAIN, freePort, runCli, startServer, type ServerProcess } from './server-process.js';

const run = promisify(execFile);

/** The built `berth` CLI against the built server on real Podman. */
describe('berth CLI', () => {
  let server: ServerProcess;
  const name = `cli-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    if (!server) return;
    const client = new BerthClient({ baseUrl: server.url, token: server.token });
    await client.deleteBot(name).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
  });

  function berth(...args: string[]) {
    return runCli(server, args);
  }

  it('creates a bot and its container with progress, shows, stops and deletes it', async () => {
    const bot = JSON.parse((await berth('--json', 'bots', 'create', name, '--image', 'localhost/berth/test:busybox', '--disk-limit-mb', '64')).stdout) as { diskLimitMb: number | null };
    expect(bot.diskLimitMb).toBe(64);
    const created = await berth('container', 'create', name);
    expect(created.stdout).toMatch(/\[image\].*\n(.*\n)*\[create\].*\n\[start\].*\n\[ready\].*\ndone\n$/);

    const info = JSON.parse((await berth('--json', 'container', 'info', name)).stdout) as { status: string; name: string };
    expect(info.status).toBe('running');

    // The disk limit, as a person reads it and as JSON; then lifted with `none`, which applies at once.
    const limited = JSON.parse((await berth('--json', 'container', 'info', name)).stdout) as { diskLimit: { mb: number | null; enforcement: string } };
    expect(limited.diskLimit).toMatchObject({ mb: 64, enforcement: 'soft' });
    expect((await berth('container', 'info', name)).stdout).toMatch(/^diskLimit\s+limit 64 MiB, .*soft enforcement \(measured every 30 s\)$/m);
    const lifted = JSON.parse((await berth('--json', 'bots', 'set', name, '--disk-limit-mb', 'none')).stdout) as { diskLimitMb: number | null };
    expect(lifted.diskLimitMb).toBeNull();
    expect((await berth('container', 'info', name)).stdout).toMatch(/^diskLimit\s+no limit, .*not enforced$/m);
    const bad = (await berth('bots', 'set', name, '--disk-limit-mb', '1.5').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain(`option '--disk-limit-mb <n|none>' argument '1.5' is invalid. expected a whole number, or "none"`);

    const stopped = JSON.parse((await berth('--json', 'container', 'stop', name)).stdout) as { status: string };
    expect(stopped.status).toBe('stopped');

    const list = (await berth('bots', 'list')).stdout;
    expect(list).toMatch(new RegExp(`^${name}\\s+stopped\\s+v1\\s+localhost/berth/test:busybox$`, 'm'));

    await berth('bots', 'delete', name);
    expect((await berth('bots', 'list')).stdout).not.toContain(name);
  });

  it('fails with the server’s message and a non-zero exit', async () => {
    const err = (await berth('bots', 'show', 'no-such-bot').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(125);
    expect(err.stderr).toContain('bot_not_found');
  });

  it('refuses a wrong token', async () => {
    const err = (await run(process.execPath, [CLI_MAIN, '--url', server.url, '--token', 'wrong', 'bots', 'list']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(125);
    expect(err.stderr).toContain('unauthorized');
  });
});

interface Ran {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a shell line (pipes, script) with `$BERTH` standing for the built CLI against `server`. A line
 * still running after 60 s is killed with its process group and answers code null, so a hang shows
 * what it printed instead of a test timeout.
 */
function sh(server: ServerProcess, line: string, input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // Unquoted in the line, so paths with spaces are not supported here (the test paths have none).
    const berth = `${process.execPath} ${CLI_MAIN} --url ${server.url}`;
    const child = spawn('bash', ['-c', line], { env: { ...process.env, BERTH: berth, BERTH_TOKEN: server.token }, detached: true });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += '\n[killed after 60 s]';
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    // A command that never reads its input closes the pipe first.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The CLI as a Docker user drives it: pass-through exec, exit codes, pipes, cp, shell, restart. */
describe('berth CLI, the Docker way', () => {
  let server: ServerProcess;
  let client: BerthClient;
  let tmp: string;
  const bot = `dock-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    // A small read limit, so that copying a few MiB out of the bot takes several reads.
    server = await startServer({ env: { BERTH_FILES_READ_LIMIT: String(1024 * 1024), BERTH_LOG_LEVEL: 'warn' } });
    client = new BerthClient({ baseUrl: server.url, token: server.token });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-docker-'));
    await client.createBot({ name: bot, image: 'localhost/berth/test:busybox' });
    for await (const ev of client.createContainerStream(bot)) if (ev.event === 'error') throw new Error(JSON.stringify(ev.data));
  });

  afterAll(async () => {
    if (!server) return;
    await client.deleteBot(bot).catch(() => undefined);
    await server.kill();
    fs.rmSync(server.home, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const berth = (line: string, input?: string) => sh(server, `$BERTH ${line}`, input);

  it('passes the arguments after the bot name to the command, without --', async () => {
    expect(await berth(`exec ${bot} ls -la /`)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^d.* data$/m) });
    expect(await berth(`exec ${bot} -- sh -c 'echo "$0 $1"; exit 4' a b`)).toMatchObject({ code: 4, stdout: 'a b\n' });
    // Exec's own options go before the bot name, as in docker exec; what follows the command is the command's.
    expect(await berth(`exec -w /tmp -e X=1 ${bot} sh -c 'echo "$X $(pwd)"'`)).toMatchObject({ code: 0, stdout: '1 /tmp\n' });
    expect(await berth(`exec ${bot} sh -c 'echo "$@"' x -w /tmp --timeout 5 -- -i`)).toMatchObject({ code: 0, stdout: '-w /tmp --timeout 5 -- -i\n' });
    // The earlier spelling, options right after the bot name, still works.
    expect(await berth(`exec ${bot} --sh 'tr a-z A-Z' -i`, 'piped\n')).toMatchObject({ code: 0, stdout: 'PIPED\n' });
  });

  it('exits 125 when Berth fails, 126 when the command cannot run, 127 when it is not found', async () => {
    const missing = await berth(`exec ${bot} no-such-command-${bot}`);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain(`no-such-command-${bot}`);
    await client.exec(bot, { command: 'printf "echo hi\\n" > /tmp/not-executable; chmod 644 /tmp/not-executable' });
    expect((await berth(`exec ${bot} /tmp/not-executable`)).code).toBe(126);
    expect(await berth(`exec --bogus ${bot} ls`)).toMatchObject({ code: 125, stderr: expect.stringContaining("unknown option '--bogus'") });
    expect(await berth(`exec no-such-bot-${bot} ls`)).toMatchObject({ code: 125, stderr: expect.stringContaining('(bot_not_found)') });
    for (const [line, message] of [
      ['bots create x --cpus abc', "option '--cpus <n>' argument 'abc' is invalid. expected a number"],
      ['bots create x --cpus 0', 'must be at least 0.01'],
      ['bots create x --memory-mb 1.5', 'expected a whole number'],
      [`stop ${bot} --timeout soon`, "option '-t, --timeout <seconds>' argument 'soon' is invalid"],
      [`exec --timeout -1 ${bot} ls`, 'must be more than 0'],
      [`tasks get ${bot} task_x --tail 10k`, 'expected a whole number'],
      [`files get ${bot} a --offset x`, 'expected a whole number'],
    ]) {
      expect(await berth(line as string)).toMatchObject({ code: 125, stderr: expect.stringContaining(message as string) });
    }
    expect(await client.listBots()).toHaveLength(1);
  });

  it('speaks of commands and flags in its hints, not of API fields', async () => {
    const exists = await berth(`container create ${bot}`);
    expect(exists.code).toBe(125);
    expect(exists.stderr).toContain(`run \`berth recreate ${bot}\` to replace it`);
    expect(exists.stderr).not.toContain('recreate: true');
    await client.exec(bot, { command: 'mkdir -p /data/full && touch /data/full/a' });
    expect((await berth(`files rm ${bot} /data/full`)).stderr).toMatch(/not empty; pass -r to remove it/);
  });

  it('ends quietly when the reader of its output goes away (| head)', async () => {
    const piped = await sh(server, `$BERTH exec ${bot} seq 1 300000 2>"${tmp}/exec.err" | head -1; echo "exit \${PIPESTATUS[0]}"`);
    expect(piped.stdout).toBe('1\nexit 141\n');
    expect(fs.readFileSync(path.join(tmp, 'exec.err'), 'utf8')).toBe('');
    const listed = await sh(server, `$BERTH --json ls 2>"${tmp}/ls.err" | head -c 1; echo " exit \${PIPESTATUS[0]}"`);
    expect(listed.stdout).toMatch(/^\[ exit (0|141)\n$/);
    expect(fs.readFileSync(path.join(tmp, 'ls.err'), 'utf8')).toBe('');
  });

  it('names the URL it could not reach, and exits 125', async () => {
    const port = await freePort(); // nothing listens there once it is found
    const run = await sh(server, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_MAIN)} --url http://127.0.0.1:${port} ls`);
    expect(run.code).toBe(125);
    expect(run.stderr).toBe(`berth: cannot reach Berth at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    const shell = await sh(server, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_MAIN)} --url http://127.0.0.1:${port} shell ${bot}`);
    expect(shell).toMatchObject({ code: 125, stderr: `berth: cannot reach Berth at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n` });
  });

  it('prints its version, and the server’s with berth version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(path.dirname(CLI_MAIN), '..', 'package.json'), 'utf8')) as { version: string };
    expect(await berth('--version')).toMatchObject({ code: 0, stdout: `berth ${version}\n` });
    expect(await berth('-v')).toMatchObject({ code: 0, stdout: `berth ${version}\n` });
    const both = await berth('version');
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(new RegExp(`^cli {5}${version.replace(/\./g, '\\.')}\nserver {2}\\S+ at ${server.url}\nruntime podman `));
  });

  it('restarts the container: a new start, the data kept; a stopped one is started', async () => {
    await client.exec(bot, { command: 'echo kept > /data/restart.txt' });
    const before = await client.getContainer(bot);
    const restarted = await berth(`--json restart ${bot} -t 2`);
    expect(restarted.code).toBe(0);
    const after = JSON.parse(restarted.stdout) as Container;
    expect(after).toMatchObject({ status: 'running', id: before.id });
    expect(after.startedAt).not.toBe(before.startedAt);
    expect((await client.exec(bot, { command: 'cat /data/restart.txt' })).stdout).toBe('kept\n');
    await client.stopContainer(bot, { timeoutSeconds: 1 });
    expect(JSON.parse((await berth(`--json restart ${bot}`)).stdout)).toMatchObject({ status: 'running' });
  });

  it('copies files both ways, streamed, byte for byte, with - for stdin and stdout', async () => {
    const local = path.join(tmp, 'blob.bin');
    fs.writeFileSync(local, randomBytes(3 * 1024 * 1024 + 123));
    fs.chmodSync(local, 0o640);
    // Into a directory that exists: the file keeps its name (and its mode), as with docker cp.
    await client.exec(bot, { command: 'mkdir -p /data/in' });
    expect(await berth(`cp ${local} ${bot}:/data/in`)).toMatchObject({ code: 0, stderr: '' });
    expect((await client.exec(bot, { command: 'ls -l /data/in/blob.bin' })).stdout).toMatch(/^-rw-r----- .* 3145851 /);
    // Out again, past the server's 1 MiB read limit, into a new file and into a directory.
    const back = path.join(tmp, 'back.bin');
    expect(await berth(`cp ${bot}:in/blob.bin ${back}`)).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(back)).toBe(sha256(local));
    fs.mkdirSync(path.join(tmp, 'dir'));
    expect((await berth(`cp ${bot}:/data/in/blob.bin ${tmp}/dir`)).code).toBe(0);
    expect(sha256(path.join(tmp, 'dir', 'blob.bin'))).toBe(sha256(local));
    // - is standard output and standard input.
    const out = await sh(server, `$BERTH cp ${bot}:/data/in/blob.bin - | sha256sum`);
    expect(out.stdout.split(' ')[0]).toBe(sha256(local));
    expect(await sh(server, `$BERTH cp - ${bot}:/tmp/from-stdin.txt < ${local}`)).toMatchObject({ code: 0 });
    expect((await client.exec(bot, { command: 'sha256sum /tmp/from-stdin.txt' })).stdout.split(' ')[0]).toBe(sha256(local));
    // Directories are refused in words; nothing is half written.
    expect(await berth(`cp ${bot}:/data/in ${tmp}/x`)).toMatchObject({ code: 125, stderr: expect.stringContaining(`${bot}:/data/in is a directory: berth cp copies one file at a time`) });
    expect(await berth(`cp ${tmp} ${bot}:/data/`)).toMatchObject({ code: 125, stderr: expect.stringContaining('is a directory') });
    expect(await berth(`cp ${bot}:/data/none ${tmp}/none`)).toMatchObject({ code: 125, stderr: expect.stringContaining('(file_not_found)') });
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.berth-'))).toEqual([]);
  });

  it('opens a shell over the terminal, with piped input and on a pseudo-terminal, and exits with its code', async () => {
    const piped = await berth(`shell ${bot}`, 'echo marker-$((6*7))\nexit 7\n');
    expect(piped.code).toBe(7);
    expect(piped.stdout).toContain('marker-42');
    // End of piped input ends the shell, as Ctrl-D would.
    expect(await berth(`shell ${bot}`, 'echo done-$((1+1))\n')).toMatchObject({ code: 0, stdout: expect.stringContaining('done-2') });

    // On a terminal: raw mode while the shell runs, its size passed on, the terminal restored afterwards.
    const tty = await sh(
      server,
      `script -qec 'stty cols 91 rows 27; $BERTH shell ${bot}; rc=$?; stty -a | grep -o -- "-\\?icanon"; exit $rc' /dev/null`,
      'stty size\nexit 5\n',
    );
    expect(tty.code).toBe(5);
    const text = tty.stdout.replace(/\r/g, '');
    expect(text).toMatch(/^27 91$/m);
    expect(text.trim().split('\n').at(-1)).toBe('icanon');

    // No container running: Berth's own failure, in words.
    await client.stopContainer(bot, { timeoutSeconds: 1 });
    expect(await berth(`shell ${bot}`)).toMatchObject({ code: 125, stderr: expect.stringContaining(`start it with \`berth start ${bot}\``) });
    await client.startContainer(bot);
  });
});
