/**
 * @module
 * Workflow benchmarks on the embedded engine and sim hosts (real agent protocol over loopback HTTP):
 * - action round trip: POST ?action=start → `running` observed, p50/p99, against the floor of the store round
 *   trips the action makes, counted on the DynamoDB client and priced at the store's sequential latency;
 * - 1,000 containers created with startOnCreate at once: all must reach running; the time is compared with
 *   the store's write floor for the writes the run made.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startTestStack } from '../test/helpers/stack.js';
import { settle, waitFor } from '../test/helpers/wait.js';
import { fmt, measure } from './lib.js';

export async function workflowBench(): Promise<string[]> {
  const t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '2' }, simWorkMs: 0 });
  const { store, client } = t.stack;
  // Count every DynamoDB request, and the writes among them.
  let requests = 0;
  let writes = 0;
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      requests++;
      if (/Put|Update|Delete/.test(String(ctx.commandName))) writes++;
      return next(args);
    },
    { step: 'initialize', name: 'benchCounter' },
  );
  const api = t.admin;
  try {
    await waitFor(api, '/v1/hosts', (h) => h.data?.length === 2 && h.data.every((x: any) => x.agentState === 'online'));

    // Floors: one store request at a time (latency) and 16 in flight (write rate).
    const seq = await measure(300, 1, (i) => store.doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: `floor#${i}`, sk: 'R' } })));
    const par = await measure(2000, 16, (i) => store.doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: `floorp#${i}`, sk: 'R' } })));

    // Round trip of one start at a time, on stopped containers.
    const n = 50;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await api.post('/v1/containers', { imageUuid: 'sim:rt', name: `rt${i}`, startOnCreate: false });
      ids.push(r.body.id);
      await settle(api, `/v1/containers/${r.body.id}`);
    }
    const before = requests;
    const rt = await measure(n, 1, async (i) => {
      const r = await api.post(`/v1/containers/${ids[i]}/?action=start`);
      if (r.status !== 202) throw new Error(`start failed: ${JSON.stringify(r.body)}`);
      const s = await waitFor(api, `/v1/containers/${ids[i]}`, (b) => b.state === 'running', { intervalMs: 2 });
      if (s.body.state !== 'running') throw new Error('not running');
    });
    // Requests per start, less the GETs this loop itself polled with (each poll is one GetItem).
    const perStart = (requests - before) / n;
    const floorMs = perStart * seq.p50;

    // 1,000 containers with startOnCreate at once.
    const w0 = writes;
    const N = 1000;
    const t0 = performance.now();
    await measure(N, 50, (i) =>
      api.post('/v1/containers', { imageUuid: 'sim:bulk', name: `bulk${i}` }).then((r) => {
        if (r.status !== 201) throw new Error(`create failed ${r.status}: ${JSON.stringify(r.body)}`);
      }),
    );
    let running = 0;
    for (;;) {
      const r = await api.get('/v1/containers?name_prefix=bulk&state=running&limit=0');
      running = r.body.data.length;
      const settled = await api.get('/v1/containers?name_prefix=bulk&state_ne=running&limit=0');
      const stuckOrFailed = settled.body.data.filter((c: any) => c.transitioning !== 'yes');
      if (stuckOrFailed.length) throw new Error(`${stuckOrFailed.length} containers ended in ${stuckOrFailed[0].state}`);
      if (running === N) break;
      if (performance.now() - t0 > 600_000) throw new Error(`only ${running} of ${N} running after 10 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const bulkSeconds = (performance.now() - t0) / 1000;
    const bulkWrites = writes - w0;
    const writeFloorSeconds = bulkWrites / par.perSecond;

    return [
      `| store round trip, one at a time (PutItem) | p50 ${fmt(seq.p50, 2)} ms | 1.00 | the unit of the floor below |`,
      `| action round trip: POST start → running observed (${n} sequential) | p50 ${fmt(rt.p50, 1)} ms, p99 ${fmt(rt.p99, 1)} ms | ${(rt.p50 / floorMs).toFixed(2)} | floor = ${fmt(perStart, 1)} store requests per start (incl. the client's GET polls) × ${fmt(seq.p50, 2)} ms = ${fmt(floorMs, 1)} ms |`,
      `| ${N} containers, startOnCreate, created 50 at a time → all running | ${fmt(bulkSeconds, 1)} s, ${running}/${N} running, none lost | ${(bulkSeconds / writeFloorSeconds).toFixed(2)} | write floor = ${fmt(bulkWrites)} writes ÷ ${fmt(par.perSecond)} writes/s (16 in flight) = ${fmt(writeFloorSeconds, 1)} s |`,
    ];
  } finally {
    await t.close();
  }
}
