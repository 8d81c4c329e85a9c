/**
 * @module
 * An instance as Wakame-VDC sees it: its `state` and `status`, derived from the Rancher state, the action under
 * way, its allocation and its host's liveness (spec W§5.1), never stored twice; and which Wakame operation each
 * Wakame state allows (W§3.3), each one a process of the same process table that drives `/v1`.
 */
import { processOf, PROCESSES, statesOf } from '../../process/lifecycle.js';
import type { Resource } from '../../store/item.js';
import { holdsAllocation, hostIdOf, isOnline } from '../hosts.js';

/** Every instance state Wakame clients see (W§3.1). */
export const WAKAME_STATES = [
  'scheduling',
  'pending',
  'initializing',
  'starting',
  'running',
  'halting',
  'halted',
  'stopping',
  'stopped',
  'shuttingdown',
  'terminated',
  'migrating',
] as const;

export type WakameState = (typeof WAKAME_STATES)[number];

/** Rancher states that read as one Wakame state whatever else holds (the rest depend on the action or the host). */
const PLAIN: Readonly<Record<string, WakameState>> = {
  requested: 'scheduling',
  creating: 'scheduling',
  running: 'running',
  // Wakame has no state for a reboot or an update under way: the instance stays running (W§5.1).
  restarting: 'running',
  'updating-running': 'running',
  migrating: 'migrating',
  removing: 'shuttingdown',
  erroring: 'shuttingdown',
  removed: 'terminated',
  purging: 'terminated',
  purged: 'terminated',
  restoring: 'terminated',
  // A failed boot: dcmgr rolls it back to terminated (W§3.2); /v1 shows the error and its message.
  error: 'terminated',
};

/** Rancher states whose Wakame state depends on the action under way or on the allocation. */
const DERIVED = ['starting', 'stopping', 'stopped', 'updating-stopped'] as const;

/**
 * The Wakame state of an instance.
 *
 * - `starting`: `scheduling` until it has a host, then `initializing` on its first boot, else `starting` (poweron);
 * - `stopping`: `shuttingdown` when a DELETE asked for removal, else what the process under way shows as
 *   (`wakameTransitioning`: `stopping` under Wakame's stop, `release`), else `halting` (poweroff, a Rancher stop);
 * - `stopped`: `halted` while it keeps its host (poweroff), `stopped` once the host is given back.
 *
 * @example
 * wakameStateOf({ ...vm, state: 'stopped', fields: { hostId: '1h1', allocationState: 'active' } }) // 'halted'
 */
export function wakameStateOf(res: Resource): WakameState {
  const plain = PLAIN[res.state];
  if (plain) return plain;
  const placed = hostIdOf(res) !== null && holdsAllocation(res);
  switch (res.state as (typeof DERIVED)[number]) {
    case 'starting':
      if (!placed) return 'scheduling';
      return res.fields.firstRunning == null ? 'initializing' : 'starting';
    case 'stopping': {
      if (res.action?.input.remove === true) return 'shuttingdown';
      const shown = res.action ? processOf('instance', res.action.name)?.wakameTransitioning : undefined;
      return (shown as WakameState | undefined) ?? 'halting';
    }
    case 'stopped':
    case 'updating-stopped':
      return placed ? 'halted' : 'stopped';
  }
  throw new Error(`instance ${res.id} is in state ${res.state}, which has no Wakame state`);
}

/** Liveness as dcmgr reports it: `init` until first running, then `online` while it runs on a live host. */
export type WakameStatus = 'init' | 'online' | 'offline';

/** Wakame states in which the VM is up on its host (the InstanceMonitor's watch list). */
const UP: ReadonlySet<WakameState> = new Set(['running', 'halting', 'migrating', 'stopping', 'shuttingdown']);

/**
 * The instance's `status`: `init` before it first ran, `online` while it is up on a host whose agent is online
 * and it is not unhealthy, else `offline`.
 *
 * @example
 * wakameStatusOf(runningVm, host, Date.now()) // 'online'
 */
export function wakameStatusOf(res: Resource, host: Resource | undefined, now: number): WakameStatus {
  const state = wakameStateOf(res);
  if (res.fields.firstRunning == null && state !== 'terminated') return 'init';
  if (!UP.has(state) || !host || !isOnline(host, now)) return 'offline';
  return res.fields.healthState === 'unhealthy' ? 'offline' : 'online';
}

/** A Wakame instance operation (W§1.1) and the Wakame states it is allowed from (W§3.3). */
export interface WakameOperation {
  from: readonly WakameState[];
  /** The process it begins; `delete` takes Rancher's DELETE path (remove, or stop with removal). */
  process?: string;
  delete?: true;
  /** Asked again while this state shows it under way: answered without beginning anything (poweroff re-issue). */
  underWay?: WakameState;
  /** Not offered by Drover: answered with a clear `NotSupported`. */
  unsupported?: string;
}

const ALL_BUT = (...no: WakameState[]) => WAKAME_STATES.filter((s) => !no.includes(s));

/**
 * Which operations each state allows, as dcmgr's API gate (W§3.3), with the cases dcmgr accepted and then dropped
 * (✓*) done properly: a destroy while booting stops the boot and terminates the instance.
 */
export const WAKAME_OPERATIONS = {
  destroy: { from: ALL_BUT('scheduling', 'terminated'), delete: true },
  reboot: { from: ['running'], process: 'restart' },
  stop: { from: ['running'], process: 'release' },
  start: { from: ['stopped'], process: 'start' },
  poweroff: { from: ['running', 'halting'], process: 'stop', underWay: 'halting' },
  poweron: { from: ['halted'], process: 'start' },
  backup: { from: ['halted'], unsupported: 'Instance backup is not supported by Drover: volumes are the boot volume only' },
  move: { from: ['running'], process: 'move' },
  update: { from: WAKAME_STATES },
} as const satisfies Record<string, WakameOperation>;

export type WakameOperationName = keyof typeof WAKAME_OPERATIONS;

/** The Rancher state behind each Wakame state that is a resting state: what a process must start from. */
const AT_REST: Partial<Record<WakameState, string>> = { running: 'running', halted: 'stopped', stopped: 'stopped' };

/**
 * Checks, when this module loads, that the Wakame view fits the process table: every Rancher instance state has a
 * Wakame state, and every operation's process exists and starts from the resting Rancher state of each Wakame
 * state the operation allows. Exported for the test that feeds it a broken table.
 *
 * @example
 * checkWakameOperations(WAKAME_OPERATIONS) // throws if poweron named a process that cannot start from stopped
 */
export function checkWakameOperations(ops: Readonly<Record<string, WakameOperation>>): void {
  for (const state of statesOf('instance')) {
    if (!(state in PLAIN) && !(DERIVED as readonly string[]).includes(state)) {
      throw new Error(`instance state ${state} has no Wakame state`);
    }
  }
  for (const [name, p] of Object.entries(PROCESSES.instance) as [string, { wakameTransitioning?: string }][]) {
    if (p.wakameTransitioning !== undefined && !(WAKAME_STATES as readonly string[]).includes(p.wakameTransitioning)) {
      throw new Error(`process instance.${name} shows as ${p.wakameTransitioning}, which is no Wakame state`);
    }
  }
  for (const [name, op] of Object.entries(ops)) {
    if (!op.process) continue;
    const p = processOf('instance', op.process);
    if (!p) throw new Error(`Wakame operation ${name} names unknown process ${op.process}`);
    for (const state of op.from) {
      const rest = AT_REST[state];
      if (state !== op.underWay && rest && !p.from.includes(rest)) {
        throw new Error(`Wakame operation ${name} is allowed from ${state}, but process ${op.process} cannot start from ${rest}`);
      }
    }
  }
}

checkWakameOperations(WAKAME_OPERATIONS);
