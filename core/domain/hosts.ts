/**
 * @module
 * Facts about hosts shared by the agent channel and the scheduler: liveness from agent heartbeats, and the
 * capacity an instance needs.
 *
 * Host fields: `vcpu`, `memoryMb` (capacity, reported by the agent), `allocatedVcpu`, `allocatedMemoryMb`
 * (counters the scheduler moves atomically), `allocationVersion` (bumped by every charge and release; liveness
 * stamps leave it alone), `agentSeenAt` (epoch ms of the agent's last request), `agentConnectedUntil` (while the
 * agent holds its AWS doorbell open: the latest the connection can last; 0 once it closed).
 */
import type { Resource } from '../store/item.js';

/** A host whose agent has not been heard from for this long is offline (agents poll at least every 10 s). */
export const HOST_OFFLINE_AFTER_MS = 30_000;

/**
 * Whether the host's agent is online: it holds its doorbell open (AWS; API Gateway closes a connection whose agent
 * stopped its keepalives within 10 minutes, and its `$disconnect` ends this), or it was heard from within
 * `HOST_OFFLINE_AFTER_MS`.
 *
 * @example
 * isOnline(host, Date.now()) // true if its doorbell is open or the agent was heard from within 30 s
 */
export function isOnline(host: Resource, now: number): boolean {
  const until = host.fields.agentConnectedUntil;
  if (typeof until === 'number' && now < until) return true;
  const seen = host.fields.agentSeenAt;
  return typeof seen === 'number' && now - seen < HOST_OFFLINE_AFTER_MS;
}

/** What an instance takes from a host. */
export interface Requirement {
  vcpu: number;
  memoryMb: number;
}

/**
 * The capacity an instance needs: a VM its `vcpu` and `memoryMb`; a container its `memory` (bytes, rounded up
 * to MB) and no dedicated vcpu (`cpuShares` are relative weights, not reservations).
 *
 * @example
 * requirementOf(vm) // { vcpu: 2, memoryMb: 1024 }
 */
export function requirementOf(instance: Resource): Requirement {
  const f = instance.fields;
  if (instance.type === 'virtualMachine') {
    return { vcpu: Number(f.vcpu ?? 1), memoryMb: Number(f.memoryMb ?? 512) };
  }
  const memory = typeof f.memory === 'number' && f.memory > 0 ? Math.ceil(f.memory / 1048576) : 0;
  return { vcpu: 0, memoryMb: memory };
}

/**
 * Whether the instance's allocation on its `hostId` is charged: while active, and while `deactivating` (the
 * deallocate process on its way to giving it back).
 *
 * @example
 * if (hostId && holdsAllocation(instance)) await scheduler.release(hostId, instance);
 */
export function holdsAllocation(instance: Resource): boolean {
  const state = instance.fields.allocationState;
  return state === 'active' || state === 'deactivating';
}

/**
 * The host an instance is placed on, or `null`.
 *
 * @example
 * hostIdOf(runningContainer) // '1h2'
 */
export function hostIdOf(instance: Resource): string | null {
  const hostId = instance.fields.hostId;
  return typeof hostId === 'string' && hostId ? hostId : null;
}

/**
 * The hosts an instance holds a charge of `requirementOf(instance)` on, as the workflow tasks take and give back
 * charges: its host while it `holdsAllocation`, and the migration target a migrate has reserved.
 *
 * @example
 * chargedHostsOf(migratingVm) // ['1h1', '1h2']
 */
export function chargedHostsOf(instance: Resource): string[] {
  const out: string[] = [];
  const hostId = hostIdOf(instance);
  const { migrationTargetHostId } = instance.fields;
  if (hostId && holdsAllocation(instance)) out.push(hostId);
  if (typeof migrationTargetHostId === 'string' && migrationTargetHostId) out.push(migrationTargetHostId);
  return out;
}

/** A host's capacity and what is already charged against it, as numbers (missing or malformed = 0). */
export interface Capacity {
  vcpu: number;
  memoryMb: number;
  allocatedVcpu: number;
  allocatedMemoryMb: number;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A host's capacity and its allocated counters, read the same way by the scheduler and the reconciler.
 *
 * @example
 * capacityOf(host) // { vcpu: 8, memoryMb: 16384, allocatedVcpu: 2, allocatedMemoryMb: 1024 }
 */
export function capacityOf(host: Resource): Capacity {
  const f = host.fields;
  return {
    vcpu: num(f.vcpu),
    memoryMb: num(f.memoryMb),
    allocatedVcpu: num(f.allocatedVcpu),
    allocatedMemoryMb: num(f.allocatedMemoryMb),
  };
}

/** The host label naming its hypervisor for the Wakame API (`kvm`, `lxc`, ...). */
export const HYPERVISOR_LABEL = 'io.drover.hypervisor';

/**
 * The hypervisor a host offers: its `io.drover.hypervisor` label, else `dummy` (Wakame's name for a host that
 * only pretends, as sim hosts do).
 *
 * @example
 * hypervisorOf(simHost) // 'dummy'
 */
export function hypervisorOf(host: Resource): string {
  const labels = host.fields.labels as Record<string, unknown> | undefined;
  const v = labels?.[HYPERVISOR_LABEL];
  return typeof v === 'string' && v ? v : 'dummy';
}

/**
 * Whether a host can run an instance's hypervisor (an instance that names none runs anywhere).
 *
 * @example
 * runsHypervisorOf(kvmHost, wakameVm) // true when the VM asked for kvm
 */
export function runsHypervisorOf(host: Resource, instance: Resource): boolean {
  const wanted = instance.fields.hypervisor;
  return typeof wanted !== 'string' || !wanted || hypervisorOf(host) === wanted;
}

/**
 * What a host has free: its capacity less what is charged to it.
 *
 * @example
 * freeOf(capacityOf(host)) // { vcpu: 6, memoryMb: 15360 }
 */
export function freeOf(c: Capacity): Requirement {
  return { vcpu: c.vcpu - c.allocatedVcpu, memoryMb: c.memoryMb - c.allocatedMemoryMb };
}
