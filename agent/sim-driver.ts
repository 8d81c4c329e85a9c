/**
 * @module
 * The `sim` driver: instances that live in memory, as cattle's simulator agent kept them (spec §4.2). Activate
 * makes an instance running with a random 64-hex `externalId` and a `10.42.x.y` address, deactivate stops it,
 * remove forgets it. Labels inject faults: `sim.fail=<action>` fails the command with `Failing [<action>]`,
 * `sim.hang=<action>` abandons it after the ack; `<action>` is the process (`start`, `stop`, `restart`,
 * `migrate`, `purge`) or the command name (`compute.instance.activate`, ...), several separated by commas.
 * Health and exits too: `sim.health=unhealthy` fails every health check, `sim.health=unhealthy-after:<n>` passes
 * the first `n` checks of the first run and then fails them all (a restart cures it; with `:always` appended, every
 * run fails so); `sim.exit=<s>[:<code>]` makes
 * every run stop on its own `s` seconds after it starts (0: at once), with exit code `code` (default 1).
 */
import { randomBytes } from 'node:crypto';
import {
  AbandonCommandError,
  type AgentCommand,
  type CommandContext,
  type Driver,
  type DriverResult,
  type ExitReport,
  type HealthCheckSpec,
  type HealthResult,
  type MonitoredInstance,
  type Report,
} from './driver.js';

export interface SimInstance {
  /** The instance's uuid (or, without one, its resource id). */
  key: string;
  resourceId: string;
  state: 'running' | 'stopped';
  externalId: string;
  primaryIpAddress: string;
  /** Starts on this host (1 on the first). */
  run: number;
  startedAt: number;
  labels: Record<string, string>;
  healthCheck: HealthCheckSpec | null;
  /** Health checks run in this run. */
  checks: number;
}

export interface SimDriverOptions {
  /** Simulated work per command, in ms (default 20). */
  workMs?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The entry of a fault label's value that names this command (by process or command name), if any. */
function named(value: string | undefined, cmd: AgentCommand): string | undefined {
  if (!value) return undefined;
  return value
    .split(',')
    .map((v) => v.trim())
    .find((t) => t !== '' && (t === cmd.action || t === cmd.name));
}

/**
 * The simulator. One per agent; `instances` shows what "runs" on the simulated host.
 *
 * @example
 * const driver = new SimDriver({ workMs: 0 });
 * await startAgent({ url, token, driver });
 */
export class SimDriver implements Driver {
  readonly instances = new Map<string, SimInstance>();
  private readonly workMs: number;

  constructor(opts: SimDriverOptions = {}) {
    this.workMs = opts.workMs ?? 20;
  }

  async activate(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult> {
    this.inject(cmd);
    await report('Starting instance', 10);
    await sleep(this.workMs, ctx?.signal);
    const key = keyOf(cmd);
    const inst = this.instances.get(key) ?? {
      key,
      resourceId: cmd.resourceId,
      state: 'running' as const,
      externalId: randomBytes(32).toString('hex'),
      primaryIpAddress: `10.42.${randomBytes(1)[0]}.${1 + (randomBytes(1)[0] % 254)}`,
      run: 0,
      startedAt: 0,
      labels: {},
      healthCheck: null,
      checks: 0,
    };
    // Each start is a new run: checked afresh, with the labels and health check it was started with.
    inst.state = 'running';
    inst.run++;
    inst.startedAt = Date.now();
    inst.checks = 0;
    inst.labels = labelsOf(cmd);
    const hc = cmd.data?.healthCheck;
    inst.healthCheck = hc && typeof hc === 'object' ? (hc as HealthCheckSpec) : null;
    this.instances.set(key, inst);
    return { fields: { externalId: inst.externalId, primaryIpAddress: inst.primaryIpAddress } };
  }

  async deactivate(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult> {
    this.inject(cmd);
    await report('Stopping instance', 10);
    await sleep(this.workMs, ctx?.signal);
    const inst = this.instances.get(keyOf(cmd));
    // Stopping what is not running here is already done (cattle's simulator answers success too).
    if (inst) inst.state = 'stopped';
    return {};
  }

  async remove(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult> {
    this.inject(cmd);
    await report('Removing instance', 10);
    await sleep(this.workMs, ctx?.signal);
    this.instances.delete(keyOf(cmd));
    return {};
  }

  /**
   * The running instances, for the agent's health loop.
   *
   * @example
   * driver.running() // [{ resourceId: '1i5', run: 1, healthCheck: { port: 80 } }]
   */
  running(): MonitoredInstance[] {
    return [...this.instances.values()]
      .filter((i) => i.state === 'running')
      .map((i) => ({ resourceId: i.resourceId, run: i.run, healthCheck: i.healthCheck }));
  }

  /**
   * One health check, decided by the `sim.health` label.
   *
   * @example
   * await driver.check({ resourceId: '1i5', run: 1, healthCheck: { port: 80 } }, signal) // { healthy: true }
   */
  async check(m: MonitoredInstance): Promise<HealthResult> {
    const inst = this.instance(m.resourceId);
    if (!inst || inst.state !== 'running') return { healthy: false, message: 'not running' };
    inst.checks++;
    const label = inst.labels['sim.health'] ?? '';
    const port = m.healthCheck?.port ?? 0;
    if (label === 'unhealthy') return { healthy: false, message: `sim.health=unhealthy (port ${port})` };
    const after = /^unhealthy-after:(\d+)(:always)?$/.exec(label);
    if (after && (inst.run === 1 || after[2]) && inst.checks > Number(after[1])) return { healthy: false, message: `sim.health=${label} (port ${port})` };
    return { healthy: true };
  }

  /**
   * Running instances whose `sim.exit` time has come: they stop here and are reported once.
   *
   * @example
   * driver.exits() // [{ resourceId: '1i5', exitCode: 1, message: 'sim.exit=0' }]
   */
  exits(): ExitReport[] {
    const out: ExitReport[] = [];
    const now = Date.now();
    for (const inst of this.instances.values()) {
      const m = /^(\d+(?:\.\d+)?)(?::(-?\d+))?$/.exec(inst.labels['sim.exit'] ?? '');
      if (inst.state !== 'running' || !m || now < inst.startedAt + Number(m[1]) * 1000) continue;
      inst.state = 'stopped';
      out.push({ resourceId: inst.resourceId, exitCode: m[2] === undefined ? 1 : Number(m[2]), message: `sim.exit=${inst.labels['sim.exit']}` });
    }
    return out;
  }

  /** The simulated instance of a resource id or uuid. */
  instance(idOrUuid: string): SimInstance | undefined {
    return this.instances.get(idOrUuid) ?? [...this.instances.values()].find((i) => i.resourceId === idOrUuid);
  }

  private inject(cmd: AgentCommand): void {
    const labels = (cmd.data?.labels ?? {}) as Record<string, unknown>;
    // The message names the action that failed (`Failing [stop]`), not the whole label value.
    const fail = named(typeof labels['sim.fail'] === 'string' ? labels['sim.fail'] : undefined, cmd);
    if (fail) throw new Error(`Failing [${fail}]`);
    const hang = named(typeof labels['sim.hang'] === 'string' ? labels['sim.hang'] : undefined, cmd);
    if (hang) throw new AbandonCommandError(`sim.hang=${hang}`);
  }
}

function labelsOf(cmd: AgentCommand): Record<string, string> {
  const labels = (cmd.data?.labels ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function keyOf(cmd: AgentCommand): string {
  const uuid = cmd.data?.uuid;
  return typeof uuid === 'string' && uuid ? uuid : cmd.resourceId;
}
