/**
 * Stage bootstrap against the embedded DynamoDB: idempotent, and concurrent first starts (several Lambdas)
 * converge on one default project, one cursor secret and no orphan projects.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { toItem } from '../store/item.js';
import type { Store } from '../store/store.js';
import { startTestStore, type TestStore } from '../../test/helpers/store.js';
import { bootstrap } from './bootstrap.js';
import { Authenticator, hashSecret } from './credentials.js';

let t: TestStore;
let store: Store;

beforeEach(async () => {
  t = await startTestStore();
  store = t.store;
});
afterEach(() => t.close());

async function projects(s: Store) {
  const out = [];
  for await (const page of s.queryIndex({ index: 'byKind', partition: 'K#account' })) out.push(...page);
  return out;
}

describe('bootstrap', () => {
  it('is idempotent', async () => {
    const a = await bootstrap(store);
    const b = await bootstrap(store);
    expect(b).toEqual(a);
    const all = await projects(store);
    expect(all.map((p) => p.id)).toEqual([a.defaultProjectId]);
    expect(all[0].state).toBe('active');
    expect(all[0].fields.name).toBe('Default');
  });

  it('concurrent first starts (separate processes) agree and leave exactly one project', async () => {
    // Each "Lambda" has its own Store, so its own id block.
    const stores = Array.from({ length: 6 }, () => t.another());
    const results = await Promise.all(stores.map((s) => bootstrap(s)));
    expect(new Set(results.map((r) => r.defaultProjectId)).size).toBe(1);
    expect(new Set(results.map((r) => r.cursorSecret)).size).toBe(1);
    const all = await projects(store);
    expect(all.map((p) => p.id)).toEqual([results[0].defaultProjectId]);
  });

  it('heals a stored default project id whose project was never written', async () => {
    await store.putConfig('defaultProject', '1a77');
    const r = await bootstrap(store);
    expect(r.defaultProjectId).toBe('1a77');
    const p = await store.get('1a77');
    expect(p?.type).toBe('project');
    expect(p?.num).toBe(77);
  });

  it('installs the given admin key and keeps a given cursor secret', async () => {
    const r = await bootstrap(store, { admin: { accessKey: 'AK', secretKey: 'SK' }, cursorSecret: 'fixed' });
    expect(r.cursorSecret).toBe('fixed');
    expect(await store.getConfig('adminKey')).toEqual({ accessKey: 'AK', secretHash: hashSecret('SK') });
    const auth = new Authenticator(store);
    const p = await auth.authenticate(`Basic ${Buffer.from('AK:SK').toString('base64')}`);
    expect(p).toEqual({ role: 'admin', callerId: 'admin', projectId: null });
  });
});

describe('Authenticator cache', () => {
  it('a lookup that raced with invalidate() is not cached', async () => {
    await bootstrap(store, { admin: { accessKey: 'AK', secretKey: 'SK' } });
    const header = `Basic ${Buffer.from('AK:SK').toString('base64')}`;
    let reads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = Object.create(store) as Store;
    slow.getConfig = async <T>(name: string) => {
      reads++;
      if (reads === 1) await gate;
      return store.getConfig<T>(name);
    };
    const auth = new Authenticator(slow, { cacheMs: 60_000 });
    const first = auth.authenticate(header);
    await new Promise((r) => setTimeout(r, 10));
    auth.invalidate(); // e.g. the key was deactivated while the first lookup was in flight
    release();
    await first;
    await auth.authenticate(header);
    expect(reads).toBe(2);
    // Without an intervening invalidate() the result is cached.
    await auth.authenticate(header);
    expect(reads).toBe(2);
  });

  it('gives credentials stored before access-key items their item, once, so their keys keep working', async () => {
    const { defaultProjectId } = await bootstrap(store);
    // A key as stored before: the resource item only (written around the store, as an older release left it).
    const num = await store.nextId('credential');
    const key = {
      id: `1c${num}`, num, type: 'apiKey', baseType: 'credential' as const, projectId: defaultProjectId, state: 'active',
      version: 0, created: 0, updated: 0, fields: { publicValue: 'OLDKEY0000000000000A', secretHash: hashSecret('old-secret') },
    };
    await store.doc.send(new PutCommand({ TableName: store.tableName, Item: toItem(key) }));
    const auth = () => new Authenticator(store).authenticate(`Basic ${Buffer.from('OLDKEY0000000000000A:old-secret').toString('base64')}`);
    await expect(auth()).rejects.toMatchObject({ status: 401 });
    await store.putConfig('accessKeyItems', 0); // this stage has not been through the upgrade yet
    await bootstrap(store);
    await expect(auth()).resolves.toMatchObject({ role: 'project', callerId: key.id });
    expect(await store.getConfig('accessKeyItems')).toBe(1);
  });
});
