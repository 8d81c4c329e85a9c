/**
 * @module
 * The `process` driver (`--driver process`): each instance is a process on this host, started from the instance's
 * `entryPoint` + `command` with its `environment`, `workingDir` and `user`, in its own process group, with its output
 * appended to capped rotating files (`agent/process/log-files.ts`), its own hostname in UTS and IPC namespaces where
 * `unshare` works and memory and CPU limits where a cgroup v2 mount allows (`agent/process/sandbox.ts`), and its
 * published ports forwarded by the agent (`agent/process/port-forward.ts`). Activate starts it, deactivate stops it
 * (SIGTERM to the group, SIGKILL after the stop's timeout), remove forgets it (`purge` also deletes its files). A
 * small JSON record per instance (`<dataDir>/instances/<key>/record.json`, `agent/process/records.ts`) lets an agent
 * that restarts, even after SIGKILL, adopt the processes that still run (the same pid with the same start time) and
 * report those that ended meanwhile. Health checks are `agent/process/health-check.ts`'s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, closeSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type {
  AccessTarget,
  AgentCommand,
  CommandContext,
  Driver,
  DriverFacts,
  DriverResult,
  ExitReport,
  HealthCheckSpec,
  HealthResult,
  MonitoredInstance,
  Report,
} from '../driver.js';
import { errorText, exitCodeOf, killGroup } from '../processes.js';
import { pause } from '../retry.js';
import { checkPort } from './health-check.js';
import { LogFiles } from './log-files.js';
import { openForwarder, parsePort, probePort, type Forwarder } from './port-forward.js';
import { isAlive, procStat, recoverRecords, removeRecord, writeRecord, type ProcessRecord, type ProcessSpec } from './records.js';
import { detectSandbox, enterArgv, launchArgv, resolveUser, type RunUser, type Sandbox } from './sandbox.js';

/** How the process driver is set up. */
export interface ProcessDriverOptions {
  /** Where instance directories (records, logs, default working directories) live. */
  dataDir: string;
  /** The host address instances are reached at, their `primaryIpAddress` (default `127.0.0.1`). */
  address?: string;
  /** User of instances that name none when the agent is root (default `nobody`; `null`: the agent's own user). */
  runAs?: string | null;
  /**
   * Whether an instance may name `root` (uid 0) as its `user` (default false: any API user of the host's project
   * could otherwise run as root on the host).
   */
  allowRoot?: boolean;
  /** Size at which an instance's live log is rotated (bytes, default 10 MiB). */
  logMaxBytes?: number;
  /** Log files kept per instance, the live one included (default 3). */
  logFiles?: number;
  /** Start instances in their own UTS and IPC namespaces where `unshare` works (default true). */
  useNamespaces?: boolean;
  /** The cgroup v2 mount for limits (`null`: none; absent: detected, one with the `memory` and `cpu` controllers). */
  cgroupRoot?: string | null;
  /** How often adopted processes are looked at and log sizes checked (ms, default 1000). */
  pollMs?: number;
  /** Seconds a stop waits after SIGTERM when the command names none (Rancher's default 10). */
  stopTimeoutSeconds?: number;
  /** The clock (ms) for records and messages. */
  now?: () => number;
  /** Where problems outside any command go (a record that cannot be read, a forwarder that cannot reopen). */
  warn?: (msg: string) => void;
}

interface Instance {
  rec: ProcessRecord;
  dir: string;
  logs: LogFiles;
  /** The process when the driver spawned it (absent for an adopted one, watched through `/proc`). */
  child?: ChildProcess;
  forwarders: Forwarder[];
  stopping: boolean;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MiB = 1024 * 1024;

function keyOf(cmd: AgentCommand): string {
  const uuid = cmd.data?.uuid;
  const key = typeof uuid === 'string' && uuid ? uuid : cmd.resourceId;
  return key.replace(/[^A-Za-z0-9_.-]/g, '_');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

function strings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v ? ['/bin/sh', '-c', v] : []; // a command line as one string: run by a shell
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error(`Invalid ${field}: expected a list of strings`);
  return v as string[];
}

/** Finds an executable the way `execvp` would, to fail a start with a clear message rather than a spawn error. */
function resolveExecutable(file: string, path: string, cwd: string): string {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    const p = isAbsolute(file) ? file : resolve(cwd, file);
    if (!ok(p)) throw new Error(`Cannot start the instance: ${file} is not an executable file`);
    return p;
  }
  for (const dir of path.split(':')) {
    const p = join(dir || '.', file);
    if (ok(isAbsolute(p) ? p : resolve(cwd, p))) return isAbsolute(p) ? p : resolve(cwd, p);
  }
  throw new Error(`Cannot start the instance: executable "${file}" not found in PATH (${path})`);
}

/**
 * The process driver. One per agent, on one `dataDir`; a new one on the same `dataDir` takes over the instances
 * its predecessor left running. `ready` settles once the forwarders of adopted instances are open again.
 *
 * @example
 * const driver = new ProcessDriver({ dataDir: '/var/lib/drover-agent' });
 * await driver.ready;
 * await startAgent({ url, token, driver });
 * ...
 * await driver.close(); // instances keep running
 */
export class ProcessDriver implements Driver {
  /** Settles when the driver has taken over what its records describe. */
  readonly ready: Promise<void>;
  private readonly instances = new Map<string, Instance>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly sandbox: Sandbox;
  private readonly dataDir: string;
  private readonly address: string;
  private readonly logCaps: { maxBytes: number; files: number };
  private readonly stopTimeout: number;
  private readonly allowRoot: boolean;
  private readonly now: () => number;
  private readonly warn: (msg: string) => void;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(opts: ProcessDriverOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.address = opts.address ?? '127.0.0.1';
    this.logCaps = { maxBytes: opts.logMaxBytes ?? 10 * MiB, files: Math.max(1, opts.logFiles ?? 3) };
    this.stopTimeout = opts.stopTimeoutSeconds ?? 10;
    this.allowRoot = opts.allowRoot ?? false;
    this.now = opts.now ?? Date.now;
    this.warn = opts.warn ?? ((m) => console.warn(`process driver: ${m}`));
    this.sandbox = detectSandbox({ runAs: opts.runAs === undefined ? 'nobody' : opts.runAs, useNamespaces: opts.useNamespaces ?? true, cgroupRoot: opts.cgroupRoot });
    mkdirSync(join(this.dataDir, 'instances'), { recursive: true, mode: 0o711 });
    this.load();
    this.ready = this.reopenForwarders();
    this.timer = setInterval(() => this.poll(), opts.pollMs ?? 1000);
    this.timer.unref();
  }

  /**
   * What the driver tells the server about the host: its name, the access kinds it serves, and what it applies.
   *
   * @example
   * driver.facts().sandbox // { user: 'nobody (uid 65534) unless the instance names one (never root)', namespaces: 'uts, ipc', ... }
   */
  facts(): DriverFacts {
    const sb = this.sandbox;
    const user =
      sb.uid !== 0
        ? `the agent's own (uid ${sb.uid}): the agent is not root, instances cannot name another user`
        : `${sb.defaultUser ? `${sb.defaultUser.name} (uid ${sb.defaultUser.uid})` : "root (the agent's own)"} unless the instance names one${
            this.allowRoot ? '' : ' (never root)'
          }`;
    const mib = this.logCaps.maxBytes / MiB;
    const size = Number.isInteger(mib) ? `${mib} MiB` : `${this.logCaps.maxBytes} bytes`;
    return {
      driver: 'process',
      capabilities: ['execute', 'logs', 'proxy', 'console'],
      sandbox: {
        user,
        namespaces: sb.unshare ? 'uts, ipc' : (sb.why.namespaces ?? 'not used'),
        cgroups: sb.cgroup ? `memory.max, cpu.weight (${sb.cgroup.base})` : (sb.why.cgroups ?? 'not applied'),
        logs: `${this.logCaps.files} file${this.logCaps.files > 1 ? 's' : ''} of ${size}`,
        ports: 'published by TCP forwarders in the agent',
      },
    };
  }

  /**
   * Starts the instance (a new run); an instance already running here is left as it is.
   *
   * @example
   * await driver.activate(cmd, report) // { fields: { externalId: 'proc-<uuid>', primaryIpAddress: '127.0.0.1', publicEndpoints: [...] } }
   */
  async activate(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult> {
    await this.ready;
    const key = keyOf(cmd);
    return this.serial(key, async () => {
      const known = this.instances.get(key);
      if (known?.rec.state === 'running' && known.rec.pid && isAlive(known.rec.pid, known.rec.startTime)) {
        await report(`Already running (pid ${known.rec.pid})`, 100);
        return this.resultOf(known);
      }
      // No report before the spawn: it takes a few ms and a report about 20 (an HTTP request, a store write and a
      // task heartbeat); meanwhile the instance shows the host call's own message ("Starting on host 1h2").
      const dir = join(this.dataDir, 'instances', key);
      mkdirSync(dir, { recursive: true, mode: 0o711 });
      const spec = this.specOf(cmd, dir);
      const inst: Instance = known ?? {
        rec: {
          version: 1,
          key,
          resourceId: cmd.resourceId,
          externalId: `proc-${key}`,
          run: 0,
          state: 'stopped',
          pid: null,
          startTime: null,
          startedAt: 0,
          spec,
        },
        dir,
        logs: new LogFiles(dir, this.logCaps),
        forwarders: [],
        stopping: false,
      };
      inst.rec.resourceId = cmd.resourceId;
      ctx?.signal.throwIfAborted();

      // Ports first: a taken port fails the start before anything runs.
      const forwarders: Forwarder[] = [];
      try {
        for (const p of spec.ports) {
          if (p.publicPort === p.privatePort) await probePort(p);
          else forwarders.push(await openForwarder(p));
        }
      } catch (e) {
        await Promise.all(forwarders.map((f) => f.close()));
        throw e;
      }

      let child: ChildProcess | undefined;
      let cgroupProcs: string | undefined;
      try {
        const sb = this.sandbox;
        if (sb.cgroup && (spec.memoryBytes || spec.cpuShares)) {
          cgroupProcs = sb.cgroup.create(key, { memoryBytes: spec.memoryBytes, cpuShares: spec.cpuShares });
        }
        const launch = launchArgv(sb, { argv: spec.argv, user: spec.user, hostname: spec.hostname, cgroupProcs });
        const fd = inst.logs.openForAppend();
        try {
          child = spawn(launch.argv[0], launch.argv.slice(1), {
            cwd: spec.cwd,
            env: spec.env,
            detached: true,
            stdio: ['ignore', fd, fd],
            ...(launch.uid !== undefined ? { uid: launch.uid, gid: launch.gid } : {}),
          });
        } finally {
          closeSync(fd);
        }
        const spawnError = new Promise<Error>((r) => child!.once('error', r));
        if (!child.pid) throw new Error(`Cannot start the instance: ${errorText(await spawnError)}`);
        const pid = child.pid;
        // The record follows the spawn at once: nothing runs without one.
        inst.rec = {
          ...inst.rec,
          run: inst.rec.run + 1,
          state: 'running',
          pid,
          startTime: procStat(pid)?.startTime ?? null,
          startedAt: this.now(),
          endedAt: undefined,
          exitCode: undefined,
          exitMessage: undefined,
          exitPending: false,
          cgroup: Boolean(cgroupProcs),
          spec,
        };
        writeRecord(inst.dir, inst.rec);
        if (cgroupProcs && !launch.joinsCgroup) sb.cgroup!.join(key, pid);
      } catch (e) {
        if (child?.pid) killGroup(child.pid, 'SIGKILL');
        await Promise.all(forwarders.map((f) => f.close()));
        if (cgroupProcs) this.sandbox.cgroup?.remove(key);
        throw e;
      }
      inst.child = child;
      inst.forwarders = forwarders;
      inst.stopping = false;
      this.instances.set(key, inst);
      this.watch(inst, child);
      const what = [
        spec.user ? `as ${spec.user.name}` : '',
        this.sandbox.unshare ? 'in its own UTS/IPC namespaces' : '',
        inst.rec.cgroup ? 'with cgroup limits' : '',
      ].filter(Boolean);
      await report(`Started pid ${inst.rec.pid}${what.length ? ` ${what.join(', ')}` : ''}`, 90);
      return this.resultOf(inst);
    });
  }

  /**
   * Stops the instance: SIGTERM to its process group, SIGKILL after the stop's `timeout` seconds (default 10).
   * An instance that is not running is already stopped.
   *
   * @example
   * await driver.deactivate({ ...cmd, action: 'stop', processData: { timeout: 5 } }, report) // { stoppedBy: 'SIGTERM' }
   */
  async deactivate(cmd: AgentCommand, report: Report): Promise<DriverResult> {
    await this.ready;
    const key = keyOf(cmd);
    return this.serial(key, async () => {
      const inst = this.instances.get(key);
      if (!inst) {
        await report('Instance is not on this host: nothing to stop', 100);
        return {};
      }
      return this.stop(inst, this.timeoutOf(cmd), report);
    });
  }

  /**
   * Removes the instance: stops it if it runs, closes its forwarders and forgets its record; its files stay unless
   * the action is `purge`, which deletes its directory (logs and default working directory).
   *
   * @example
   * await driver.remove({ ...cmd, action: 'purge' }, report);
   */
  async remove(cmd: AgentCommand, report: Report): Promise<DriverResult> {
    await this.ready;
    const key = keyOf(cmd);
    return this.serial(key, async () => {
      await report('Removing instance', 10);
      const inst = this.instances.get(key);
      if (inst) {
        await this.stop(inst, this.timeoutOf(cmd), report);
        removeRecord(inst.dir);
        this.instances.delete(key);
      }
      if (cmd.action === 'purge') {
        rmSync(join(this.dataDir, 'instances', key), { recursive: true, force: true });
        await report('Removed the instance and deleted its files', 100);
      } else await report('Removed the instance (its files stay)', 100);
      return {};
    });
  }

  /**
   * The running instances, for the agent's health loop.
   *
   * @example
   * driver.running() // [{ resourceId: '1i5', run: 1, healthCheck: { port: 80 } }]
   */
  running(): MonitoredInstance[] {
    return [...this.instances.values()]
      .filter((i) => i.rec.state === 'running')
      .map((i) => ({ resourceId: i.rec.resourceId, run: i.rec.run, healthCheck: i.rec.spec.healthCheck }));
  }

  /**
   * One health check: a TCP connect to `127.0.0.1:<port>`, or with a `requestLine` an HTTP request expecting 2xx/3xx.
   *
   * @example
   * await driver.check({ resourceId: '1i5', run: 1, healthCheck: { port: 80, requestLine: 'GET /healthz HTTP/1.0' } }, signal)
   */
  async check(m: MonitoredInstance, signal: AbortSignal): Promise<HealthResult> {
    const inst = this.find(m.resourceId);
    if (!inst || inst.rec.state !== 'running') return { healthy: false, message: 'not running' };
    const hc = m.healthCheck ?? inst.rec.spec.healthCheck;
    if (!hc?.port) return { healthy: false, message: 'no health check port' };
    return checkPort('127.0.0.1', hc.port, hc.requestLine ?? undefined, signal);
  }

  /**
   * Instances that ended on their own since the last call, each returned once.
   *
   * @example
   * driver.exits() // [{ resourceId: '1i5', exitCode: 3, message: 'exited with code 3' }]
   */
  exits(): ExitReport[] {
    // Adopted processes are looked at by the driver's own poll (every `pollMs`), not by every caller of this.
    const out: ExitReport[] = [];
    for (const inst of this.instances.values()) {
      if (!inst.rec.exitPending) continue;
      inst.rec.exitPending = false;
      writeRecord(inst.dir, inst.rec);
      out.push({ resourceId: inst.rec.resourceId, exitCode: inst.rec.exitCode ?? -1, ...(inst.rec.exitMessage ? { message: inst.rec.exitMessage } : {}) });
    }
    return out;
  }

  /**
   * The instance as the host access server opens it, by resource id (or uuid), or `undefined` when it is not here.
   *
   * @example
   * const t = driver.accessTarget('1i5');
   * t?.logFiles // ['/var/lib/drover-agent/instances/u-1/out.log.1', '.../out.log']
   * t?.address(8080) // { host: '127.0.0.1', port: 80 } for "8080:80"
   */
  accessTarget(resourceId: string): AccessTarget | undefined {
    const inst = this.find(resourceId);
    if (!inst) return undefined;
    const { spec } = inst.rec;
    return {
      resourceId: inst.rec.resourceId,
      externalId: inst.rec.externalId,
      // Read as it is asked (a follow of its logs ends when it stops), not as it was when the target was made.
      get running() {
        return inst.rec.state === 'running';
      },
      logFiles: inst.logs.files(),
      exec: {
        env: { ...spec.env },
        cwd: spec.cwd,
        // In its namespaces (joining a process that has none of its own joins the host's: the same), as its user.
        ...enterArgv(this.sandbox, inst.rec.state === 'running' ? inst.rec.pid : null, spec.user),
        shell: '/bin/sh',
      },
      address: (port: number) => {
        const p = spec.ports.find((x) => x.protocol === 'tcp' && (x.privatePort === port || x.publicPort === port));
        return p ? { host: '127.0.0.1', port: p.privatePort } : undefined;
      },
    };
  }

  /**
   * Rotates every instance's live log that has reached its cap (also done every `pollMs`); returns how many.
   *
   * @example
   * driver.rotateLogs() // 1
   */
  rotateLogs(): number {
    let n = 0;
    for (const inst of this.instances.values()) {
      try {
        if (inst.logs.rotateIfNeeded()) n++;
      } catch (e) {
        this.warn(`rotating the logs of ${inst.rec.key}: ${errorText(e)}`);
      }
    }
    return n;
  }

  /**
   * The record of an instance (by resource id or uuid), for inspection.
   *
   * @example
   * driver.record('1i5')?.pid
   */
  record(idOrUuid: string): ProcessRecord | undefined {
    const inst = this.find(idOrUuid);
    return inst ? structuredClone(inst.rec) : undefined;
  }

  /**
   * Stops the timer and the port forwarders; the instances' processes keep running and their records stay, for the
   * next driver on this `dataDir` to adopt.
   *
   * @example
   * await driver.close();
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.ready.catch(() => undefined);
    await Promise.all([...this.instances.values()].flatMap((i) => i.forwarders.splice(0).map((f) => f.close())));
  }

  // ---- internals ----

  private async stop(inst: Instance, timeoutSeconds: number, report: Report): Promise<DriverResult> {
    const { rec } = inst;
    if (rec.state !== 'running' || !rec.pid) {
      rec.exitPending = false; // an exit not yet reported is no news now that the instance is stopped
      if (rec.state === 'exited') rec.state = 'stopped';
      writeRecord(inst.dir, inst.rec);
      await this.closeForwarders(inst);
      await report('Instance is not running: already stopped', 100);
      return {};
    }
    const pid = rec.pid;
    inst.stopping = true;
    const t0 = this.now();
    await report(`Stopping pid ${pid}: SIGTERM, then SIGKILL after ${timeoutSeconds}s`, 20);
    killGroup(pid, 'SIGTERM');
    let stoppedBy: 'SIGTERM' | 'SIGKILL' = 'SIGTERM';
    if (!(await this.waitEnded(inst, pid, timeoutSeconds * 1000))) {
      stoppedBy = 'SIGKILL';
      await report(`Pid ${pid} still runs after ${timeoutSeconds}s: SIGKILL`, 60);
      killGroup(pid, 'SIGKILL');
      if (!(await this.waitEnded(inst, pid, 10_000))) throw new Error(`Pid ${pid} did not end after SIGKILL`);
    }
    this.ended(inst, pid, { exitCode: -1, message: `stopped by ${stoppedBy}` });
    const secs = ((this.now() - t0) / 1000).toFixed(1);
    await report(stoppedBy === 'SIGTERM' ? `Stopped: ended on SIGTERM in ${secs}s` : `Stopped: killed by SIGKILL after ${secs}s`, 100);
    return { stoppedBy };
  }

  /** Waits until the run's process has ended (or `ms` passed); true when it has. */
  private async waitEnded(inst: Instance, pid: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (inst.rec.pid !== pid || inst.rec.state !== 'running' || !isAlive(pid, inst.rec.startTime)) return true;
      if (Date.now() >= deadline) return false;
      await pause(20);
    }
  }

  /** Notes that a run's process ended: a stop's end is no exit to report, any other is (once). */
  private ended(inst: Instance, pid: number, how: { exitCode: number; message: string }): void {
    const { rec } = inst;
    if (rec.pid !== pid || rec.state !== 'running') return;
    // What the group left behind (the workload's children) ends with it, unless the pid now names another process
    // (then no group of ours is left: a pid in use cannot be a new process group's id).
    const st = procStat(pid);
    if (!st || st.startTime === rec.startTime) killGroup(pid, 'SIGKILL');
    rec.endedAt = this.now();
    if (inst.stopping) {
      rec.state = 'stopped';
      rec.exitPending = false;
    } else {
      rec.state = 'exited';
      rec.exitCode = how.exitCode;
      rec.exitMessage = how.message;
      rec.exitPending = true;
    }
    inst.stopping = false;
    inst.child = undefined;
    if (rec.cgroup) this.sandbox.cgroup?.remove(rec.key);
    writeRecord(inst.dir, inst.rec);
    void this.closeForwarders(inst);
  }

  private watch(inst: Instance, child: ChildProcess): void {
    const pid = child.pid!;
    child.once('exit', (code, signal) => {
      if (this.closed) return; // the next driver on this dataDir tells what became of it
      const exitCode = exitCodeOf(code, signal, -1);
      this.ended(inst, pid, { exitCode, message: signal ? `killed by ${signal} (exit code ${exitCode})` : `exited with code ${exitCode}` });
    });
    child.unref();
  }

  private async closeForwarders(inst: Instance): Promise<void> {
    await Promise.all(inst.forwarders.splice(0).map((f) => f.close().catch(() => undefined)));
  }

  private poll(): void {
    if (this.closed) return;
    this.pollAdopted();
    this.rotateLogs();
  }

  /** Adopted processes are not the agent's children: their end shows in `/proc` only, without an exit code. */
  private pollAdopted(): void {
    if (this.closed) return;
    for (const inst of this.instances.values()) {
      const { rec } = inst;
      if (rec.state !== 'running' || inst.child || !rec.pid || inst.stopping) continue;
      if (!isAlive(rec.pid, rec.startTime)) {
        this.ended(inst, rec.pid, { exitCode: -1, message: 'exited while the agent was not its parent (exit code unknown)' });
      }
    }
  }

  /** Takes over the instances the records describe (see `recoverRecords`). */
  private load(): void {
    for (const { key, dir, rec } of recoverRecords(this.dataDir, { now: this.now, warn: this.warn, cgroup: this.sandbox.cgroup })) {
      this.instances.set(key, { rec, dir, logs: new LogFiles(dir, this.logCaps), forwarders: [], stopping: false });
    }
  }

  private async reopenForwarders(): Promise<void> {
    for (const inst of this.instances.values()) {
      if (inst.rec.state !== 'running') continue;
      for (const p of inst.rec.spec.ports) {
        if (p.publicPort === p.privatePort) continue;
        try {
          inst.forwarders.push(await openForwarder(p));
        } catch (e) {
          this.warn(`instance ${inst.rec.resourceId}: ${errorText(e)}`);
        }
      }
    }
  }

  private specOf(cmd: AgentCommand, dir: string): ProcessSpec {
    const d = cmd.data ?? {};
    const cmdline = [...strings(d.entryPoint, 'entryPoint'), ...strings(d.command, 'command')];
    if (!cmdline.length) throw new Error('Cannot start the instance: it has no command (neither entryPoint nor command is set)');

    const sb = this.sandbox;
    const userSpec = str(d.user);
    let user: RunUser | undefined;
    if (userSpec) {
      user = resolveUser(userSpec);
      if (user.uid === 0 && !this.allowRoot) {
        throw new Error(`Cannot run as user "${userSpec}": this host runs no instance as root (its agent's --allow-root)`);
      }
      if (sb.uid !== 0 && (user.uid !== sb.uid || user.gid !== sb.gid)) {
        throw new Error(`Cannot run as user "${userSpec}": the agent runs as uid ${sb.uid}, not root`);
      }
    } else user = sb.defaultUser;
    if (user && user.uid === sb.uid && user.gid === sb.gid) user = undefined;

    const env: Record<string, string> = {};
    const given = d.environment && typeof d.environment === 'object' ? (d.environment as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(given)) if (v !== null && v !== undefined) env[k] = String(v);

    let cwd = str(d.workingDir);
    if (cwd) {
      if (!isAbsolute(cwd)) throw new Error(`Invalid workingDir "${cwd}": not an absolute path`);
      // Taken as it is on the host, never made: the agent is root, and a request must not create directories anywhere.
      if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) {
        throw new Error(`Cannot start the instance: workingDir "${cwd}" is not a directory on this host`);
      }
    } else {
      cwd = join(dir, 'root');
      mkdirSync(cwd, { recursive: true, mode: 0o755 });
      if (user) chownSync(cwd, user.uid, user.gid);
      else chmodSync(cwd, 0o755);
    }
    env.PATH ??= DEFAULT_PATH;
    env.HOME ??= user?.home && user.home !== '/nonexistent' && existsSync(user.home) ? user.home : cwd;

    const rawPorts = Array.isArray(d.ports) ? d.ports : [];
    const ports = rawPorts.filter((p): p is string => typeof p === 'string' && p !== '').map(parsePort);
    const hc = d.healthCheck;
    return {
      argv: [resolveExecutable(cmdline[0], env.PATH, cwd), ...cmdline.slice(1)],
      env,
      cwd,
      ...(user ? { user } : {}),
      ...(str(d.hostname) ? { hostname: str(d.hostname) } : {}),
      ...(num(d.memory) ? { memoryBytes: num(d.memory) } : num(d.memoryMb) ? { memoryBytes: num(d.memoryMb)! * MiB } : {}),
      ...(num(d.cpuShares) ? { cpuShares: num(d.cpuShares) } : {}),
      ports,
      healthCheck: hc && typeof hc === 'object' ? (hc as HealthCheckSpec) : null,
    };
  }

  private timeoutOf(cmd: AgentCommand): number {
    const t = cmd.processData?.timeout;
    return typeof t === 'number' && Number.isFinite(t) && t >= 0 ? t : this.stopTimeout;
  }

  private resultOf(inst: Instance): DriverResult {
    return {
      fields: {
        externalId: inst.rec.externalId,
        primaryIpAddress: this.address,
        // Rancher's publicEndpoints: where each published port is reached.
        publicEndpoints: inst.rec.spec.ports.map((p) => ({ ipAddress: p.bindAddress ?? this.address, port: p.publicPort, privatePort: p.privatePort, protocol: p.protocol })),
      },
    };
  }

  private find(idOrUuid: string): Instance | undefined {
    return this.instances.get(idOrUuid) ?? [...this.instances.values()].find((i) => i.rec.resourceId === idOrUuid);
  }

  /** Runs the instance's commands one after another. */
  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(key, next);
    void next.finally(() => {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }).catch(() => undefined);
    return next;
  }
}
