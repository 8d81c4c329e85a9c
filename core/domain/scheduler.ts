/**
 * @module
 * Host scheduling: picks an active, online host of the instance's project with room and charges its capacity atomically.
 */
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { capacityOf, freeOf, hypervisorOf, isOnline, requirementOf, runsHypervisorOf, type Capacity, type Requirement } from './hosts.js';

/*
 * How capacity is kept (spec §3.2 allocate/deallocate, §3.4 migrate):
 *
 *   allocate ─ scan the project's hosts (byProject index) ─ filter active + online + not excluded
 *            ─ order: most free memory, most free vcpu, lowest id (spreads load)
 *            ─ for each: UpdateItem ADD allocated += need IF allocated <= capacity - need
 *                        └ condition failed (someone took the room meanwhile) → next host
 *   release  ─ UpdateItem ADD allocated -= need (clamped so a counter never goes below zero)
 *   both bump the host's `allocationVersion`, so a recomputation (core/workflows/reconciler.ts) can write
 *   corrected counters only if no charge or release happened since it read them
 *
 * The conditional ADD is the only arbiter of room: the index snapshot only orders the candidates, so
 * concurrent allocations never over-commit a host and never lose each other's charge. Index reads are
 * eventually consistent on DynamoDB, so a host that looks full in the snapshot is still tried (after the
 * ones that look free) as long as its total capacity could fit the instance.
 *
 * Idempotency is the caller's job: `allocate` charges every time it is called and `release` frees every
 * time. The instance workflow records `hostId` and `allocationState` on the instance with a write fenced
 * by its action id, skips `allocate` when the instance already has an active allocation, releases only
 * when it moves `allocationState` from active to inactive, and releases the charge it just made if that
 * fenced write finds the action superseded. Migration allocates with `exclude: [oldHost]`, records the new
 * host, then releases the old one.
 */

/**
 * No host can take the instance; the message says why, in words an API user can act on.
 *
 * @example
 * throw new SchedulingError('Requested host 1h9 is offline');
 */
export class SchedulingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulingError';
  }
}

export interface SchedulerOptions {
  /** Clock for agent liveness, for tests. */
  now?: () => number;
}

export interface AllocateOptions {
  /** Hosts that must not be chosen (migration: the host the instance is leaving). */
  exclude?: string[];
  /** The only host that may be chosen, instead of the instance's `requestedHostId` (Wakame's move). */
  requestedHostId?: string;
}

const freeVcpu = (c: Capacity) => freeOf(c).vcpu;
const freeMemory = (c: Capacity) => freeOf(c).memoryMb;

/** Whether `need` fits the host's total capacity (ignoring what is charged). */
const couldFit = (c: Capacity, need: Requirement) => need.vcpu <= c.vcpu && need.memoryMb <= c.memoryMb;

/** Whether `need` fits what is free on the host right now (as far as this copy knows). */
const fitsNow = (c: Capacity, need: Requirement) => need.vcpu <= freeVcpu(c) && need.memoryMb <= freeMemory(c);

/** `2 vcpu, 1024 MB`; a container without reservations reads `512 MB` or `no reserved capacity`. */
function describeNeed(need: Requirement): string {
  if (need.vcpu === 0 && need.memoryMb === 0) return 'no reserved capacity';
  if (need.vcpu === 0) return `${need.memoryMb} MB`;
  return `${need.vcpu} vcpu, ${need.memoryMb} MB`;
}

const describeFree = (c: Capacity) => `${freeVcpu(c)} vcpu, ${freeMemory(c)} MB free of ${c.vcpu} vcpu, ${c.memoryMb} MB`;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Places instances on hosts and keeps the hosts' `allocatedVcpu`/`allocatedMemoryMb` counters. Stateless apart
 * from its store; share one per process.
 *
 * @example
 * const scheduler = new Scheduler(store);
 * const hostId = await scheduler.allocate(instance);            // '1h2', capacity charged
 * const next = await scheduler.allocate(instance, { exclude: [hostId] }); // migration target
 * await scheduler.release(hostId, instance);                     // old host freed
 */
export class Scheduler {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    opts: SchedulerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Chooses a host for `instance` and charges the instance's requirement to it; returns the host id.
   * Honours `instance.fields.requestedHostId` (only that host is eligible). Throws `SchedulingError` when no
   * host can take it. Not idempotent: each call charges once (see the module notes).
   *
   * @example
   * const hostId = await scheduler.allocate(vm); // charges vm's vcpu and memoryMb to the chosen host
   */
  async allocate(instance: Resource, opts: AllocateOptions = {}): Promise<string> {
    const need = this.requirement(instance);
    const exclude = new Set(opts.exclude ?? []);
    const requested = opts.requestedHostId ?? instance.fields.requestedHostId;
    if (typeof requested === 'string' && requested) return this.allocateRequested(instance, requested, need, exclude);

    const now = this.now();
    const hosts: Resource[] = [];
    for await (const page of this.store.queryIndex({ index: 'byProject', partition: partitions.byProject(instance.projectId, 'host') })) {
      hosts.push(...page);
    }
    let offline = 0;
    let inactive = 0;
    let excluded = 0;
    let otherHypervisor = 0;
    const candidates: { host: Resource; cap: Capacity }[] = [];
    for (const host of hosts) {
      if (host.state !== 'active') inactive++;
      else if (!isOnline(host, now)) offline++;
      else if (exclude.has(host.id)) excluded++;
      else if (!runsHypervisorOf(host, instance)) otherHypervisor++;
      else candidates.push({ host, cap: capacityOf(host) });
    }
    if (candidates.length === 0) {
      const why: string[] = [];
      if (offline) why.push(`${offline} offline`);
      if (inactive) why.push(`${inactive} not active`);
      if (excluded) why.push(`${excluded} excluded`);
      if (otherHypervisor) why.push(`${otherHypervisor} with another hypervisor than ${String(instance.fields.hypervisor)}`);
      const detail = hosts.length ? ` (${plural(hosts.length, 'host')}: ${why.join(', ')})` : '';
      throw new SchedulingError(`No active, online host in project ${instance.projectId}${detail}`);
    }

    // Spread load: most free memory, then most free vcpu, then lowest id. Hosts that look full in this
    // (possibly stale) snapshot go last; hosts too small to ever fit are not tried at all.
    const order = (a: { host: Resource; cap: Capacity }, b: { host: Resource; cap: Capacity }) =>
      freeMemory(b.cap) - freeMemory(a.cap) || freeVcpu(b.cap) - freeVcpu(a.cap) || a.host.num - b.host.num;
    const fitting = candidates.filter((c) => couldFit(c.cap, need));
    const tries = [
      ...fitting.filter((c) => fitsNow(c.cap, need)).sort(order),
      ...fitting.filter((c) => !fitsNow(c.cap, need)).sort(order),
    ];
    for (const { host, cap } of tries) {
      if (await this.charge(host.id, cap, need)) return host.id;
    }
    throw new SchedulingError(
      `No host can take ${instance.id} (needs ${describeNeed(need)}): ${plural(candidates.length, 'online host')} ` +
        `checked, none with enough ${fitting.length === 0 ? 'total' : 'free'} capacity`,
    );
  }

  /**
   * Frees `instance`'s requirement on `hostId`. Counters never go below zero; a host that is gone is left
   * alone. Not idempotent: call it once per allocation (see the module notes).
   *
   * @example
   * await scheduler.release(instance.fields.hostId as string, instance);
   */
  async release(hostId: string, instance: Resource): Promise<void> {
    const need = this.requirement(instance);
    if (need.vcpu === 0 && need.memoryMb === 0) return;
    // A consistent read clamps the decrement to what is charged, so a release that was not matched by an
    // allocation cannot push a counter negative (with correct callers the clamp never changes anything).
    const host = await this.store.get(hostId);
    if (!host || host.baseType !== 'host') return;
    const cap = capacityOf(host);
    const vcpu = Math.min(need.vcpu, Math.max(0, cap.allocatedVcpu));
    const memoryMb = Math.min(need.memoryMb, Math.max(0, cap.allocatedMemoryMb));
    if (vcpu === 0 && memoryMb === 0) return;
    // updateFields returns undefined if the host was deleted meanwhile: nothing left to free.
    await this.store.updateFields(hostId, { add: { allocatedVcpu: -vcpu, allocatedMemoryMb: -memoryMb, allocationVersion: 1 } });
  }

  /** The instance's requirement, refusing nonsense (negative or non-numeric sizes) with a clear message. */
  private requirement(instance: Resource): Requirement {
    const need = requirementOf(instance);
    for (const [k, v] of Object.entries(need)) {
      if (!Number.isFinite(v) || v < 0) {
        throw new SchedulingError(`Instance ${instance.id} has an invalid ${k === 'vcpu' ? 'vcpu' : 'memory'} size: ${v}`);
      }
    }
    return need;
  }

  private async allocateRequested(
    instance: Resource,
    hostId: string,
    need: Requirement,
    exclude: Set<string>,
  ): Promise<string> {
    const host = await this.store.get(hostId);
    if (!host || host.baseType !== 'host') throw new SchedulingError(`Requested host ${hostId} does not exist`);
    if (host.projectId !== instance.projectId) {
      throw new SchedulingError(`Requested host ${hostId} is not in project ${instance.projectId}`);
    }
    if (host.state !== 'active') throw new SchedulingError(`Requested host ${hostId} is not active (state ${host.state})`);
    if (!isOnline(host, this.now())) throw new SchedulingError(`Requested host ${hostId} is offline`);
    if (exclude.has(hostId)) {
      throw new SchedulingError(`Requested host ${hostId} is excluded (the instance is moving off it)`);
    }
    if (!runsHypervisorOf(host, instance)) {
      throw new SchedulingError(`Requested host ${hostId} runs ${hypervisorOf(host)}, not ${String(instance.fields.hypervisor)}`);
    }
    const cap = capacityOf(host);
    const full = (c: Capacity) =>
      new SchedulingError(
        `Requested host ${hostId} does not have enough free capacity for ${instance.id} ` +
          `(needs ${describeNeed(need)}; ${describeFree(c)})`,
      );
    if (!fitsNow(cap, need)) throw full(cap);
    if (!(await this.charge(hostId, cap, need))) {
      // Lost the room to a concurrent allocation (or the host vanished): report what is there now.
      const now = await this.store.get(hostId);
      if (!now) throw new SchedulingError(`Requested host ${hostId} does not exist`);
      throw full(capacityOf(now));
    }
    return hostId;
  }

  /**
   * One conditional ADD: charges `need` if every bounded counter stays within the host's capacity. Only
   * dimensions the instance actually needs are bounded, so a container without a vcpu reservation still fits
   * a host whose vcpu is over-committed (e.g. after its agent reported a smaller capacity).
   */
  private async charge(hostId: string, cap: Capacity, need: Requirement): Promise<boolean> {
    const max: Record<string, number> = {};
    if (need.vcpu > 0) max.allocatedVcpu = cap.vcpu;
    if (need.memoryMb > 0) max.allocatedMemoryMb = cap.memoryMb;
    const out = await this.store.updateFields(hostId, {
      add: { allocatedVcpu: need.vcpu, allocatedMemoryMb: need.memoryMb, allocationVersion: 1 },
      max,
    });
    return out !== undefined;
  }
}
