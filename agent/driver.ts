/**
 * @module
 * What a host agent runs commands with: a `Driver` turns the three host commands (cattle's
 * `compute.instance.activate` / `deactivate` / `remove`) into work on the machine, and reports progress.
 */
import type { AccessKind, AgentCommand, ExitReport, HealthCheckSpec } from '../core/agent/protocol.js';

export type { AccessKind, AgentCommand, ExitReport, HealthCheckSpec };

/** Sends progress for the running command (also a heartbeat). `progress` is 0–100. */
export type Report = (message: string, progress?: number | null) => Promise<void>;

/** What a command produced: fields recorded on the instance (the server keeps `externalId`, `primaryIpAddress`). */
export interface DriverResult {
  fields?: { externalId?: string; primaryIpAddress?: string; [name: string]: unknown };
  [name: string]: unknown;
}

/** Extra context for a command: `signal` aborts when the server says the command is gone or the agent stops. */
export interface CommandContext {
  signal: AbortSignal;
}

/**
 * Runs host commands. A method throws to fail the command (its message becomes the instance's
 * transitioningMessage), or throws `AbandonCommandError` to walk away from it without a word.
 */
export interface Driver {
  activate(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult | void>;
  deactivate(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult | void>;
  remove(cmd: AgentCommand, report: Report, ctx?: CommandContext): Promise<DriverResult | void>;
  /** The instances running on the host now, for the agent's health loop (`agent/health.ts`); optional. */
  running?(): MonitoredInstance[];
  /** Runs one health check of a running instance (a TCP connect, or `requestLine` over HTTP); optional. */
  check?(inst: MonitoredInstance, signal: AbortSignal): Promise<HealthResult>;
  /** Instances that stopped on their own since the last call; optional. */
  exits?(): ExitReport[];
  /** What the driver tells the server about the host at registration (`HostFacts`); optional. */
  facts?(): DriverFacts;
  /** What the host access server opens for an instance on this host, or `undefined` for one it does not hold. */
  accessTarget?(resourceId: string): AccessTarget | undefined;
  /** Releases what the driver holds (timers, port forwarders); leaves the instances' processes running. */
  close?(): Promise<void>;
}

/** The driver's part of the host's facts. */
export interface DriverFacts {
  driver: string;
  /** Host-access kinds the driver's instances support (the access server serves them). */
  capabilities: AccessKind[];
  /** What the driver applies to each instance, and what it cannot apply on this host, in words. */
  sandbox: Record<string, string>;
}

/** An instance as the host access server reaches it (`agent/access/server.ts`). */
export interface AccessTarget {
  resourceId: string;
  /** What tokens name as `Container` (the instance's `externalId`). */
  externalId: string;
  /** Whether it runs now (read each time it is asked: a follow of its logs ends when it stops). */
  running: boolean;
  /** The instance's output files, oldest first: rotated ones, then the live one (which grows while it runs). */
  logFiles: string[];
  /** Where a command or shell runs: the instance's environment, working directory and user. */
  exec: {
    env: Record<string, string>;
    cwd: string;
    /** The user to run as, switched by the spawn (absent with `enter`, which switches it itself). */
    uid?: number;
    gid?: number;
    shell: string;
    /**
     * A command-line prefix, run as the agent's user, that enters the instance's namespaces and switches to its user
     * before it execs the command (`nsenter -t <pid> -u -i -- setpriv … --`); absent where the instance has none.
     */
    enter?: string[];
  };
  /** Where a connection to the instance's `port` goes on this host, or `undefined` when it publishes no such port. */
  address(port: number): { host: string; port: number } | undefined;
}

/** A running instance as the health loop sees it. */
export interface MonitoredInstance {
  resourceId: string;
  /** Counts the instance's starts on this host: a new run is checked afresh. */
  run: number;
  healthCheck: HealthCheckSpec | null;
}

/** One health check's outcome. */
export interface HealthResult {
  healthy: boolean;
  message?: string;
}

/**
 * Thrown by a driver that drops a command: the agent neither reports nor completes it, so the server's
 * heartbeat timeout decides (used by the simulator's `sim.hang`).
 *
 * @example
 * throw new AbandonCommandError('sim.hang=start');
 */
export class AbandonCommandError extends Error {
  constructor(message = 'command abandoned') {
    super(message);
    this.name = 'AbandonCommandError';
  }
}

/**
 * Runs a command with the driver method its name selects.
 *
 * @example
 * const result = await runWithDriver(driver, cmd, report, { signal });
 */
export async function runWithDriver(
  driver: Driver,
  cmd: AgentCommand,
  report: Report,
  ctx: CommandContext,
): Promise<DriverResult> {
  let out: DriverResult | void;
  switch (cmd.name) {
    case 'compute.instance.activate':
      out = await driver.activate(cmd, report, ctx);
      break;
    case 'compute.instance.deactivate':
      out = await driver.deactivate(cmd, report, ctx);
      break;
    case 'compute.instance.remove':
      out = await driver.remove(cmd, report, ctx);
      break;
    default:
      throw new Error(`Unknown command ${String((cmd as { name: unknown }).name)}`);
  }
  return out ?? {};
}
