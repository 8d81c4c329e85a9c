/**
 * The store against the embedded DynamoDB (dynalite) through the real AWS SDK: conditional writes, expiry on
 * read, index scans, the consistent scan of resources, and id blocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteConflictError } from '../errors.js';
import type { Resource } from './item.js';
import type { Store } from './store.js';
import { draftResource, startTestStore, type TestStore } from '../../test/helpers/store.js';

let t: TestStore;
let store: Store;
let clock = 1_800_000_000_000;

beforeAll(async () => {
  t = await startTestStore({ now: () => clock, idBlock: 10 });
  store = t.store;
});
afterAll(() => t.close());

async function newResource(fields: Record<string, unknown> = {}, extra: Partial<Resource> = {}): Promise<Resource> {
  return draftResource(store, { type: 'container', baseType: 'instance', projectId: '1a7', state: 'stopped', fields, ...extra }, clock);
}

async function listed(partition: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of store.queryIndex({ index: 'byProject', partition })) ids.push(...page.map((r) => r.id));
  return ids;
}

describe('Store', () => {
  it('refuses a second create of the same id', async () => {
    const r = await store.create(await newResource());
    await expect(store.create(r)).rejects.toBeInstanceOf(WriteConflictError);
  });

  it('writes only at the expected version and, for transitions, only from the allowed states', async () => {
    const r = await store.create(await newResource());
    const v1 = await store.put({ ...r, fields: { name: 'a' } }, 0);
    expect(v1.version).toBe(1);
    await expect(store.put({ ...r, fields: { name: 'lost' } }, 0)).rejects.toBeInstanceOf(WriteConflictError);
    await expect(store.put({ ...v1, state: 'starting' }, 1, { field: 'state', in: ['running'] })).rejects.toBeInstanceOf(
      WriteConflictError,
    );
    const v2 = await store.put({ ...v1, state: 'starting' }, 1, { field: 'state', in: ['stopped', 'creating'] });
    expect([(await store.get(r.id))?.state, v2.version]).toEqual(['starting', 2]);
  });

  it('mutate re-applies a change that lost a race instead of dropping either', async () => {
    const r = await store.create(await newResource({ labels: {} }));
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.mutate(r.id, (cur) => ({ ...cur, fields: { ...cur.fields, labels: { ...(cur.fields.labels as object), [`k${i}`]: 'v' } } })),
      ),
    );
    const after = await store.get(r.id);
    expect(Object.keys(after!.fields.labels as object).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    expect(after!.version).toBe(8);
  });

  it('reads an item whose expiresAt has passed as absent, in gets and in index scans', async () => {
    const keep = await store.create(await newResource({}, { projectId: '1a9', expiresAt: Math.floor(clock / 1000) + 60 }));
    const gone = await store.create(await newResource({}, { projectId: '1a9', expiresAt: Math.floor(clock / 1000) - 1 }));
    expect(await store.get(keep.id)).toBeDefined();
    expect(await store.get(gone.id)).toBeUndefined();
    expect(await listed('P#1a9#instance')).toEqual([keep.id]);
    clock += 61_000;
    expect(await store.get(keep.id)).toBeUndefined();
    expect(await listed('P#1a9#instance')).toEqual([]);
  });

  it('hands out unique ids from blocks, across stores sharing the counter', async () => {
    const other = t.another({ idBlock: 10 });
    const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? store : other).nextId('host')));
    expect(new Set(ids).size).toBe(100);
  });

  it('updateFields writes only while expected fields hold the values read (null: absent)', async () => {
    const host = await store.create(await newResource({ allocatedVcpu: 9 }, { type: 'host', baseType: 'host', state: 'active' }));
    expect(await store.updateFields(host.id, { set: { allocatedVcpu: 4 }, add: { allocationVersion: 1 }, expect: { allocationVersion: 3 } })).toBeUndefined();
    const first = await store.updateFields(host.id, { set: { allocatedVcpu: 4 }, add: { allocationVersion: 1 }, expect: { allocationVersion: null } });
    expect([first!.fields.allocatedVcpu, first!.fields.allocationVersion, first!.version]).toEqual([4, 1, 1]);
    expect(await store.updateFields(host.id, { set: { allocatedVcpu: 5 }, expect: { allocationVersion: null } })).toBeUndefined();
    expect((await store.updateFields(host.id, { set: { allocatedVcpu: 5 }, expect: { allocationVersion: 1 } }))!.fields.allocatedVcpu).toBe(5);
  });

  it('scanResources reads every live resource with a consistent scan, and nothing else', async () => {
    const live = await store.create(await newResource());
    const gone = await store.create(await newResource({}, { expiresAt: Math.floor(clock / 1000) - 1 }));
    await store.putConfig('scan-test', 1);
    const ids: string[] = [];
    for await (const page of store.scanResources({ pageSize: 2 })) ids.push(...page.map((r) => r.id));
    expect(ids).toContain(live.id);
    expect(ids).not.toContain(gone.id);
    expect(ids.every((id) => /^1[a-z]+\d+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
