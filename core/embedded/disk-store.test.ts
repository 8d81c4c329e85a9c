/**
 * Recovery of the embedded store after an unclean stop, on real dynalite files. The torn write is made by dynalite's
 * own code: `updateIndexes` is the first half of its PutItem (index entries), run without the second (the item), which
 * is exactly what a kill between the two LevelDB writes leaves behind.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { formatId } from '../ids.js';
import { dynamoClient, ensureTable } from '../store/connect.js';
import { journalTable } from '../store/recovery.js';
import { toItem, type Resource } from '../store/item.js';
import { Store } from '../store/store.js';
import { putResource } from '../../test/helpers/store.js';
import { openDiskStore } from './disk-store.js';
import { startDynalite } from './dynalite.js';

const require = createRequire(import.meta.url);
/** dynalite's storage layer (untyped CommonJS): what its PutItem does, one half at a time. */
const dynaliteDb = require('dynalite/db/index.js');

const root = mkdtempSync(join(tmpdir(), 'drover-disk-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TABLE = 'drover';
const quiet = () => undefined;
let dirs = 0;

function open(dir: string) {
  return openDiskStore({ dir, tableName: TABLE, region: 'us-east-1', log: quiet });
}

/** A stage with a few resources and non-resource items, left as a kill leaves it: closed, but still marked open. */
async function populated(): Promise<{ dir: string; running: Resource; stopped: Resource; items: number }> {
  const dir = join(root, `dynamodb-${dirs++}`);
  const db = await open(dir);
  const store = new Store({ client: db.client, tableName: TABLE });
  const running = await putResource(store, { type: 'container', baseType: 'instance', state: 'running' });
  const stopped = await putResource(store, { type: 'virtualMachine', baseType: 'instance', state: 'stopped' });
  await store.putConfig('cursorSecret', 'x');
  const items = await count(db.client);
  await db.close();
  writeFileSync(`${dir}.open`, '');
  return { dir, running, stopped, items };
}

async function count(client: Awaited<ReturnType<typeof open>>['client']): Promise<number> {
  const out = await client.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, Select: 'COUNT' }));
  return out.Count ?? 0;
}

/** Runs dynalite's index half of a PutItem of `item` (replacing `before`, if given) and stops there. */
async function tornPut(dir: string, item: Record<string, unknown>, before?: Resource): Promise<void> {
  const st = dynaliteDb.create({ path: dir });
  const call = <T>(fn: (cb: (err: unknown, v?: T) => void) => void) =>
    new Promise<T>((ok, fail) => fn((err, v) => (err ? fail(err) : ok(v as T))));
  const table = await call<any>((cb) => st.getTable(TABLE, false, cb));
  const marshalled = (r: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(r).flatMap(([k, v]) => (v === undefined ? [] : [[k, toAttr(v)]])));
  const existing = before ? marshalled(toItem(before)) : null;
  await call((cb) => dynaliteDb.updateIndexes(st, table, existing, marshalled(item), cb));
  await st.db.close();
}

/** Plain JSON → DynamoDB attribute values (all a resource item holds). */
function toAttr(v: unknown): unknown {
  if (v === null) return { NULL: true };
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (Array.isArray(v)) return { L: v.map(toAttr) };
  return { M: Object.fromEntries(Object.entries(v as object).flatMap(([k, x]) => (x === undefined ? [] : [[k, toAttr(x)]]))) };
}

/** Ids an index partition lists, read through the index itself. */
async function listed(store: Store, index: 'byState' | 'byKind', partition: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of store.queryIndex({ index, partition })) ids.push(...page.map((r) => r.id));
  return ids;
}

describe('openDiskStore', () => {
  it('rebuilds the indexes from the items after an unclean stop: stale entries and entries without an item disappear', async () => {
    const { dir, running, stopped, items } = await populated();
    // A kill in the middle of two PutItems: `running` on its way to `starting`, and a create of 1i999.
    await tornPut(dir, toItem({ ...running, state: 'starting' }), running);
    const ghost: Resource = { ...stopped, id: formatId('instance', 999), num: 999 };
    await tornPut(dir, toItem(ghost));

    // Without recovery the indexes disagree with the items (what the issue saw).
    const plain = await startDynalite({ path: dir });
    const client = dynamoClient({ region: 'us-east-1', endpoint: plain.endpoint, local: true });
    const torn = new Store({ client, tableName: TABLE });
    expect(await listed(torn, 'byState', 'S#1a1#instance#starting')).toEqual([running.id]);
    expect(await listed(torn, 'byKind', 'K#instance')).toContain(ghost.id);
    expect((await torn.get(running.id))!.state).toBe('running');
    client.destroy();
    await plain.close();

    const lines: string[] = [];
    const db = await openDiskStore({ dir, tableName: TABLE, region: 'us-east-1', log: (l) => lines.push(l) });
    try {
      expect(db.recovered).toMatchObject({ items, resumed: false });
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^Recovered from an unclean stop: rebuilt the indexes of ${items} items in \\d+ ms$`))]);
      const store = new Store({ client: db.client, tableName: TABLE });
      expect(await listed(store, 'byState', 'S#1a1#instance#starting')).toEqual([]);
      expect(await listed(store, 'byState', 'S#1a1#instance#running')).toEqual([running.id]);
      expect(await listed(store, 'byKind', 'K#instance')).toEqual([running.id, stopped.id]);
      // Every item is still there, as it was.
      expect(await count(db.client)).toBe(items);
      expect(await store.get(running.id)).toEqual(running);
      expect(await store.get(stopped.id)).toEqual(stopped);
      expect(await store.getConfig('cursorSecret')).toBe('x');
      // Ids keep counting from where they were (the counter item came back too).
      expect(await store.nextId('instance')).toBeGreaterThan(stopped.num);
    } finally {
      await db.close();
    }
    // A clean close leaves nothing to recover.
    expect(existsSync(`${dir}.open`)).toBe(false);
    const again = await open(dir);
    expect(again.recovered).toBeUndefined();
    await again.close();
  });

  it('finishes an interrupted rebuild from its journal, whatever the killed rebuild left in the directory', async () => {
    const { dir, running, stopped, items } = await populated();
    // The kill came after the journal was written and the old files dropped, while the items were being written
    // back: a fresh table holding only some of them.
    const first = await startDynalite({ path: dir });
    const client = dynamoClient({ region: 'us-east-1', endpoint: first.endpoint, local: true });
    await journalTable({ client, tableName: TABLE, file: `${dir}.journal` });
    client.destroy();
    await first.close();
    rmSync(dir, { recursive: true, force: true });
    const partial = await startDynalite({ path: dir });
    const partialClient = dynamoClient({ region: 'us-east-1', endpoint: partial.endpoint, local: true });
    await ensureTable(partialClient, TABLE);
    await new Store({ client: partialClient, tableName: TABLE }).create(running);
    partialClient.destroy();
    await partial.close();

    const db = await open(dir);
    try {
      expect(db.recovered).toMatchObject({ items, resumed: true });
      expect(existsSync(`${dir}.journal`)).toBe(false);
      const store = new Store({ client: db.client, tableName: TABLE });
      expect(await count(db.client)).toBe(items);
      expect(await store.get(stopped.id)).toEqual(stopped);
      expect(await listed(store, 'byKind', 'K#instance')).toEqual([running.id, stopped.id]);
    } finally {
      await db.close();
    }
  });

  it('refuses to drop anything on the strength of an incomplete journal', async () => {
    const { dir, stopped } = await populated();
    writeFileSync(`${dir}.journal`, JSON.stringify({ tableName: TABLE, count: 3, items: [] }));
    await expect(open(dir)).rejects.toThrow(/is not a complete journal \(0 of 3 items\)/);
    rmSync(`${dir}.journal`);
    const db = await open(dir);
    try {
      expect(await new Store({ client: db.client, tableName: TABLE }).get(stopped.id)).toEqual(stopped);
    } finally {
      await db.close();
    }
  });
});
