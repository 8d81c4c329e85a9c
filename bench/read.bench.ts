/**
 * @module
 * Reads, each against a floor served the same way (a bare Hono app on `@hono/node-server` in this process, over
 * the same DynamoDB client and table as the stack's store), measured in alternating rounds:
 * - `GET /v1/containers/<id>` against a bare route doing one consistent `GetItem` of the same item;
 * - `GET /v1/containers?limit=100` against a bare route doing one `Query` of 100 items on the same index
 *   partition (the project's `byProject` partition);
 * - a page deep into 100,000 rows (after row 99,800, reached by following `next` markers) against the first page.
 * The 100,000 rows are copies of a container created through the API, each with its own id, name and uuid, put
 * with `BatchWriteItem` in the store's own item form (`toItem`).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { BatchWriteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Hono } from 'hono';
import { formatId } from '../core/ids.js';
import { toItem, type Resource } from '../core/store/item.js';
import { INDEXES } from '../core/store/table.js';
import type { Store } from '../core/store/store.js';
import { Client } from '../test/helpers/client.js';
import { projectClient, startTestStack } from '../test/helpers/stack.js';
import { settle } from '../test/helpers/wait.js';
import { fmt, versus, type Measure } from './lib.js';

const ROWS = 100_000;

/** The floor's server: one store request per route, the item(s) answered as JSON. */
async function bareServer(store: Store, partition: string): Promise<{ client: Client; close(): Promise<void> }> {
  const app = new Hono();
  app.get('/item/:id', async (c) => {
    const out = await store.doc.send(new GetCommand({ TableName: store.tableName, Key: { pk: c.req.param('id'), sk: 'R' }, ConsistentRead: true }));
    return out.Item ? c.json(out.Item) : c.json({ status: 404 }, 404);
  });
  app.get('/page', async (c) => {
    const idx = INDEXES.byProject;
    const out = await store.doc.send(
      new QueryCommand({
        TableName: store.tableName,
        IndexName: 'byProject',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': idx.pk },
        ExpressionAttributeValues: { ':pk': partition },
        Limit: 100,
      }),
    );
    return c.json({ data: out.Items ?? [] });
  });
  const server: ServerType = await new Promise((ok, fail) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
    s.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  return {
    client: new Client(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise<void>((ok) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

/** Puts `count` copies of `proto` (fresh ids, names, uuids) with BatchWriteItem, 25 a batch, 4 in flight. */
async function putCopies(store: Store, proto: Resource, count: number): Promise<void> {
  const nums: number[] = [];
  for (let i = 0; i < count; i++) nums.push(await store.nextId('instance'));
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < count; i += 25) {
    batches.push(
      nums.slice(i, i + 25).map((num, j) =>
        toItem({ ...proto, id: formatId('instance', num), num, fields: { ...proto.fields, name: `row-${i + j + 1}`, uuid: randomUUID() } }),
      ),
    );
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let b = next++; b < batches.length; b = next++) {
        let items = batches[b].map((Item) => ({ PutRequest: { Item } }));
        while (items.length) {
          const out = await store.doc.send(new BatchWriteCommand({ RequestItems: { [store.tableName]: items } }));
          items = (out.UnprocessedItems?.[store.tableName] ?? []) as typeof items;
        }
      }
    }),
  );
}

export async function readBench(): Promise<string[]> {
  const t = await startTestStack();
  const { store } = t.stack;
  let bare: Awaited<ReturnType<typeof bareServer>> | undefined;
  try {
    const { client: api, projectId } = await projectClient(t.admin, 'read-bench');
    const created = await api.post('/v1/containers', { imageUuid: 'sim:read', name: 'row-0', startOnCreate: false });
    if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
    await settle(api, `/v1/containers/${created.body.id}`);
    const proto = (await store.get(created.body.id))!;
    const partition = `P#${projectId}#instance`;
    const s0 = performance.now();
    await putCopies(store, proto, ROWS);
    const setupSeconds = (performance.now() - s0) / 1000;
    bare = await bareServer(store, partition);
    const floorClient = bare.client;

    const expectOk = (what: string, rows?: number) => (r: { status: number; body: any }) => {
      if (r.status !== 200) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      if (rows !== undefined && r.body.data.length !== rows) throw new Error(`${what} returned ${r.body.data.length} rows, not ${rows}`);
    };

    // One item: 1,000 distinct rows, 8 in flight, then one at a time.
    const some = Array.from({ length: 1000 }, (_, i) => formatId('instance', proto.num + 1 + i * 97));
    const getFloor = (i: number) => floorClient.get(`/item/${some[i % some.length]}`).then(expectOk('bare GetItem'));
    const getApi = (i: number) => api.get(`/v1/containers/${some[i % some.length]}`).then(expectOk('GET /v1/containers/<id>'));
    const getPar = await versus(3, 1000, 8, getFloor, getApi);
    const getSeq = await versus(3, 200, 1, getFloor, getApi);

    // A page of 100, the first of the partition.
    const listFloor = () => floorClient.get('/page').then(expectOk('bare Query', 100));
    const listApi = () => api.get('/v1/containers?limit=100').then(expectOk('GET /v1/containers?limit=100', 100));
    const listPar = await versus(3, 100, 8, listFloor, listApi);
    const listSeq = await versus(3, 50, 1, listFloor, listApi);

    // Deep into the rows: follow `next` (10,000 rows a page) to row 99,800, then pages of 100 from there.
    const w0 = performance.now();
    let marker: string | undefined;
    let seen = 0;
    const DEEP = 99_800;
    while (seen < DEEP) {
      const limit = Math.min(10_000, DEEP - seen);
      const r = await api.get(`/v1/containers?limit=${limit}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`);
      expectOk('paging', limit)(r);
      seen += r.body.data.length;
      marker = new URL(r.body.pagination.next).searchParams.get('marker')!;
    }
    const walkSeconds = (performance.now() - w0) / 1000;
    const deepUrl = `/v1/containers?limit=100&marker=${encodeURIComponent(marker!)}`;
    const probe = await api.get(deepUrl);
    expectOk('deep page', 100)(probe);
    const firstRow = probe.body.data[0].name;
    if (firstRow !== `row-${DEEP}`) throw new Error(`the deep page starts at ${firstRow}, not row-${DEEP}`);
    const deep = await versus(3, 50, 1, listApi, () => api.get(deepUrl).then(expectOk('deep page', 100)));

    const thr = (m: { floor: Measure; subject: Measure }) => (m.subject.perSecond / m.floor.perSecond).toFixed(2);
    const lat = (m: { floor: Measure; subject: Measure }) => (m.floor.p50 / m.subject.p50).toFixed(2);
    return [
      `| bare Hono route, one GetItem (8 in flight) | ${fmt(getPar.floor.perSecond)} /s | 1.00 | p50 ${fmt(getPar.floor.p50, 2)} ms; one at a time p50 ${fmt(getSeq.floor.p50, 2)} ms |`,
      `| GET /v1/containers/<id> over HTTP (8 in flight) | ${fmt(getPar.subject.perSecond)} /s | ${thr(getPar)} | p50 ${fmt(getPar.subject.p50, 2)} ms; one at a time p50 ${fmt(getSeq.subject.p50, 2)} ms (${lat(getSeq)} of the floor's speed); target ≥ 0.85 |`,
      `| bare Hono route, one Query of 100 (8 in flight) | ${fmt(listPar.floor.perSecond)} /s | 1.00 | p50 ${fmt(listPar.floor.p50, 1)} ms; one at a time p50 ${fmt(listSeq.floor.p50, 1)} ms |`,
      `| GET /v1/containers?limit=100 (8 in flight) | ${fmt(listPar.subject.perSecond)} /s | ${thr(listPar)} | p50 ${fmt(listPar.subject.p50, 1)} ms; one at a time p50 ${fmt(listSeq.subject.p50, 1)} ms (${lat(listSeq)} of the floor's speed); target ≥ 0.7 |`,
      `| first page of 100 of ${fmt(ROWS + 1)} rows (one at a time) | p50 ${fmt(deep.floor.p50, 1)} ms | 1.00 | p99 ${fmt(deep.floor.p99, 1)} ms |`,
      `| page of 100 after row ${fmt(DEEP)} (marker) | p50 ${fmt(deep.subject.p50, 1)} ms | ${(deep.subject.p50 / deep.floor.p50).toFixed(2)} | p99 ${fmt(deep.subject.p99, 1)} ms; target ≤ 1.2; setup: ${fmt(ROWS)} rows put in ${fmt(setupSeconds, 1)} s, marker walk ${fmt(walkSeconds, 1)} s |`,
    ];
  } finally {
    await bare?.close();
    await t.close();
  }
}
