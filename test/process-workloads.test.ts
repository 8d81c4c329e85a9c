/**
 * Real workloads end to end: the embedded stack with its workflows, two hosts whose agents run the process driver
 * and the host access server, and containers that are real processes on this machine. Every action goes through
 * the Rancher API; logs, execute, console and proxy go through the `hostAccess` URLs and tokens the API returns,
 * with the framing the access server documents (logs: text lines; execute and console: base64 both ways). A third
 * agent runs as its own process (`npm run agent -- --driver process`) and is killed with SIGKILL to show that a
 * restarted agent reports the truth. Nothing may be left running at the end: the test checks every pid it saw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startAccessServer, type AccessServer } from '../agent/access/server.js';
import { startAgent, type AgentLogger, type RunningAgent } from '../agent/agent.js';
import { ProcessDriver } from '../agent/process/driver.js';
import { isAlive } from '../agent/process/records.js';
import { signAccessToken } from '../core/agent/protocol.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { until, waitFor } from './helpers/wait.js';

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };
const root = mkdtempSync(join(tmpdir(), 'drover-workloads-'));
let t: TestStack;
let token: string;

interface Host {
  driver: ProcessDriver;
  access: AccessServer;
  agent: RunningAgent;
}
const hosts: Host[] = [];
/** Every workload pid the test saw: none may be alive at the end. */
const seenPids = new Set<number>();

/** A free TCP port on loopback (probed, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Whether a pid runs (a zombie does not: a workload outliving its agent is reaped by whoever init is here). */
const alive = (pid: number) => isAlive(pid, null);

/** One host: a process driver in its own data dir, its access server, and its agent. */
async function startHost(name: string): Promise<Host> {
  const driver = new ProcessDriver({ dataDir: join(root, name), pollMs: 100 });
  await driver.ready;
  let agent: RunningAgent | undefined;
  const access = await startAccessServer({
    listen: { host: '127.0.0.1', port: 0 },
    hostId: () => agent?.hostId,
    key: () => agent?.hostAccessKey,
    targets: (id) => driver.accessTarget(id),
  });
  agent = await startAgent({
    url: t.stack.url,
    token,
    driver,
    host: { uuid: `workloads-${name}`, hostname: name, vcpu: 4, memoryMb: 4096, accessUrl: access.url, address: '127.0.0.1' },
    pollWaitSeconds: 1,
    logger: quiet,
  });
  const host = { driver, access, agent };
  hosts.push(host);
  return host;
}

/**
 * A small HTTP server: answers `hello <path>` (and logs each request), echoes a POST's body, and speaks just enough
 * WebSocket on `/ws` to echo short text frames. Node is enough: no package, so it runs as `nobody` from anywhere.
 */
const SERVER = String.raw`
const http = require('http'), crypto = require('crypto');
const s = http.createServer((req, res) => {
  console.log('request ' + req.method + ' ' + req.url);
  if (req.method === 'POST') { req.pipe(res); return; }
  res.end('hello ' + req.url + ' from ' + process.env.GREETING);
});
s.on('upgrade', (req, sock) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  sock.on('data', (b) => {
    const len = b[1] & 127, mask = b.subarray(2, 6), data = Buffer.from(b.subarray(6, 6 + len));
    for (let i = 0; i < len; i++) data[i] ^= mask[i % 4];
    if ((b[0] & 15) === 8) { sock.end(); return; }
    sock.write(Buffer.concat([Buffer.from([0x81, len]), data]));
  });
});
s.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
`;

async function create(body: Record<string, unknown>) {
  const r = await t.admin.post('/v1/containers', { imageUuid: 'process:node', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string };
}

const get = async (id: string) => (await t.admin.get(`/v1/containers/${id}`)).body;
const settled = (id: string, state: string, timeoutMs = 15_000) =>
  waitFor(t.admin, `/v1/containers/${id}`, (b) => b.state === state && b.transitioning !== 'yes', { timeoutMs }).then((s) => s.body);
async function act(id: string, action: string, input: Record<string, unknown> = {}) {
  const r = await t.admin.post(`/v1/containers/${id}/?action=${action}`, input);
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

/** The pid the host's driver runs an instance as (and remembers it for the final check). */
function pidOf(host: Host, id: string): number {
  const pid = host.driver.record(id)?.pid;
  if (typeof pid !== 'number') throw new Error(`no process for ${id} on this host`);
  seenPids.add(pid);
  return pid;
}

/** Opens a hostAccess stream and collects its messages until it closes. */
function openStream(grant: { url: string; token: string }) {
  const ws = new WebSocket(`${grant.url}?token=${encodeURIComponent(grant.token)}`);
  const messages: string[] = [];
  ws.on('message', (m) => messages.push(m.toString()));
  const closed = new Promise<{ code: number; reason: string }>((ok) => ws.on('close', (code, reason) => ok({ code, reason: reason.toString() })));
  const opened = new Promise<void>((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`refused: HTTP ${res.statusCode}`)));
  });
  return { ws, messages, closed, opened };
}
const decoded = (messages: string[]) => messages.map((m) => Buffer.from(m, 'base64').toString('utf8')).join('');

beforeAll(async () => {
  t = await startTestStack({
    env: {
      DROVER_RUNNER: 'workflows',
      DROVER_SIM_HOSTS: '0',
      DROVER_RESTART_BACKOFF_MS: '50',
      DROVER_RESTART_BACKOFF_CAP_MS: '50',
    },
  });
  token = (await t.admin.post('/v1/registrationtokens', { name: 'workloads' })).body.token;
  await startHost('node-1');
  await startHost('node-2');
});

afterAll(async () => {
  // Every instance the test made is removed through the API (its process stopped) before the hosts go.
  const left = (await t.admin.get('/v1/containers?limit=-1')).body.data.filter((c: any) => !['removed', 'purged', 'removing', 'purging'].includes(c.state));
  for (const c of left) await t.admin.post(`/v1/containers/${c.id}/?action=${c.state === 'running' ? 'stop' : 'remove'}`, { remove: true, timeout: 1 });
  for (const c of left) await waitFor(t.admin, `/v1/containers/${c.id}`, (b) => ['removed', 'purged'].includes(b.state), { timeoutMs: 15_000 }).catch(() => {});
  for (const h of hosts) {
    await h.agent.stop({ graceMs: 0 });
    await h.access.close();
    await h.driver.close();
  }
  await t?.close();
  const running = [...seenPids].filter(alive);
  for (const pid of running) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
  expect(running, 'workload processes left running').toEqual([]);
});

describe('containers as real processes', () => {
  let web: { id: string };
  /** The host `web` starts on, and the one it migrates to. */
  let first: Host;
  let second: Host;
  let publicPort: number;
  let privatePort: number;

  it('start: the command runs with its environment, working dir and user, and its published port answers', async () => {
    [publicPort, privatePort] = [await freePort(), await freePort()];
    web = await create({
      name: 'web',
      hostname: 'web-1',
      command: ['node', '-e', SERVER],
      environment: { GREETING: 'drover', PORT: String(privatePort) },
      ports: [`${publicPort}:${privatePort}/tcp`],
    });
    // Not pinned with requestedHostId, so that it can migrate later: the scheduler picks one of the two hosts.
    const running = await settled(web.id, 'running');
    [first, second] = running.hostId === hosts[0].agent.hostId ? [hosts[0], hosts[1]] : [hosts[1], hosts[0]];
    expect(running).toMatchObject({
      hostId: first.agent.hostId,
      primaryIpAddress: '127.0.0.1',
      externalId: expect.stringMatching(/^proc-/),
      publicEndpoints: [{ ipAddress: '127.0.0.1', port: publicPort, privatePort, protocol: 'tcp' }],
    });
    expect(Object.keys(running.actions)).toEqual(expect.arrayContaining(['console', 'execute', 'logs', 'proxy', 'stop']));
    expect(alive(pidOf(first, web.id))).toBe(true);
    // Published on the host: the agent forwards the public port to the process's own.
    const answer = await until(() => fetch(`http://127.0.0.1:${publicPort}/x`).then((r) => r.text()).catch(() => undefined), 10_000);
    expect(answer).toBe('hello /x from drover');
    const host = (await t.admin.get(`/v1/hosts/${first.agent.hostId}`)).body;
    expect(host).toMatchObject({ driver: 'process', capabilities: ['execute', 'logs', 'proxy', 'console'], accessUrl: first.access.url });
    expect(host.sandbox).toMatchObject({ user: expect.any(String), namespaces: expect.any(String), cgroups: expect.any(String) });
  });

  it('logs: the last lines, then followed, over WebSocket and HTTP streaming', async () => {
    const grant = await act(web.id, 'logs', { lines: 1, follow: false });
    expect(grant.url).toBe(`${first.access.url.replace(/^http/, 'ws')}/v1/logs/`);
    const past = openStream(grant);
    await past.closed;
    expect(past.messages).toEqual([expect.stringContaining('request GET /x')]);

    const follow = openStream(await act(web.id, 'logs', { lines: 0, follow: true }));
    await follow.opened;
    await fetch(`http://127.0.0.1:${publicPort}/followed`);
    await until(() => follow.messages.some((m) => m.includes('request GET /followed')), 5000);
    follow.ws.close();

    const overHttp = await act(web.id, 'logs', { lines: 2, follow: false });
    const text = await (await fetch(`${overHttp.url.replace(/^ws/, 'http')}?token=${encodeURIComponent(overHttp.token)}`)).text();
    expect(text.trim().split('\n')).toEqual([expect.stringContaining('request GET /x'), expect.stringContaining('request GET /followed')]);
  });

  it('execute: a command in the instance environment, without and with a tty; console: a shell', async () => {
    const plain = openStream(await act(web.id, 'execute', { command: ['sh', '-c', 'echo "$GREETING in $(pwd) as $(id -u) on $(hostname)"; echo oops >&2; exit 3'], tty: false }));
    const end = await plain.closed;
    expect(end.reason).toBe('exit 3');
    const out = decoded(plain.messages);
    expect(out).toContain('drover in ');
    // In the instance's own UTS namespace (its hostname), where this host can make namespaces.
    if (JSON.stringify((await t.admin.get(`/v1/hosts/${first.agent.hostId}`)).body.sandbox).includes('uts')) expect(out).toContain(' on web-1');
    expect(out).toContain('oops');
    expect(out).not.toMatch(/ as 0\b/); // the instance's user, not the agent's root

    const tty = openStream(await act(web.id, 'execute', { command: ['sh', '-c', 'tty; id -u'], tty: true }));
    await tty.closed;
    expect(decoded(tty.messages)).toMatch(/\/dev\/pts\/\d+/);
    expect(decoded(tty.messages)).not.toMatch(/^0\r?$/m);

    const shell = openStream(await act(web.id, 'console'));
    await shell.opened;
    shell.ws.send(Buffer.from('echo "console says $GREETING"; exit\n').toString('base64'));
    await shell.closed;
    expect(decoded(shell.messages)).toContain('console says drover');
  });

  it('npm run access: logs, exec with the command exit code, and proxy, as a terminal runs them', async () => {
    const env = { ...process.env, API: `${t.stack.url}/v1`, AK: t.admin.accessKey, SK: t.admin.secretKey };
    const cli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'agent/access-client.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d) => (stdout += d));
        child.stderr!.on('data', (d) => (stderr += d));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const exec = await cli(['exec', web.id, '--', 'sh', '-c', 'echo "cli says $GREETING"; exit 4']);
    expect([exec.status, exec.stdout], exec.stderr).toEqual([4, 'cli says drover\n']);
    const logs = await cli(['logs', web.id, '--lines', '1']);
    expect([logs.status, logs.stdout], logs.stderr).toEqual([0, 'request GET /followed\n']);
    const proxied = await cli(['proxy', web.id, String(privatePort), '/cli']);
    expect([proxied.status, proxied.stdout], proxied.stderr).toEqual([0, 'hello /cli from drover']);
    const refused = await cli(['exec', 'nosuch', '--', 'true']);
    expect([refused.status, refused.stderr]).toEqual([1, expect.stringContaining('nosuch: 404')]);
  });

  it('proxy: HTTP and a WebSocket upgrade reach the instance port', async () => {
    const grant = await act(web.id, 'proxy', { port: privatePort });
    expect(grant.url).toBe(`${first.access.url}/v1/container-proxy/`);
    const q = `?token=${encodeURIComponent(grant.token)}`;
    expect(await (await fetch(`${grant.url}page${q}`)).text()).toBe('hello /page from drover');
    expect(await (await fetch(`${grant.url}echo${q}`, { method: 'POST', body: 'posted body' })).text()).toBe('posted body');
    const ws = new WebSocket(`${grant.url.replace(/^http/, 'ws')}ws${q}`);
    const echoed = new Promise<string>((ok, fail) => {
      ws.once('message', (m) => ok(m.toString()));
      ws.once('error', fail);
    });
    await new Promise((ok) => ws.once('open', ok));
    ws.send('ping through the proxy');
    expect(await echoed).toBe('ping through the proxy');
    ws.terminate();
  });

  it('refuses tokens for another host, another kind, or signed with another key', async () => {
    const logs = await act(web.id, 'logs', { lines: 1, follow: false });
    const refused = async (url: string, tok: string) => {
      const r = await fetch(`${url.replace(/^ws/, 'http')}?token=${encodeURIComponent(tok)}`);
      return r.status;
    };
    // The same token at the other host's access server, and at this host's exec path.
    expect(await refused(`${second.access.url}/v1/logs/`, logs.token)).toBe(401);
    const exec = openStream({ url: `${first.access.url.replace(/^http/, 'ws')}/v1/exec/`, token: logs.token });
    await expect(exec.opened).rejects.toThrow(/401/);
    // Signed with the other host's key, and expired.
    const forged = signAccessToken(second.agent.hostAccessKey!, { hostId: first.agent.hostId, resourceId: web.id, logs: { Container: (await get(web.id)).externalId, Lines: 1, Follow: false } }, 60);
    expect(await refused(`${first.access.url}/v1/logs/`, forged)).toBe(401);
    const expired = signAccessToken(first.agent.hostAccessKey!, { hostId: first.agent.hostId, resourceId: web.id, logs: { Container: (await get(web.id)).externalId, Lines: 1, Follow: false } }, 60, Date.now() - 120_000);
    expect(await refused(`${first.access.url}/v1/logs/`, expired)).toBe(401);
    expect(await refused(`${first.access.url}/v1/logs/`, logs.token)).toBe(200);
  });

  it('restart makes a new process; migrate moves it to the other host', async () => {
    const before = pidOf(first, web.id);
    await act(web.id, 'restart');
    await until(async () => (await get(web.id)).state === 'running' && first.driver.record(web.id)?.pid !== before, 15_000);
    const after = pidOf(first, web.id);
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);

    await act(web.id, 'migrate');
    const moved = await waitFor(t.admin, `/v1/containers/${web.id}`, (b) => b.state === 'running' && b.hostId === second.agent.hostId, { timeoutMs: 15_000 });
    expect(moved.body.hostId).toBe(second.agent.hostId);
    expect(alive(after)).toBe(false);
    expect(alive(pidOf(second, web.id))).toBe(true);
    const answer = await until(() => fetch(`http://127.0.0.1:${publicPort}/moved`).then((r) => r.text()).catch(() => undefined), 10_000);
    expect(answer).toBe('hello /moved from drover');
  });

  it('stop: SIGTERM ends a process that honours it; one that ignores it is killed after the timeout', async () => {
    const pid = pidOf(second, web.id);
    await act(web.id, 'stop', { timeout: 10 });
    const stopped = await settled(web.id, 'stopped');
    expect(stopped.state).toBe('stopped');
    expect(alive(pid)).toBe(false);
    const logs = openStream(await act(web.id, 'logs', { lines: 1, follow: false }));
    await logs.closed;
    expect(logs.messages).toEqual([expect.stringContaining('bye')]); // its SIGTERM handler ran

    const stubborn = await create({ name: 'stubborn', command: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'], requestedHostId: first.agent.hostId });
    await settled(stubborn.id, 'running');
    const spid = pidOf(first, stubborn.id);
    const began = Date.now();
    await act(stubborn.id, 'stop', { timeout: 1 });
    await settled(stubborn.id, 'stopped');
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    expect(alive(spid)).toBe(false);
  });

  it('an exit on its own is reported with its code; a crash loop under restartPolicy ends in error at the cap', async () => {
    const once = await create({ name: 'once', command: ['sh', '-c', 'sleep 0.3; exit 7'], requestedHostId: hosts[0].agent.hostId });
    await settled(once.id, 'running');
    pidOf(hosts[0], once.id);
    const exited = await settled(once.id, 'stopped');
    expect(exited.state).toBe('stopped');
    // The exit is the instance's own `exit` process, with the code the driver saw, in its audit trail.
    const audit = await waitFor(t.admin, `/v1/auditentries?resourceId=${once.id}&action=exit`, (b) => b.data[0]?.outcome, { timeoutMs: 5000 });
    expect(audit.body.data).toEqual([expect.objectContaining({ action: 'exit', input: { exitCode: 7 }, outcome: 'succeeded' })]);

    const loop = await create({
      name: 'loop',
      command: ['sh', '-c', 'sleep 0.2; exit 1'],
      restartPolicy: { name: 'on-failure', maximumRetryCount: 2 },
      requestedHostId: hosts[0].agent.hostId,
    });
    const errored = await waitFor(t.admin, `/v1/containers/${loop.id}`, (b) => b.state === 'error', { timeoutMs: 20_000 });
    expect(errored.body.transitioningMessage).toMatch(/giving up \(restartPolicy on-failure, maximumRetryCount 2\)/);
    expect(errored.body.startCount).toBe(3);
  });

  it('a start the host refuses ends in error with its reason (no command, an unknown user, a missing executable)', async () => {
    for (const [body, reason] of [
      [{ name: 'nothing' }, 'it has no command'],
      [{ name: 'stranger', command: ['true'], user: 'no-such-user' }, 'no-such-user'],
      [{ name: 'missing', command: ['no-such-program'] }, 'executable "no-such-program" not found'],
    ] as const) {
      const c = await create({ ...body, requestedHostId: first.agent.hostId });
      const failed = await settled(c.id, 'error');
      expect(failed.transitioningMessage, JSON.stringify(body)).toContain(reason);
      expect(first.driver.record(c.id)).toBeUndefined();
    }
  });

  it('remove keeps the instance files, purge deletes them', async () => {
    const files = await create({ name: 'files', command: ['sh', '-c', 'echo kept; sleep 600'], requestedHostId: hosts[0].agent.hostId });
    await settled(files.id, 'running');
    pidOf(hosts[0], files.id);
    const uuid = (await get(files.id)).uuid;
    const dir = join(root, 'node-1', 'instances', uuid);
    expect(existsSync(dir)).toBe(true);
    await act(files.id, 'stop', { remove: true, timeout: 1 });
    await settled(files.id, 'removed');
    expect(existsSync(dir)).toBe(true);
    await act(files.id, 'purge');
    await settled(files.id, 'purged');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('an agent killed with SIGKILL', () => {
  it('comes back, adopts the processes still running and reports the ones that died meanwhile', async () => {
    const dataDir = join(root, 'node-3');
    const args = ['--url', t.stack.url, '--token', token, '--driver', 'process', '--data-dir', dataDir, '--hostname', 'node-3', '--access-listen', '127.0.0.1:0', '--poll-wait', '1'];
    const run = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      return { child, output: () => out };
    };
    const exited = (c: ChildProcess) => new Promise<void>((ok) => (c.exitCode !== null || c.signalCode !== null ? ok() : c.once('exit', () => ok())));
    const first = run();
    const host = await waitFor(t.admin, '/v1/hosts', (b) => b.data.some((h: any) => h.hostname === 'node-3' && h.agentState === 'online'), { timeoutMs: 20_000 });
    const hostId = host.body.data.find((h: any) => h.hostname === 'node-3').id;
    const keeps = await create({ name: 'keeps', command: ['sh', '-c', 'while true; do sleep 1; done'], requestedHostId: hostId });
    const dies = await create({ name: 'dies', command: ['sh', '-c', 'while true; do sleep 1; done'], requestedHostId: hostId });
    await settled(keeps.id, 'running');
    await settled(dies.id, 'running');
    // The records the agent keeps name the pids: read them as a new driver would.
    const records = new ProcessDriver({ dataDir, runAs: null, pollMs: 60_000 });
    await records.ready;
    const [keepsPid, diesPid] = [records.record(keeps.id)!.pid!, records.record(dies.id)!.pid!];
    await records.close();
    for (const pid of [keepsPid, diesPid]) seenPids.add(pid);

    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(alive(keepsPid)).toBe(true); // workloads outlive their agent
    process.kill(diesPid, 'SIGKILL');
    await until(() => !alive(diesPid), 5000);

    const second = run();
    try {
      // The one that died while the agent was down is reported; the other is still running, as the API says.
      const died = await settled(dies.id, 'stopped', 20_000);
      expect(died.state).toBe('stopped');
      expect((await get(keeps.id)).state).toBe('running');
      expect(alive(keepsPid)).toBe(true);
      // And the adopted process is still the agent's to stop.
      await act(keeps.id, 'stop', { timeout: 1 });
      await settled(keeps.id, 'stopped');
      expect(alive(keepsPid)).toBe(false);
      for (const c of [keeps, dies]) await act(c.id, 'remove');
      for (const c of [keeps, dies]) await settled(c.id, 'removed');
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
  });
});
