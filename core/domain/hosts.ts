/**
 * @module
 * Facts about hosts shared by the agent channel and the scheduler: liveness from agent heartbeats, and the
 * capacity an instance needs.
 *
 * Host fields: `vcpu`, `memoryMb` (capacity, reported by the agent), `allocatedVcpu`, `allocatedMemoryMb`
 * (counters the scheduler moves atomically), `agentSeenAt` (epoch ms of the agent's last request).
 */
import type { Resource } from '../store/resource.js';

/** A host whose agent has not been heard from for this long is offline (agents poll at least every 10 s). */
export const HOST_OFFLINE_AFTER_MS = 30_000;

/**
 * Whether the host's agent is online.
 *
 * @example
 * isOnline(host, Date.now()) // true if the agent polled in the last 30 s
 */
export function isOnline(host: Resource, now: number): boolean {
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
