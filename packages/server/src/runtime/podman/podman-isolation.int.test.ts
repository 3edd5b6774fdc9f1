import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot, Container, Operation } from '@berth/contract';
import { closeTestBerth, expectJson, startTestBerth, type TestBerth } from '../../testing/harness.js';
import { TEST_IMAGE } from '../../testing/podman.js';
import { until } from '../../testing/wait.js';
import { bridgeName, PodmanDriver } from './podman-driver.js';
import { PodmanIsolation } from './podman-isolation.js';
import { ensurePodmanService, type PodmanService } from './podman-service.js';

const BOT_PORT = 7001;

/** Runs a clean-up command; what failed (nothing there to remove) is ignored. */
function quietly(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/**
 * Network isolation on the real engine: bots on their own networks, behind the firewall rules
 * Berth installs. This run has its own bridge prefix and chains, so its rules (removed at the end)
 * never touch those of another Berth on the machine. The "outside" host is a network namespace
 * joined to the host by a veth pair.
 */
describe('bot network isolation on Podman', () => {
  const run = randomBytes(3).toString('hex');
  const prefix = `bt${run.slice(0, 3)}`;
  const isolation = new PodmanIsolation({ bridgePrefix: prefix, chain: `BT-${run.toUpperCase()}` });
  const netns = `berth-out-${run}`;
  const hostVeth = `bov${run}`;
  const outsideIp = `198.18.${parseInt(run.slice(0, 2), 16)}.2`;
  const outsideMarker = `outside-${run}`;
  const hostMarker = `host-${run}`;
  const legacyName = `berth-legacy-${run}`;
  // A service of this test's own: another test that stops the shared one cannot cut this one off.
  const tmp = fs.mkdtempSync(`${os.tmpdir()}/berth-isolation-`);
  let service: PodmanService | undefined;
  let driver: PodmanDriver;
  let t: TestBerth | undefined;
  let outside: ChildProcess | undefined;
  const hostServers: net.Server[] = [];
  let hostConnections = 0;
  let hostPort = 0;
  let a: Bot;
  let b: Bot;

  beforeAll(async () => {
    service = await ensurePodmanService({ socketPath: `${tmp}/podman.sock` });
    driver = new PodmanDriver({ socketPath: service.socketPath, bridgePrefix: prefix, isolation });
    await isolation.ensure();

    // The outside host: 198.18.x.2 in its own namespace, routed through the host like the internet.
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth-out', 'netns', netns]);
    execFileSync('ip', ['addr', 'add', `${outsideIp.replace(/\.2$/, '.1')}/30`, 'dev', hostVeth]);
    execFileSync('ip', ['link', 'set', hostVeth, 'up']);
    for (const args of [['addr', 'add', `${outsideIp}/30`, 'dev', 'eth-out'], ['link', 'set', 'eth-out', 'up'], ['link', 'set', 'lo', 'up']]) {
      execFileSync('ip', ['netns', 'exec', netns, 'ip', ...args]);
    }
    outside = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', `require('net').createServer((s) => s.end('${outsideMarker}\\n')).listen(${BOT_PORT}, '0.0.0.0', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      outside?.stdout?.once('data', () => resolve());
      outside?.once('exit', (code) => reject(new Error(`the outside listener exited (${code})`)));
    });

    // A service of the host's own, on every IPv4 and IPv6 address.
    const onConnection = (s: net.Socket) => {
      hostConnections++;
      s.end(`${hostMarker}\n`);
    };
    const v4 = net.createServer(onConnection);
    hostServers.push(v4);
    await new Promise<void>((resolve) => v4.listen(0, '0.0.0.0', resolve));
    hostPort = (v4.address() as net.AddressInfo).port;
    const v6 = net.createServer(onConnection);
    hostServers.push(v6);
    await new Promise<void>((resolve) => v6.listen({ port: hostPort, host: '::', ipv6Only: true }, resolve));

    t = await startTestBerth({ driver });
    a = await runningBot('a');
    b = await runningBot('b');
    for (const bot of [a, b]) await listen(await containerId(bot), `bot-${bot.id}`);
  }, 120_000);

  afterAll(async () => {
    // Each step on its own: a failure in one (or a set-up that never got there) leaves the others to run.
    await closeTestBerth(t).catch(() => undefined);
    quietly('podman', ['rm', '--force', '--ignore', '--time', '0', legacyName]);
    const left = quietly('podman', ['network', 'ls', '--quiet', '--filter', `label=berth.instance=${t?.berth.instanceId ?? 'none'}`]);
    for (const n of left.split('\n').filter(Boolean)) quietly('podman', ['network', 'rm', '--force', n]);
    outside?.kill('SIGKILL');
    for (const s of hostServers) s.close();
    quietly('ip', ['netns', 'del', netns]);
    quietly('ip', ['link', 'del', hostVeth]);
    await isolation.remove().catch(() => undefined);
    await driver?.close().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  async function runningBot(name: string, body: Record<string, unknown> = {}): Promise<Bot> {
    if (!t) throw new Error('no Berth');
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `net-${name}-${run}`, image: TEST_IMAGE, ...body } }), 201);
    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: {} }), 202);
    await t.berth.operations.settled(operation.id);
    expect(await t.berth.operations.get(operation.id)).toMatchObject({ status: 'succeeded' });
    return bot;
  }

  async function containerId(bot: Bot): Promise<string> {
    if (!t) throw new Error('no Berth');
    return (await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).id;
  }

  async function sh(id: string, script: string): Promise<string> {
    const r = await driver.exec(id, ['/bin/sh', '-c', script]);
    return r.stdout.toString('utf8');
  }

  /** A listener in the container that answers every connection with `marker`, up once it answers itself. */
  async function listen(id: string, marker: string): Promise<void> {
    await sh(id, `setsid sh -c 'while true; do echo ${marker} | nc -l -p ${BOT_PORT}; done' </dev/null >/dev/null 2>&1 &`);
    await until(`the listener in ${id}`, async () => (await sh(id, `nc -w 2 127.0.0.1 ${BOT_PORT} </dev/null`)).includes(marker), 20_000);
  }

  /** Connects from the container to each address at once; what each answered (empty: nothing). */
  async function probe(id: string, addresses: string[], port: number): Promise<Record<string, string>> {
    const script = addresses.map((addr) => `(echo "${addr}=$(nc -w 2 ${addr} ${port} </dev/null 2>/dev/null | head -c 100)") &`).join('\n') + '\nwait';
    const out: Record<string, string> = {};
    for (const line of (await sh(id, script)).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
    }
    return out;
  }

  async function ipv4(id: string): Promise<string> {
    const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(await sh(id, 'ip -4 -o addr show dev eth0'));
    if (!m?.[1]) throw new Error(`no IPv4 address in ${id}`);
    return m[1];
  }

  it('gives each bot its own network and bridge, labelled as Berth’s', async () => {
    for (const bot of [a, b]) {
      expect(await driver.listNetworks({ labels: [`berth.bot=${bot.id}`] })).toEqual([
        { name: `berth-${bot.id}`, labels: expect.objectContaining({ 'berth.managed': 'true', 'berth.bot': bot.id }) as unknown },
      ]);
      expect(os.networkInterfaces()[bridgeName(prefix, `berth-${bot.id}`)]).toBeDefined();
    }
    const [ipA, ipB] = [await ipv4(await containerId(a)), await ipv4(await containerId(b))];
    expect(ipA.split('.').slice(0, 3)).not.toEqual(ipB.split('.').slice(0, 3));
  });

  it('a bot cannot connect to another bot’s listener, in either direction', async () => {
    const [idA, idB] = [await containerId(a), await containerId(b)];
    const [ipA, ipB] = [await ipv4(idA), await ipv4(idB)];
    expect(await probe(idB, [ipA], BOT_PORT)).toEqual({ [ipA]: '' });
    expect(await probe(idA, [ipB], BOT_PORT)).toEqual({ [ipB]: '' });
    // Each listener answers from inside its own bot, and the outside host answers both: the probes work.
    expect(await probe(idA, ['127.0.0.1', outsideIp], BOT_PORT)).toEqual({ '127.0.0.1': `bot-${a.id}`, [outsideIp]: outsideMarker });
    expect(await probe(idB, ['127.0.0.1', outsideIp], BOT_PORT)).toEqual({ '127.0.0.1': `bot-${b.id}`, [outsideIp]: outsideMarker });
  });

  it('a bot cannot reach a service on the host’s addresses: the gateway, the others, IPv6 link-local', async () => {
    const id = await containerId(a);
    const gateway = /default via (\S+)/.exec(await sh(id, 'ip route'))?.[1];
    expect(gateway).toBeDefined();
    const bridge = bridgeName(prefix, `berth-${a.id}`);
    const linkLocal = (os.networkInterfaces()[bridge] ?? []).find((i) => i.family === 'IPv6' && i.address.startsWith('fe80:'));
    const hostAddresses = Object.values(os.networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((i) => !i.internal && !i.address.startsWith('fe80:'))
      .map((i) => i.address);
    const targets = [...new Set([gateway ?? '', ...hostAddresses, ...(linkLocal ? [`${linkLocal.address}%eth0`] : [])])];
    expect(targets.length).toBeGreaterThan(1);
    const answers = await probe(id, targets, hostPort);
    expect(Object.keys(answers).sort()).toEqual([...targets].sort());
    expect(Object.entries(answers).filter(([, out]) => out !== '')).toEqual([]);
    expect(hostConnections).toBe(0);
    // The host itself still reaches the service (the rules are about bots only).
    const fromHost = await new Promise<string>((resolve, reject) => {
      const s = net.connect(hostPort, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('utf8')));
      s.on('end', () => resolve(got.trim()));
      s.on('error', reject);
    });
    expect(fromHost).toBe(hostMarker);
  });

  it('a container on the engine’s shared network (a bot made before isolation) and a bot cannot reach each other', async () => {
    // Under the test's own dir, which afterAll removes whatever happens here.
    const dataDir = fs.mkdtempSync(`${tmp}/legacy-`);
    try {
      const { id } = await driver.createContainer({
        name: legacyName,
        image: TEST_IMAGE,
        labels: { 'berth.test': run },
        env: {},
        dataMount: { hostPath: dataDir, containerPath: '/data' },
        cdiDevices: [],
        resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
        network: 'bridge',
      });
      await driver.startContainer(id);
      await listen(id, 'legacy');
      const idA = await containerId(a);
      const [ipA, ipLegacy] = [await ipv4(idA), await ipv4(id)];
      expect(await probe(id, [ipA], BOT_PORT)).toEqual({ [ipA]: '' });
      expect(await probe(idA, [ipLegacy], BOT_PORT)).toEqual({ [ipLegacy]: '' });
      // What isolation does not touch: the shared network's container still reaches the outside.
      expect(await probe(id, [outsideIp], BOT_PORT)).toEqual({ [outsideIp]: outsideMarker });
    } finally {
      await driver.removeContainer(legacyName);
    }
  });

  it('a bot whose container is on the shared network (made before isolation) is pending a recreate, which isolates it', async () => {
    if (!t) throw new Error('no Berth');
    const bot = await expectJson<Bot>(t.api('POST', '/bots', { body: { name: `net-old-${run}`, image: TEST_IMAGE } }), 201);
    const dataDir = t.berth.paths.dataDir(bot.id);
    fs.mkdirSync(dataDir, { recursive: true });
    // As an earlier Berth made it: the bot's name and labels, on the engine's default network.
    const { id } = await driver.createContainer({
      name: `berth-${bot.id}`,
      image: TEST_IMAGE,
      labels: { 'berth.managed': 'true', 'berth.bot': bot.id, 'berth.version': '0', 'berth.cdi': '' },
      env: {},
      dataMount: { hostPath: dataDir, containerPath: '/data' },
      cdiDevices: [],
      resources: { cpus: null, memoryMb: null, pidsLimit: 4096 },
      network: 'bridge',
    });
    await driver.startContainer(id);
    expect(await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200)).toMatchObject({ id, pendingRecreate: true });
    const gateway = /default via (\S+)/.exec(await sh(id, 'ip route'))?.[1] ?? '';
    expect(await probe(id, [gateway], hostPort)).toEqual({ [gateway]: hostMarker });
    hostConnections = 0;

    const { operation } = await expectJson<{ operation: Operation }>(t.api('POST', `/bots/${bot.id}/container`, { body: { recreate: true } }), 202);
    await t.berth.operations.settled(operation.id);
    const after = await expectJson<Container>(t.api('GET', `/bots/${bot.id}/container`), 200);
    expect(after).toMatchObject({ status: 'running', pendingRecreate: false });
    const newGateway = /default via (\S+)/.exec(await sh(after.id, 'ip route'))?.[1] ?? '';
    expect(await probe(after.id, [newGateway], hostPort)).toEqual({ [newGateway]: '' });
    expect(hostConnections).toBe(0);
    expect(await driver.listNetworks({ labels: [`berth.bot=${bot.id}`] })).toHaveLength(1);
  });

  it('a bot keeps the host’s resolvers, which are not on the host itself', async () => {
    const resolvers = (text: string) => [...text.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1] ?? '');
    const host = resolvers(fs.readFileSync('/etc/resolv.conf', 'utf8')).filter((ns) => !/^127\.|^::1$/.test(ns));
    const inBot = resolvers(await sh(await containerId(a), 'cat /etc/resolv.conf'));
    expect(host.length).toBeGreaterThan(0);
    expect(inBot).toEqual(host);
    const local = new Set(Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).map((i) => i.address));
    expect(inBot.filter((ns) => local.has(ns))).toEqual([]);
  });

  it('a bot with network none stays offline', async () => {
    const offline = await runningBot('none', { network: 'none' });
    const id = await containerId(offline);
    expect(await sh(id, 'ip -o link | cut -d: -f2 | tr -d " "')).toBe('lo\n');
    expect(await probe(id, [outsideIp], BOT_PORT)).toEqual({ [outsideIp]: '' });
    expect(await driver.listNetworks({ labels: [`berth.bot=${offline.id}`] })).toEqual([]);
  });

  it('deleting a bot removes its network; the rules are repaired, and installed once however often they are ensured', async () => {
    if (!t) throw new Error('no Berth');
    const doomed = await runningBot('doomed');
    expect(await driver.listNetworks({ labels: [`berth.bot=${doomed.id}`] })).toHaveLength(1);
    expect((await t.api('DELETE', `/bots/${doomed.id}`)).status).toBe(204);
    expect(await driver.listNetworks({ labels: [`berth.bot=${doomed.id}`] })).toEqual([]);
    expect(os.networkInterfaces()[bridgeName(prefix, `berth-${doomed.id}`)]).toBeUndefined();

    // As a firewall reload or a hand edit might leave them: a chain emptied, a jump gone.
    execFileSync('iptables', ['-w', '-F', isolation.inputChain]);
    execFileSync('ip6tables', ['-w', '-D', 'FORWARD', '-o', `${prefix}+`, '-j', isolation.forwardChain]);
    await isolation.ensure();
    await Promise.all([isolation.ensure(), isolation.ensure()]);
    for (const cmd of ['iptables', 'ip6tables']) {
      expect(execFileSync(cmd, ['-w', '-S', isolation.inputChain], { encoding: 'utf8' }).trim().split('\n')).toEqual([
        `-N ${isolation.inputChain}`,
        `-A ${isolation.inputChain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
        `-A ${isolation.inputChain} -j DROP`,
      ]);
      const rules = execFileSync(cmd, ['-w', '-S'], { encoding: 'utf8' }).split('\n');
      expect(rules.filter((r) => r.includes(`-j ${isolation.inputChain}`))).toEqual([`-A INPUT -i ${prefix}+ -j ${isolation.inputChain}`]);
      expect(rules.filter((r) => r.includes(`-j ${isolation.forwardChain}`)).sort()).toEqual([`-A FORWARD -i ${prefix}+ -j ${isolation.forwardChain}`, `-A FORWARD -o ${prefix}+ -j ${isolation.forwardChain}`]);
    }
  });

  it('puts its jumps back first when a rule gets ahead of them, and the periodic check repairs a flush', async () => {
    // A rule of someone else's, inserted at the top of INPUT: it matches only an interface that does not exist.
    const ahead = ['INPUT', '-i', `zq${run}`, '-j', 'ACCEPT'];
    const jump = `-A INPUT -i ${prefix}+ -j ${isolation.inputChain}`;
    const order = (cmd: string) => {
      const rules = execFileSync(cmd, ['-w', '-S', 'INPUT'], { encoding: 'utf8' }).split('\n');
      return { jump: rules.indexOf(jump), ahead: rules.indexOf(`-A ${ahead.join(' ')}`), jumps: rules.filter((r) => r === jump).length };
    };
    try {
      for (const cmd of ['iptables', 'ip6tables']) execFileSync(cmd, ['-w', '-I', ...ahead.slice(0, 1), '1', ...ahead.slice(1)]);
      for (const cmd of ['iptables', 'ip6tables']) expect(order(cmd).ahead).toBeLessThan(order(cmd).jump);
      expect(await isolation.ensure()).toBe(true);
      for (const cmd of ['iptables', 'ip6tables']) {
        const o = order(cmd);
        expect(o.jump).toBeLessThan(o.ahead);
        expect(o.jumps).toBe(1);
      }

      // As `iptables -F` leaves it: Berth's jump and chain rules gone. The periodic check puts them back and says so.
      execFileSync('iptables', ['-w', '-D', 'INPUT', '-i', `${prefix}+`, '-j', isolation.inputChain]);
      execFileSync('iptables', ['-w', '-F', isolation.inputChain]);
      const warnings: string[] = [];
      await isolation.check({ warn: (_obj, msg) => warnings.push(msg) });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/isolation rules were missing/);
      const o = order('iptables');
      expect(o.jump).toBeGreaterThan(-1);
      expect(o.jump).toBeLessThan(o.ahead);
      expect(execFileSync('iptables', ['-w', '-S', isolation.inputChain], { encoding: 'utf8' })).toContain(`-A ${isolation.inputChain} -j DROP`);
    } finally {
      for (const cmd of ['iptables', 'ip6tables']) for (let i = 0; i < 5 && order(cmd).ahead !== -1; i++) quietly(cmd, ['-w', '-D', ...ahead]);
    }
  });
});
