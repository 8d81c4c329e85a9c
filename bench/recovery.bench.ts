/**
 * @module
 * Recovery of the embedded store after an unclean stop (`core/embedded/disk-store.ts`): the time to rebuild every
 * index entry of a table of 5,000 instance resources (consistent Scan, journal written and synced, fresh table,
 * items written back with BatchWriteItem), as a ratio to the floor of writing those same items one PutItem at a
 * time (16 in flight) in the same run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDiskStore } from '../core/embedded/disk-store.js';
import { formatId } from '../core/ids.js';
import { Store } from '../core/store/store.js';
import { fmt, measure } from './lib.js';

const ITEMS = 5000;

export async function recoveryBench(): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'drover-bench-recovery-'));
  const dir = join(root, 'dynamodb');
  try {
    const db = await openDiskStore({ dir, tableName: 'drover', region: 'us-east-1', log: () => undefined });
    const store = new Store({ client: db.client, tableName: 'drover' });
    const now = Date.now();
    // Instances as the API stores them (a running container with its usual fields), so items have a real size.
    const floor = await measure(ITEMS, 16, (i) =>
      store.create({
        id: formatId('instance', i + 1),
        num: i + 1,
        type: 'container',
        baseType: 'instance',
        projectId: '1a1',
        state: 'running',
        version: 3,
        created: now,
        updated: now,
        fields: {
          uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          name: `bench-${i}`,
          imageUuid: 'sim:bench',
          hostId: `1h${(i % 2) + 1}`,
          allocationState: 'active',
          memory: 67_108_864,
          labels: { tier: 'web', 'io.drover.bench': 'true' },
          environment: { A: 'b' },
          startCount: 1,
          firstRunning: now,
          externalId: 'f'.repeat(64),
          primaryIpAddress: '10.42.0.1',
        },
      }),
    );
    await db.close();
    writeFileSync(`${dir}.open`, ''); // as a kill leaves it
    const reopened = await openDiskStore({ dir, tableName: 'drover', region: 'us-east-1', log: () => undefined });
    const { items, ms } = reopened.recovered!;
    await reopened.close();
    const perSecond = items / (ms / 1000);
    return [
      `| store write floor (PutItem of ${fmt(ITEMS)} instances, 16 in flight) | ${fmt(floor.perSecond)} items/s | 1.00 | ${fmt(floor.seconds, 1)} s |`,
      `| index rebuild after an unclean stop (${fmt(items)} items) | ${fmt(perSecond)} items/s | ${(perSecond / floor.perSecond).toFixed(2)} | ${fmt(ms)} ms: scan, journal (fsync), fresh table, BatchWriteItem |`,
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
