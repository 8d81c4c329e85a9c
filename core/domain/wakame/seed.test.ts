/**
 * Wakame seeding on a real store: what it creates, that running it again (or twice at once, as two starting
 * Lambdas do) creates nothing more, and that a seeded stage is not re-seeded after a user deleted a record.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestStore, type TestStore } from '../../../test/helpers/store.js';
import { WakameRecords } from './records.js';
import { SEED_RECORDS, seedWakame } from './seed.js';

const DEFAULT_PROJECT = '1a1';
let t: TestStore;
let records: WakameRecords;

beforeEach(async () => {
  t = await startTestStore();
  records = new WakameRecords(t.store, DEFAULT_PROJECT);
});
afterEach(() => t.close());

/** Every seeded kind's records, ids only, sorted. */
async function seededIds(): Promise<string[]> {
  const kinds = [...new Set(SEED_RECORDS.map((r) => r.kind))];
  const lists = await Promise.all(kinds.map((k) => records.list(k, null)));
  return lists.flat().map((r) => r.id).sort();
}

describe('seedWakame', () => {
  it('creates the demo image, network and specs in the default project', async () => {
    await seedWakame(t.store, DEFAULT_PROJECT);
    expect(await seededIds()).toEqual(['is-large', 'is-medium', 'is-small', 'nw-demo1', 'wmi-centos1d64']);
    const image = await records.get('image', 'wmi-centos1d64', '1a9');
    expect(image).toMatchObject({ projectId: DEFAULT_PROJECT, state: 'available', fields: { is_public: true, imageUuid: 'sim:centos1d64' } });
    const spec = await records.get('instanceSpec', 'is-medium', DEFAULT_PROJECT);
    expect(spec?.fields).toMatchObject({ cpu_cores: 2, memory_size: 1024, hypervisor: 'dummy', quota_weight: 1 });
  });

  it('is idempotent, run again or twice at once', async () => {
    await Promise.all([seedWakame(t.store, DEFAULT_PROJECT), seedWakame(t.another(), DEFAULT_PROJECT)]);
    await seedWakame(t.store, DEFAULT_PROJECT);
    expect(await seededIds()).toEqual(['is-large', 'is-medium', 'is-small', 'nw-demo1', 'wmi-centos1d64']);
  });

  it('leaves a seeded stage alone: a deleted demo network stays deleted', async () => {
    await seedWakame(t.store, DEFAULT_PROJECT);
    await records.remove((await records.get('network', 'nw-demo1', null))!);
    await seedWakame(t.store, DEFAULT_PROJECT);
    expect(await records.get('network', 'nw-demo1', null)).toBeUndefined();
  });
});
