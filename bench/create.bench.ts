/**
 * @module
 * Create throughput and the id scheme, each as a ratio to the store's write floor measured in the same run:
 * - floor: single-item PutItem through the AWS SDK to the embedded DynamoDB, at the same concurrency;
 * - ids: `Store.nextId` (block-reserved counter) vs a naive one-counter-write-per-id scheme;
 * - creates: `POST /v1/containers` over HTTP (create → creating → stopped: 3 writes, 2 reads each);
 * - the same with a fresh `Idempotency-Key` each (claim + complete: 2 more writes), then each again (replays).
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startTestStack } from '../test/helpers/stack.js';
import { Store } from '../core/store/store.js';
import { fmt, measure } from './lib.js';

export async function createBench(): Promise<string[]> {
  const t = await startTestStack();
  const { store } = t.stack;
  const C = 16;
  try {
    const floor = await measure(2000, C, (i) =>
      store.doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: `bench#${i}`, sk: 'R', v: i } })),
    );
    const blockIds = await measure(50_000, C, () => store.nextId('host'));
    const naive = new Store({ client: t.stack.client, tableName: store.tableName, idBlock: 1 });
    const naiveIds = await measure(2000, C, () => naive.nextId('instanceLink'));
    const create = (i: number, headers?: Record<string, string>) =>
      t.admin.post('/v1/containers', { imageUuid: 'sim:bench', name: `b${i}`, startOnCreate: false }, { headers }).then((r) => {
        if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(r.body)}`);
      });
    const creates = await measure(1000, C, (i) => create(i));
    const keyed = await measure(1000, C, (i) => create(i, { 'Idempotency-Key': `bench-${i}` }));
    // Each key once more: replays of the answers just kept.
    const replays = await measure(1000, C, (i) => create(i, { 'Idempotency-Key': `bench-${i}` }));
    const ratio = (m: { perSecond: number }) => (m.perSecond / floor.perSecond).toFixed(2);
    return [
      `| store write floor (PutItem, ${C} in flight) | ${fmt(floor.perSecond)} /s | 1.00 | p50 ${fmt(floor.p50, 1)} ms, p99 ${fmt(floor.p99, 1)} ms |`,
      `| ids, block-reserved counter (Store.nextId) | ${fmt(blockIds.perSecond)} /s | ${ratio(blockIds)} | one counter write per 50 ids |`,
      `| ids, one counter write per id (naive) | ${fmt(naiveIds.perSecond)} /s | ${ratio(naiveIds)} | what the block scheme avoids |`,
      `| POST /v1/containers over HTTP (${C} in flight) | ${fmt(creates.perSecond)} /s | ${ratio(creates)} | p50 ${fmt(creates.p50, 1)} ms, p99 ${fmt(creates.p99, 1)} ms; 3 writes + 1 read per create |`,
      `| the same with a fresh Idempotency-Key each | ${fmt(keyed.perSecond)} /s | ${ratio(keyed)} | p50 ${fmt(keyed.p50, 1)} ms, p99 ${fmt(keyed.p99, 1)} ms; + claim and complete (2 writes) |`,
      `| the same again (replays) | ${fmt(replays.perSecond)} /s | ${ratio(replays)} | p50 ${fmt(replays.p50, 1)} ms, p99 ${fmt(replays.p99, 1)} ms; 1 failed claim + 1 read |`,
    ];
  } finally {
    await t.close();
  }
}
