/**
 * The `process` driver with real processes on this machine: start (environment, working dir, user, hostname),
 * published ports, graceful and forced stops, restart, remove and purge, exits, log rotation, adoption by a new
 * driver after the agent was SIGKILLed, cgroup files, and clear failures. Every pid started is tracked, and none may
 * be left running.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AgentCommand } from '../driver.js';
import { agentCommand } from '../test-command.js';
import { ProcessDriver, type ProcessDriverOptions } from './driver.js';
import { isAlive, procStat } from './records.js';

const NODE = '/usr/bin/node';
const dirs: string[] = [];
const drivers: ProcessDriver[] = [];
/** Every process a test started, checked in `afterEach`. */
const pids = new Set<number>();

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'procdriver-'));
  dirs.push(d);
  return d;
}

function driverOn(dir: string, opts: Partial<ProcessDriverOptions> = {}): ProcessDriver {
  const d = new ProcessDriver({ dataDir: dir, pollMs: 50, warn: () => undefined, ...opts });
  drivers.push(d);
  return d;
}

function cmd(name: AgentCommand['name'], action: string, data: Record<string, unknown>, processData: Record<string, unknown> = {}): AgentCommand {
  return agentCommand({ name, action, data, processData });
}

const reports: string[] = [];
const report = async (m: string) => {
  reports.push(m);
};

async function start(d: ProcessDriver, data: Record<string, unknown>, action = 'start') {
  const out = await d.activate(cmd('compute.instance.activate', action, data), report);
  const pid = d.record(String(data.id))?.pid;
  if (pid) pids.add(pid);
  return out;
}

const stop = (d: ProcessDriver, data: Record<string, unknown>, processData: Record<string, unknown> = {}, action = 'stop') =>
  d.deactivate(cmd('compute.instance.deactivate', action, data, processData), report);

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logOf = (d: ProcessDriver, id: string) =>
  d
    .accessTarget(id)!
    .logFiles.map((f) => readFileSync(f, 'utf8'))
    .join('');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A process that answers `hi <FOO>` over HTTP on $PORT. */
const HTTP_SERVER = `require('http').createServer((q, s) => s.end('hi ' + process.env.FOO)).listen(+process.env.PORT, () => console.log('listening'))`;

const running = (pid: number) => {
  const st = procStat(pid);
  return Boolean(st && st.state !== 'Z');
};

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  const left = [...pids].filter(running);
  pids.clear();
  // Record the failure first, then clean up what was left.
  for (const pid of left) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  expect(left, 'processes left running').toEqual([]);
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ProcessDriver', () => {
  it('starts the command with its environment, working dir, user and hostname, in namespaces; stops it with SIGTERM', async () => {
    const dir = dataDir();
    const d = driverOn(dir);
    const work = join(dir, 'work');
    mkdirSync(work, { mode: 0o777 });
    const data = {
      id: '1i1',
      uuid: 'u-1',
      entryPoint: ['/bin/sh', '-c'],
      command: ['echo "uid=$(id -u) cwd=$(pwd) foo=$FOO host=$(hostname) path=$PATH"; exec sleep 30'],
      environment: { FOO: 'bar baz' },
      workingDir: work,
      hostname: 'web-1',
    };
    const out = await start(d, data);
    expect(out.fields).toMatchObject({ externalId: 'proc-u-1', primaryIpAddress: '127.0.0.1', publicEndpoints: [] });
    const line = await waitFor('the first output', () => /uid=.*\n/.exec(logOf(d, '1i1'))?.[0]);
    expect(line).toContain('uid=65534 '); // the default runAs, nobody
    expect(line).toContain(`cwd=${work} `);
    expect(line).toContain('foo=bar baz ');
    expect(line).toContain('path=/usr/local/sbin:'); // a PATH when the instance gives none
    expect(line).toContain('host=web-1 ');
    expect(hostname()).not.toBe('web-1'); // the host's own stays
    const rec = d.record('1i1')!;
    // The tracked pid is the workload itself: every wrapper exec'd in place.
    await waitFor('sleep to replace sh', () => readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').startsWith('sleep'));
    expect(d.running()).toEqual([{ resourceId: '1i1', run: 1, healthCheck: null }]);
    expect(d.facts()).toMatchObject({ driver: 'process', capabilities: ['execute', 'logs', 'proxy', 'console'] });
    expect(d.facts().sandbox).toMatchObject({ namespaces: 'uts, ipc', logs: '3 files of 10 MiB' });
    // Execute and console join its namespaces and switch to its user themselves.
    expect(d.accessTarget('1i1')).toMatchObject({
      externalId: 'proc-u-1',
      running: true,
      exec: { cwd: work, shell: '/bin/sh', enter: [expect.stringMatching(/nsenter$/), '-t', String(rec.pid), '-u', '-i', '--', expect.stringMatching(/setpriv$/), '--reuid=65534', '--regid=65534', '--clear-groups', '--'] },
    });
    expect(d.accessTarget('1i1')!.exec.uid).toBeUndefined();

    const stopped = await stop(d, data);
    expect(stopped).toEqual({ stoppedBy: 'SIGTERM' });
    expect(isAlive(rec.pid!, rec.startTime)).toBe(false);
    expect(d.running()).toEqual([]);
    expect(d.exits()).toEqual([]); // a stop is no exit
    // Stopping again is fine.
    await expect(stop(d, data)).resolves.toEqual({});
  });

  it('runs an HTTP server; publishes public:private through a forwarder; health checks; a taken port fails the start', async () => {
    const d = driverOn(dataDir());
    const [priv, pub] = [await freePort(), await freePort()];
    const data = {
      id: '1i2',
      uuid: 'u-2',
      command: ['node', '-e', HTTP_SERVER],
      environment: { FOO: 'there', PORT: String(priv), PATH: '/usr/bin:/bin' },
      ports: [`${pub}:${priv}/tcp`],
      healthCheck: { port: priv, requestLine: 'GET "/" "HTTP/1.0"' },
    };
    const out = await start(d, data);
    expect(out.fields?.publicEndpoints).toEqual([{ ipAddress: '127.0.0.1', port: pub, privatePort: priv, protocol: 'tcp' }]);
    await waitFor('listening', () => logOf(d, '1i2').includes('listening'));
    expect(await (await fetch(`http://127.0.0.1:${priv}/`)).text()).toBe('hi there');
    expect(await (await fetch(`http://127.0.0.1:${pub}/`)).text()).toBe('hi there');
    const [m] = d.running();
    expect(await d.check(m, AbortSignal.timeout(2000))).toEqual({ healthy: true });
    expect(await d.check({ ...m, healthCheck: { port: priv } }, AbortSignal.timeout(2000))).toEqual({ healthy: true });
    const t = d.accessTarget('u-2')!;
    expect(t.address(pub)).toEqual({ host: '127.0.0.1', port: priv });
    expect(t.address(priv)).toEqual({ host: '127.0.0.1', port: priv });
    expect(t.address(1)).toBeUndefined();

    // Another instance wanting the same public port fails before anything runs.
    const clash = { id: '1i3', uuid: 'u-3', command: ['sleep', '30'], ports: [`${pub}:9/tcp`] };
    await expect(start(d, clash)).rejects.toThrow(`Port ${pub}:9/tcp: host port ${pub} is already in use`);
    expect(d.record('1i3')).toBeUndefined();

    await stop(d, data);
    await expect(fetch(`http://127.0.0.1:${pub}/`)).rejects.toThrow(); // the forwarder closed with the stop
    expect(await d.check(m, AbortSignal.timeout(2000))).toEqual({ healthy: false, message: 'not running' });
  });

  it('a process that ignores SIGTERM is SIGKILLed after the stop timeout', async () => {
    const d = driverOn(dataDir());
    const data = {
      id: '1i4',
      command: [NODE, '-e', `process.on('SIGTERM', () => console.log('ignored TERM')); console.log('ready'); setInterval(() => {}, 1000)`],
    };
    await start(d, data);
    await waitFor('ready', () => logOf(d, '1i4').includes('ready'));
    const t0 = Date.now();
    expect(await stop(d, data, { timeout: 1 })).toEqual({ stoppedBy: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(logOf(d, '1i4')).toContain('ignored TERM');
    expect(reports.some((r) => /killed by SIGKILL/.test(r))).toBe(true);
    expect(d.exits()).toEqual([]);
  });

  it('restart makes a new run with a new pid; remove keeps the files, purge deletes them', async () => {
    const dir = dataDir();
    const d = driverOn(dir);
    const data = { id: '1i5', uuid: 'u-5', command: ['sleep', '30'] };
    await start(d, data);
    const first = d.record('1i5')!;
    await stop(d, data, { timeout: 5 }, 'restart');
    await start(d, data, 'restart');
    const second = d.record('1i5')!;
    expect(second.run).toBe(2);
    expect(second.pid).not.toBe(first.pid);
    expect(d.running()).toEqual([{ resourceId: '1i5', run: 2, healthCheck: null }]);
    // A start delivered again while it runs starts nothing.
    await start(d, data);
    expect(d.record('1i5')).toMatchObject({ run: 2, pid: second.pid });

    const inst = join(dir, 'instances', 'u-5');
    await d.remove(cmd('compute.instance.remove', 'remove', data), report);
    expect(isAlive(second.pid!, second.startTime)).toBe(false);
    expect(d.record('1i5')).toBeUndefined();
    expect(existsSync(join(inst, 'out.log'))).toBe(true);
    expect(existsSync(join(inst, 'record.json'))).toBe(false);
    await d.remove(cmd('compute.instance.remove', 'purge', data), report);
    expect(existsSync(inst)).toBe(false);
  });

  it('an exit on its own is reported once, with its code (a signal as 128 + signo)', async () => {
    const d = driverOn(dataDir());
    await start(d, { id: '1i6', command: ['sh', '-c', 'echo bye; exit 3'] });
    await start(d, { id: '1i7', command: ['sh', '-c', 'kill -KILL $$'] });
    const seen = new Map<string, unknown>();
    await waitFor('two exits', () => {
      for (const e of d.exits()) seen.set(e.resourceId, e);
      return seen.size === 2;
    });
    expect(seen.get('1i6')).toEqual({ resourceId: '1i6', exitCode: 3, message: 'exited with code 3' });
    expect(seen.get('1i7')).toEqual({ resourceId: '1i7', exitCode: 137, message: 'killed by SIGKILL (exit code 137)' });
    expect(d.exits()).toEqual([]);
    expect(d.running()).toEqual([]);
    expect(d.accessTarget('1i6')?.running).toBe(false);
    expect(logOf(d, '1i6')).toBe('bye\n');
  });

  it('rotates logs within their caps while the process keeps appending', async () => {
    const d = driverOn(dataDir(), { logMaxBytes: 4096, logFiles: 3, pollMs: 60_000 });
    const data = { id: '1i8', command: [NODE, '-e', `let i = 0; setInterval(() => console.log(String(i++).padStart(6, '0') + 'x'.repeat(500)), 2)`] };
    await start(d, data);
    const live = d.accessTarget('1i8')!.logFiles.at(-1)!;
    for (let i = 0; i < 4; i++) {
      await waitFor('the live log to reach its cap', () => statSync(live).size >= 4096);
      expect(d.rotateLogs()).toBe(1);
    }
    await waitFor('output after the last rotation', () => statSync(live).size > 0);
    await stop(d, data);
    const files = d.accessTarget('1i8')!.logFiles;
    expect(files.map((f) => f.slice(live.length))).toEqual(['.2', '.1', '']);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text.includes('\0'), `${f} has a hole`).toBe(false); // O_APPEND: the writer went on at the new end
      expect(text.length).toBeLessThan(4096 * 4);
    }
    // Oldest first: line numbers grow from one file to the next.
    const firstNumber = (f: string) => Number(readFileSync(f, 'utf8').slice(0, 6));
    expect(firstNumber(files[0])).toBeLessThan(firstNumber(files[1]));
  });

  it('a driver on the same dataDir after the agent was SIGKILLed adopts what runs and reports what ended', async () => {
    const dir = dataDir();
    const list = [
      { id: 'a', command: [NODE, '-e', `setInterval(() => console.log('tick'), 20)`] },
      { id: 'b', command: ['sleep', '30'] },
      { id: 'c', command: ['sleep', '30'] },
    ];
    const agent = spawn(NODE, ['--import', 'tsx', join(import.meta.dirname, 'driver.fixture.ts'), dir, JSON.stringify(list)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    agent.stdout.on('data', (c) => (out += c));
    const started = await waitFor('the fixture agent to start its instances', () => out.includes('\n') && (JSON.parse(out) as Record<string, number>), 15_000);
    for (const pid of Object.values(started)) pids.add(pid);
    agent.kill('SIGKILL');
    await new Promise((r) => agent.once('exit', r));
    // 'b' dies while no agent runs.
    process.kill(-started.b, 'SIGKILL');
    await waitFor('b to end', () => !running(started.b));

    const d = driverOn(dir);
    await d.ready;
    expect(d.running().map((m) => m.resourceId).sort()).toEqual(['a', 'c']);
    expect(d.exits()).toEqual([{ resourceId: 'b', exitCode: -1, message: 'stopped while the agent was down (exit code unknown)' }]);
    // Its output went on without the agent.
    const before = logOf(d, 'a').length;
    await waitFor('more output from a', () => logOf(d, 'a').length > before);
    // An adopted process is watched through /proc.
    process.kill(started.c, 'SIGTERM');
    const [exit] = await waitFor('c to be reported', () => {
      const e = d.exits();
      return e.length ? e : undefined;
    });
    expect(exit).toEqual({ resourceId: 'c', exitCode: -1, message: 'exited while the agent was not its parent (exit code unknown)' });
    // And stopped like any other.
    expect(await stop(d, { id: 'a', uuid: 'u-a' })).toEqual({ stoppedBy: 'SIGTERM' });
    expect(running(started.a)).toBe(false);
    expect(d.running()).toEqual([]);
  });

  it('writes memory.max and cpu.weight in a cgroup v2 hierarchy and joins it (a temp dir: this machine has no cgroup v2 controllers)', async () => {
    const root = dataDir();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    const d = driverOn(dataDir(), { cgroupRoot: root });
    expect(d.facts().sandbox.cgroups).toBe(`memory.max, cpu.weight (${join(root, 'drover')})`);
    await start(d, { id: '1i9', uuid: 'u-9', command: ['sleep', '30'], memoryMb: 64, cpuShares: 512 });
    const cg = join(root, 'drover', 'u-9');
    expect(readFileSync(join(cg, 'memory.max'), 'utf8')).toBe(String(64 * 1024 * 1024));
    expect(readFileSync(join(cg, 'cpu.weight'), 'utf8')).toBe('20');
    expect(readFileSync(join(root, 'drover', 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu');
    // The process wrote its own pid before it exec'd the workload.
    const pid = d.record('1i9')!.pid!;
    await waitFor('the pid in cgroup.procs', () => existsSync(join(cg, 'cgroup.procs')) && readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim() === String(pid));
    await stop(d, { id: '1i9', uuid: 'u-9' });

    // On this host itself: cgroup v1 only, so nothing is applied, and the facts say why.
    expect(driverOn(dataDir()).facts().sandbox.cgroups).toMatch(/^not applied: /);
  });

  it('fails clearly: an unknown user, no command, an executable that is not there; nothing is left behind', async () => {
    const d = driverOn(dataDir());
    await expect(start(d, { id: '1j1', command: ['sleep', '30'], user: 'no-such-user' })).rejects.toThrow('Unknown user "no-such-user": no such user in /etc/passwd');
    await expect(start(d, { id: '1j2', command: [], entryPoint: null })).rejects.toThrow(
      'Cannot start the instance: it has no command (neither entryPoint nor command is set)',
    );
    await expect(start(d, { id: '1j3', command: ['no-such-program'] })).rejects.toThrow('executable "no-such-program" not found in PATH');
    // Root only where the operator allows it.
    await expect(start(d, { id: '1j5', command: ['true'], user: 'root' })).rejects.toThrow('Cannot run as user "root": this host runs no instance as root');
    await expect(start(d, { id: '1j6', command: ['true'], user: '0:0' })).rejects.toThrow('Cannot run as user "0:0"');
    // A workingDir must be there already: the agent (root) never makes directories a request names.
    const missing = join(dataDir(), 'not', 'there');
    await expect(start(d, { id: '1j4', command: ['true'], workingDir: missing })).rejects.toThrow(`workingDir "${missing}" is not a directory on this host`);
    expect(existsSync(missing)).toBe(false);
    expect(d.running()).toEqual([]);
    expect(d.record('1j1') ?? d.record('1j2') ?? d.record('1j3') ?? d.record('1j4')).toBeUndefined();
  });

  it('runs as a user the instance names (uid:gid), and as the agent itself with runAs null', async () => {
    const d = driverOn(dataDir());
    await start(d, { id: '1k1', command: ['sh', '-c', 'echo "$(id -u):$(id -g):$(id -G)"'], user: '4242:4343' });
    await start(d, { id: '1k2', command: ['sh', '-c', 'echo "$(id -u)"'], user: 'daemon' });
    const root = driverOn(dataDir(), { runAs: null, useNamespaces: false, allowRoot: true });
    await start(root, { id: '1k3', command: ['sh', '-c', 'echo "$(id -u)"'] });
    await start(root, { id: '1k4', command: ['sh', '-c', 'echo "$(id -u)"'], user: 'root' }); // allowed here
    const ended = new Set<string>();
    await waitFor('four exits', () => {
      for (const e of [...d.exits(), ...root.exits()]) ended.add(e.resourceId);
      return ended.size === 4;
    });
    expect(logOf(d, '1k1')).toBe('4242:4343:4343\n'); // no supplementary groups kept from root
    expect(logOf(d, '1k2')).toBe('1\n');
    expect(logOf(root, '1k3')).toBe(`${process.getuid!()}\n`);
    expect(logOf(root, '1k4')).toBe('0\n');
    expect(root.facts().sandbox.namespaces).toBe('not used (useNamespaces: false)');
  });
});
