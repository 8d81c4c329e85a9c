/**
 * @module
 * The `sim` driver: instances that live in memory, as cattle's simulator agent kept them (spec §4.2). Activate
 * makes an instance running with a random 64-hex `externalId` and a `10.42.x.y` address, deactivate stops it,
 * remove forgets it. Labels inject faults: `sim.fail=<action>` fails the command with `Failing [<action>]`,
 * `sim.hang=<action>` abandons it after the ack; `<action>` is the process (`start`, `stop`, `restart`,
 * `migrate`, `purge`) or the command name (`compute.instance.activate`, ...), several separated by commas.
 */
import { randomBytes } from 'node:crypto';
import { AbandonCommandError, type AgentCommand, type CommandContext, type Driver, type DriverResult, type Report } from './driver.js';

export interface SimInstance {
  /** The instance's uuid (or, without one, its resource id). */
  key: string;
  resourceId: string;
  state: 'running' | 'stopped';
  externalId: string;
  primaryIpAddress: string;
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
    };
    inst.state = 'running';
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

function keyOf(cmd: AgentCommand): string {
  const uuid = cmd.data?.uuid;
  return typeof uuid === 'string' && uuid ? uuid : cmd.resourceId;
}
