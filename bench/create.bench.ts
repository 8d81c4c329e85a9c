/**
 * @module
 * Create throughput and the id scheme, each as a ratio to the store's write floor measured in the same run:
 * - floor: single-item PutItem through the AWS SDK to the embedded DynamoDB, at the same concurrency;
 * - ids: `Store.nextId` (block-reserved counter) vs a naive one-counter-write-per-id scheme;
 * - creates: `POST /v1/containers` over HTTP (stored under its create action, then finished: the store requests are counted);
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
    // Store requests per create, counted on the client (the floor's and the ids' requests are over by now).
    const counted = { reads: 0, writes: 0 };
    t.stack.client.middlewareStack.add(
      (next, ctx) => async (args) => {
        if (/Put|Update|Delete|Batch/.test(String(ctx.commandName))) counted.writes++;
        else counted.reads++;
        return next(args);
      },
      { step: 'initialize', name: 'createBenchCounter' },
    );
    const per = (n: number) => {
      const out = `${(counted.writes / n).toFixed(2)} writes + ${(counted.reads / n).toFixed(2)} reads per create`;
      counted.reads = counted.writes = 0;
      return out;
    };
    const creates = await measure(1000, C, (i) => create(i));
    const createCost = per(1000);
    const keyed = await measure(1000, C, (i) => create(i, { 'Idempotency-Key': `bench-${i}` }));
    const keyedCost = per(1000);
    // Each key once more: replays of the answers just kept.
    const replays = await measure(1000, C, (i) => create(i, { 'Idempotency-Key': `bench-${i}` }));
    const replayCost = per(1000);
    const ratio = (m: { perSecond: number }) => (m.perSecond / floor.perSecond).toFixed(2);
    return [
      `| store write floor (PutItem, ${C} in flight) | ${fmt(floor.perSecond)} /s | 1.00 | p50 ${fmt(floor.p50, 1)} ms, p99 ${fmt(floor.p99, 1)} ms |`,
      `| ids, block-reserved counter (Store.nextId) | ${fmt(blockIds.perSecond)} /s | ${ratio(blockIds)} | one counter write per 50 ids |`,
      `| ids, one counter write per id (naive) | ${fmt(naiveIds.perSecond)} /s | ${ratio(naiveIds)} | what the block scheme avoids |`,
      `| POST /v1/containers over HTTP (${C} in flight) | ${fmt(creates.perSecond)} /s | ${ratio(creates)} | p50 ${fmt(creates.p50, 1)} ms, p99 ${fmt(creates.p99, 1)} ms; ${createCost} |`,
      `| the same with a fresh Idempotency-Key each | ${fmt(keyed.perSecond)} /s | ${ratio(keyed)} | p50 ${fmt(keyed.p50, 1)} ms, p99 ${fmt(keyed.p99, 1)} ms; ${keyedCost} |`,
      `| the same again (replays) | ${fmt(replays.perSecond)} /s | ${ratio(replays)} | p50 ${fmt(replays.p50, 1)} ms, p99 ${fmt(replays.p99, 1)} ms; ${replayCost.replace(' per create', ' per replay')} |`,
    ];
  } finally {
    await t.close();
  }
}
