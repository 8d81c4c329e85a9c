/**
 * The scheduler against the embedded DynamoDB (dynalite): host choice, requested hosts, liveness, release, and
 * the atomic capacity counters under 200 concurrent allocations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatId } from '../ids.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { HOST_OFFLINE_AFTER_MS } from './hosts.js';
import { Scheduler, SchedulingError } from './scheduler.js';

let t: TestStore;
let store: Store;
let scheduler: Scheduler;
const clock = 1_800_000_000_000;
let projects = 0;
let instances = 0;

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
  store = t.store;
  scheduler = new Scheduler(store, { now: () => clock });
});
afterAll(() => t.close());

/** A fresh project id, so every test sees only its own hosts. */
const project = () => formatId('account', 100 + ++projects);

async function addHost(
  projectId: string,
  fields: Record<string, unknown> = {},
  extra: Partial<Resource> = {},
): Promise<Resource> {
  return putResource(
    store,
    {
      type: 'host',
      baseType: 'host',
      projectId,
      state: 'active',
      fields: { vcpu: 8, memoryMb: 16384, allocatedVcpu: 0, allocatedMemoryMb: 0, agentSeenAt: clock - 1000, ...fields },
      ...extra,
    },
    clock,
  );
}

function vm(projectId: string, fields: Record<string, unknown> = {}): Resource {
  const num = 1000 + ++instances;
  return {
    id: formatId('instance', num),
    num,
    type: 'virtualMachine',
    baseType: 'instance',
    projectId,
    state: 'starting',
    version: 1,
    created: clock,
    updated: clock,
    fields: { vcpu: 2, memoryMb: 1024, ...fields },
  };
}

const container = (projectId: string, fields: Record<string, unknown> = {}): Resource => ({
  ...vm(projectId),
  type: 'container',
  fields,
});

async function allocated(hostId: string): Promise<[number, number]> {
  const h = await store.get(hostId);
  return [h!.fields.allocatedVcpu as number, h!.fields.allocatedMemoryMb as number];
}

async function schedulingError(p: Promise<unknown>): Promise<SchedulingError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SchedulingError);
  expect((e as Error).name).toBe('SchedulingError');
  return e as SchedulingError;
}

describe('Scheduler.allocate', () => {
  it('picks a host with room and charges it', async () => {
    const p = project();
    const full = await addHost(p, { vcpu: 4, allocatedVcpu: 3 });
    const roomy = await addHost(p, { vcpu: 4, memoryMb: 4096 });
    const i = vm(p);
    expect(await scheduler.allocate(i)).toBe(roomy.id);
    expect(await allocated(roomy.id)).toEqual([2, 1024]);
    expect(await allocated(full.id)).toEqual([3, 0]);
  });

  it('bumps the host\'s allocationVersion with every charge and release (what a recomputation checks)', async () => {
    const p = project();
    const h = await addHost(p);
    const i = vm(p);
    await scheduler.allocate(i);
    expect((await store.get(h.id))!.fields.allocationVersion).toBe(1);
    await scheduler.release(h.id, i);
    expect((await store.get(h.id))!.fields.allocationVersion).toBe(2);
  });

  it('charges a VM its vcpu and memoryMb (defaults 1 vcpu, 512 MB)', async () => {
    const p = project();
    const h = await addHost(p);
    await scheduler.allocate(vm(p, { vcpu: 3, memoryMb: 3000 }));
    expect(await allocated(h.id)).toEqual([3, 3000]);
    await scheduler.allocate(vm(p, { vcpu: undefined, memoryMb: undefined }));
    expect(await allocated(h.id)).toEqual([4, 3512]);
  });

  it('charges a container its memory in MB (rounded up) and no vcpu', async () => {
    const p = project();
    const h = await addHost(p, { vcpu: 1, allocatedVcpu: 1 });
    await scheduler.allocate(container(p, { memory: 256 * 1048576 + 1 }));
    expect(await allocated(h.id)).toEqual([1, 257]);
  });

  it('places a container without memory on a full host, but still needs an active, online one', async () => {
    const p = project();
    const h = await addHost(p, { vcpu: 2, memoryMb: 1024, allocatedVcpu: 2, allocatedMemoryMb: 1024 });
    expect(await scheduler.allocate(container(p))).toBe(h.id);
    expect(await allocated(h.id)).toEqual([2, 1024]);

    const q = project();
    await addHost(q, { agentSeenAt: clock - HOST_OFFLINE_AFTER_MS });
    await addHost(q, {}, { state: 'inactive' });
    const e = await schedulingError(scheduler.allocate(container(q)));
    expect(e.message).toBe(`No active, online host in project ${q} (2 hosts: 1 offline, 1 not active)`);
    const empty = project();
    expect((await schedulingError(scheduler.allocate(container(empty)))).message).toBe(
      `No active, online host in project ${empty}`,
    );
  });

  it('skips offline, inactive, excluded and other projects\' hosts', async () => {
    const p = project();
    const offline = await addHost(p, { memoryMb: 65536, agentSeenAt: clock - HOST_OFFLINE_AFTER_MS - 1 });
    const never = await addHost(p, { memoryMb: 65536, agentSeenAt: undefined });
    const inactive = await addHost(p, { memoryMb: 65536 }, { state: 'inactive' });
    await addHost(project(), { memoryMb: 65536 });
    const old = await addHost(p, { memoryMb: 32768 });
    const target = await addHost(p, { memoryMb: 4096 });

    expect(await scheduler.allocate(vm(p))).toBe(old.id);
    // Migration: the same instance must land somewhere other than where it is.
    expect(await scheduler.allocate(vm(p), { exclude: [old.id] })).toBe(target.id);
    const e = await schedulingError(scheduler.allocate(vm(p), { exclude: [old.id, target.id] }));
    expect(e.message).toBe(`No active, online host in project ${p} (5 hosts: 2 offline, 1 not active, 2 excluded)`);
    for (const h of [offline, never, inactive]) expect(await allocated(h.id)).toEqual([0, 0]);
  });

  it('spreads instances across hosts: most free memory, then most free vcpu, then lowest id', async () => {
    const p = project();
    const hosts = [await addHost(p), await addHost(p), await addHost(p)];
    const chosen: string[] = [];
    for (let k = 0; k < 6; k++) chosen.push(await scheduler.allocate(vm(p)));
    const ids = hosts.map((h) => h.id);
    expect(chosen).toEqual([...ids, ...ids]);
    for (const h of hosts) expect(await allocated(h.id)).toEqual([4, 2048]);

    // Equal free memory: the host with more free vcpu wins.
    const q = project();
    await addHost(q, { vcpu: 4 });
    const moreCpu = await addHost(q, { vcpu: 16 });
    expect(await scheduler.allocate(vm(q))).toBe(moreCpu.id);
  });

  it('says when no host has room, and when the instance is bigger than any host', async () => {
    const p = project();
    await addHost(p, { vcpu: 4, allocatedVcpu: 3 });
    await addHost(p, { memoryMb: 2048, allocatedMemoryMb: 1536 });
    const i = vm(p);
    expect((await schedulingError(scheduler.allocate(i))).message).toBe(
      `No host can take ${i.id} (needs 2 vcpu, 1024 MB): 2 online hosts checked, none with enough free capacity`,
    );
    const big = vm(p, { vcpu: 64 });
    expect((await schedulingError(scheduler.allocate(big))).message).toBe(
      `No host can take ${big.id} (needs 64 vcpu, 1024 MB): 2 online hosts checked, none with enough total capacity`,
    );
    const bad = vm(p, { vcpu: 'lots' });
    expect((await schedulingError(scheduler.allocate(bad))).message).toBe(`Instance ${bad.id} has an invalid vcpu size: NaN`);
  });

  it('still tries a host that only looks full in its (stale) copy', async () => {
    const p = project();
    const h = await addHost(p, { vcpu: 4, allocatedVcpu: 4 });
    // Someone else released capacity after our index read: the conditional write, not the copy, decides.
    const stale = new Scheduler(
      Object.assign(Object.create(store) as Store, {
        queryIndex: async function* () {
          yield [h];
        },
      }),
      { now: () => clock },
    );
    await store.updateFields(h.id, { add: { allocatedVcpu: -4 } });
    expect(await stale.allocate(vm(p))).toBe(h.id);
    expect(await allocated(h.id)).toEqual([2, 1024]);
  });
});

describe('Scheduler.allocate with requestedHostId', () => {
  it('uses only the requested host, even when others have more room', async () => {
    const p = project();
    await addHost(p, { memoryMb: 65536 });
    const small = await addHost(p, { memoryMb: 2048 });
    expect(await scheduler.allocate(vm(p, { requestedHostId: small.id }))).toBe(small.id);
    expect(await allocated(small.id)).toEqual([2, 1024]);
  });

  it('says which condition the requested host fails', async () => {
    const p = project();
    const offline = await addHost(p, { agentSeenAt: clock - HOST_OFFLINE_AFTER_MS });
    const inactive = await addHost(p, {}, { state: 'inactive' });
    const full = await addHost(p, { vcpu: 4, allocatedVcpu: 3, memoryMb: 4096, allocatedMemoryMb: 1024 });
    const elsewhere = await addHost(project());
    const fine = await addHost(p);
    const cases: [string, string][] = [
      [offline.id, `Requested host ${offline.id} is offline`],
      [inactive.id, `Requested host ${inactive.id} is not active (state inactive)`],
      [elsewhere.id, `Requested host ${elsewhere.id} is not in project ${p}`],
      ['1h999999', 'Requested host 1h999999 does not exist'],
      ['1i1', 'Requested host 1i1 does not exist'],
    ];
    for (const [hostId, message] of cases) {
      expect((await schedulingError(scheduler.allocate(vm(p, { requestedHostId: hostId })))).message).toBe(message);
    }
    const i = vm(p, { requestedHostId: full.id });
    expect((await schedulingError(scheduler.allocate(i))).message).toBe(
      `Requested host ${full.id} does not have enough free capacity for ${i.id} ` +
        '(needs 2 vcpu, 1024 MB; 1 vcpu, 3072 MB free of 4 vcpu, 4096 MB)',
    );
    expect((await schedulingError(scheduler.allocate(vm(p, { requestedHostId: fine.id }), { exclude: [fine.id] }))).message).toBe(
      `Requested host ${fine.id} is excluded (the instance is moving off it)`,
    );
    for (const h of [offline, inactive, full, elsewhere, fine]) {
      expect(await allocated(h.id)).toEqual([h.fields.allocatedVcpu, h.fields.allocatedMemoryMb]);
    }
  });
});

describe('Scheduler.release', () => {
  it('frees what the instance took, never below zero, and ignores a host that is gone', async () => {
    const p = project();
    const h = await addHost(p, { vcpu: 4, memoryMb: 4096 });
    const a = vm(p, { vcpu: 3, memoryMb: 3000 });
    const b = vm(p);
    expect(await scheduler.allocate(a)).toBe(h.id);
    await schedulingError(scheduler.allocate(b));
    await scheduler.release(h.id, a);
    expect(await allocated(h.id)).toEqual([0, 0]);
    expect(await scheduler.allocate(b)).toBe(h.id);
    // A release nobody allocated (a caller bug) clamps at zero instead of inventing capacity.
    await scheduler.release(h.id, a);
    expect(await allocated(h.id)).toEqual([0, 0]);
    await scheduler.release(h.id, container(p));
    await expect(scheduler.release('1h999999', a)).resolves.toBeUndefined();
    expect(await store.get('1h999999')).toBeUndefined();
  });
});

describe('Scheduler under concurrency', () => {
  it('200 concurrent 1-vcpu VMs onto 2 × 64 vcpu: exactly 128 placed, no over-commit, no lost update', async () => {
    const p = project();
    const hosts = [
      await addHost(p, { vcpu: 64, memoryMb: 1 << 20 }),
      await addHost(p, { vcpu: 64, memoryMb: 1 << 20 }),
    ];
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => scheduler.allocate(vm(p, { vcpu: 1, memoryMb: 256 }))),
    );
    const placed = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string>[];
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(placed).toHaveLength(128);
    expect(refused).toHaveLength(72);
    for (const r of refused) expect(r.reason).toBeInstanceOf(SchedulingError);
    for (const h of hosts) {
      expect(placed.filter((r) => r.value === h.id)).toHaveLength(64);
      expect(await allocated(h.id)).toEqual([64, 64 * 256]);
    }
  });
});
