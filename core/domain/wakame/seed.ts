/**
 * @module
 * The Wakame records every stage starts with, in the shared pool (`a-shpoolxx`): the demo image and network
 * mussel's scripts and acceptance tests name (`wmi-centos1d64`, `nw-demo1`), and the 11.12 instance specs.
 */
import { WriteConflictError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { WakameRecords, type NewRecord, type RecordKind } from './records.js';

/** The config item whose presence says the stage is seeded: a start reads only it once seeding is done. */
const SEEDED_MARKER = 'wakameSeeded';

/** An instance spec preset (11.12): the cores and memory an instance made from it gets. */
function instanceSpec(name: string, cpuCores: number, memorySizeMb: number): SeedRecord {
  return {
    kind: 'instanceSpec',
    id: `is-${name}`,
    fields: {
      hypervisor: 'dummy',
      arch: 'x86_64',
      cpu_cores: cpuCores,
      memory_size: memorySizeMb,
      quota_weight: 1.0,
      vifs: { eth0: { index: 0, bandwidth: 100000 } },
      drives: {},
    },
  };
}

type SeedRecord = Omit<NewRecord, 'projectId'> & { kind: RecordKind; id: string };

/** What `seedWakame` creates, with dcmgr's columns (and Drover's own `imageUuid`: what an instance of it runs). */
export const SEED_RECORDS: readonly SeedRecord[] = [
  {
    kind: 'image',
    id: 'wmi-centos1d64',
    state: 'available',
    fields: {
      imageUuid: 'sim:centos1d64',
      boot_dev_type: 2,
      arch: 'x86_64',
      description: '',
      is_public: true,
      features: {},
      file_format: 'raw',
      root_device: 'label:root',
      is_cacheable: false,
      instance_model_name: '',
      parent_image_id: null,
      service_type: 'std',
      display_name: 'centos1d64',
      backup_object_id: 'bo-centos1d64',
      os_type: 'linux',
    },
  },
  {
    kind: 'network',
    id: 'nw-demo1',
    fields: {
      ipv4_network: '10.0.2.0',
      prefix: 24,
      ipv4_gw: '10.0.2.2',
      domain_name: 'vdc.local',
      network_mode: 'securitygroup',
      dc_network: 'dcn-public',
      display_name: 'demo1',
    },
  },
  instanceSpec('small', 1, 256),
  instanceSpec('medium', 2, 1024),
  instanceSpec('large', 4, 4096),
];

/**
 * Creates the seed records in the default project unless the stage is already seeded. Safe to run on every start
 * and from concurrent starts: each create is conditional, and one that finds its record there leaves it alone
 * (also one a user has since changed or deleted).
 *
 * @example
 * await seedWakame(store, defaultProjectId); // one config read once seeded
 */
export async function seedWakame(store: Store, defaultProjectId: string): Promise<void> {
  if (await store.getConfig<number>(SEEDED_MARKER)) return;
  const records = new WakameRecords(store, defaultProjectId);
  await Promise.all(
    SEED_RECORDS.map(async ({ kind, ...rec }) => {
      try {
        await records.create(kind, { ...rec, projectId: defaultProjectId });
      } catch (e) {
        if (!(e instanceof WriteConflictError)) throw e;
      }
    }),
  );
  await store.putConfig(SEEDED_MARKER, 1);
}
