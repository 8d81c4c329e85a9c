/**
 * @module
 * A real store for unit suites: dynalite in memory on a loopback port, the table from `core/store/table.ts`,
 * reached through the AWS SDK, plus a shorthand for putting a resource in a given state.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { connectEmbedded } from '../../core/embedded/dynalite.js';
import { formatId, type BaseType } from '../../core/ids.js';
import { ensureTable } from '../../core/store/connect.js';
import type { Resource } from '../../core/store/item.js';
import { Store, type StoreOptions } from '../../core/store/store.js';

export interface TestStore {
  store: Store;
  client: DynamoDBClient;
  /** Another store over the same table (another Lambda, another process). */
  another(opts?: Omit<StoreOptions, 'client' | 'tableName'>): Store;
  close(): Promise<void>;
}

/**
 * Starts dynalite, creates the table and returns a store over it.
 *
 * @example
 * let t: TestStore;
 * beforeAll(async () => { t = await startTestStore({ now: () => clock }); });
 * afterAll(() => t.close());
 */
export async function startTestStore(opts: Omit<StoreOptions, 'client' | 'tableName'> = {}): Promise<TestStore> {
  const db = await connectEmbedded({ region: 'us-east-1' });
  const { client } = db;
  const tableName = 'drover-test';
  await ensureTable(client, tableName);
  return {
    store: new Store({ ...opts, client, tableName }),
    client,
    another: (o = {}) => new Store({ ...o, client, tableName }),
    async close() {
      await db.close();
    },
  };
}

/**
 * A resource record with the next id of its base type (version 0), not yet written: for tests that create it
 * themselves.
 *
 * @example
 * const c = await draftResource(store, { type: 'container', baseType: 'instance', state: 'stopped', projectId: '1a7' }, clock);
 */
export async function draftResource(
  store: Store,
  r: { type: string; baseType: BaseType; state: string; projectId?: string; fields?: Record<string, unknown> } & Partial<Resource>,
  now = Date.now(),
): Promise<Resource> {
  const num = await store.nextId(r.baseType);
  return {
    id: formatId(r.baseType, num),
    num,
    projectId: '1a1',
    version: 0,
    created: now,
    updated: now,
    ...r,
    fields: r.fields ?? {},
  };
}

/**
 * Creates a resource directly in the store (version 0), for tests that need one in a given state.
 *
 * @example
 * const c = await putResource(store, { type: 'container', baseType: 'instance', state: 'running' }, clock);
 */
export async function putResource(
  store: Store,
  r: { type: string; baseType: BaseType; state: string; projectId?: string; fields?: Record<string, unknown> } & Partial<Resource>,
  now = Date.now(),
): Promise<Resource> {
  return store.create(await draftResource(store, r, now));
}
