/**
 * The change feed against the embedded DynamoDB (dynalite) through the real AWS SDK: every write path of the
 * store reports exactly once with its old and new image, failed conditional writes report nothing, and
 * concurrent writes of one item arrive in version order.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatId } from '../ids.js';
import { draftResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { ChangeFeed, type Change } from './changes.js';
import { CommandRecords, type Command } from './commands.js';
import { HostClaims } from './host-claims.js';
import { IdempotencyRecords } from './idempotency.js';
import { keys } from './keys.js';
import type { Resource } from './item.js';
import type { Store } from './store.js';

let t: TestStore;
let store: Store;
const clock = 1_800_000_000_000;
let seen: Change[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  t = await startTestStore({ now: () => clock, idBlock: 10, logChangeError: (e) => errors.push(e) });
  store = t.store;
  store.changes.subscribe((c) => void seen.push(c));
});
afterAll(() => t.close());
beforeEach(() => {
  seen = [];
});

/** What was reported since the last call, as `kind pk old→new version`. */
function reported(): string[] {
  const out = seen.map((c) => `${c.kind} ${c.key.pk} ${c.oldImage?.version ?? '-'}→${c.newImage?.version ?? '-'}`);
  seen = [];
  return out;
}

function resource(extra: Partial<Resource> = {}): Promise<Resource> {
  return draftResource(store, { type: 'container', baseType: 'instance', projectId: '1a7', state: 'stopped', ...extra }, clock);
}

describe('change feed: resources, access keys, counters, config', () => {
  it('create, put, mutate and updateFields report once each, with both images', async () => {
    const r = await resource();
    reported(); // the counter block, checked below
    await store.create(r);
    const created = seen[0];
    expect(reported()).toEqual([`resource ${r.id} -→0`]);
    expect(created.oldImage).toBeUndefined();
    expect(created.newImage).toMatchObject({ pk: r.id, sk: 'R', state: 'stopped', gsi3pk: 'S#1a7#instance#stopped' });

    const v1 = await store.put({ ...r, state: 'starting' }, 0);
    const put = seen[0];
    expect(reported()).toEqual([`resource ${r.id} 0→1`]);
    expect([put.oldImage?.state, put.newImage?.state]).toEqual(['stopped', 'starting']);

    const storedV1 = await store.readItem(keys.resource(r.id));
    await store.mutate(r.id, (cur) => ({ ...cur, state: 'running' }), { current: v1 });
    const mutated = seen[0];
    expect(reported()).toEqual([`resource ${r.id} 1→2`]);
    // The old image of a version-conditioned write is the copy it was made from, exactly as stored.
    expect(mutated.oldImage).toEqual(storedV1);
    expect(mutated.oldImage).toEqual(put.newImage);

    const stamped = await store.updateFields(r.id, { set: { agentSeenAt: 5 }, add: { allocatedVcpu: 2 } });
    const upd = seen[0];
    expect(reported()).toEqual([`resource ${r.id} 2→3`]);
    expect((upd.newImage!.fields as Record<string, unknown>)).toMatchObject({ agentSeenAt: 5, allocatedVcpu: 2 });
    expect(upd.oldImage!.fields).toEqual({});
    // The new image is what DynamoDB holds: the same change applied in memory matches a read.
    const { pk: _pk, sk: _sk, ...stored } = (await store.readItem(keys.resource(r.id)))!;
    expect(upd.newImage).toMatchObject(stored);
    expect(stamped!.version).toBe(3);
  });

  it('a report under an action (updateUnderAction) reports once, with the host index moved in the new image; a stale one nothing', async () => {
    const r = await resource({ action: { id: 'act-1', name: 'start', input: {}, caller: 'admin', at: clock, from: 'stopped', deadline: clock + 1 } });
    await store.create(r);
    reported();
    await store.updateUnderAction(r.id, 'act-1', { transitioningMessage: 'Starting on host 1h3', fields: { hostId: '1h3' } });
    const upd = seen[0];
    expect(reported()).toEqual([`resource ${r.id} 0→1`]);
    expect(upd.newImage).toMatchObject({ transitioningMessage: 'Starting on host 1h3', gsi4pk: 'H#1h3#instance' });
    const { pk: _pk, sk: _sk, ...stored } = (await store.readItem(keys.resource(r.id)))!;
    expect(upd.newImage).toMatchObject(stored);
    expect(await store.updateUnderAction(r.id, 'act-0', { transitioningMessage: 'late' })).toBeUndefined();
    expect(reported()).toEqual([]);
  });

  it('failed conditional writes report nothing', async () => {
    const r = await store.create(await resource());
    reported();
    await expect(store.create(r)).rejects.toThrow();
    await expect(store.put({ ...r, state: 'x' }, 7)).rejects.toThrow();
    expect(await store.updateFields(r.id, { add: { allocatedVcpu: 9 }, max: { allocatedVcpu: 4 } })).toBeUndefined();
    expect(await store.updateFields(r.id, { set: { a: 1 }, expect: { allocationVersion: 3 } })).toBeUndefined();
    expect(await store.updateFields('1i999999', { set: { a: 1 } })).toBeUndefined();
    expect(reported()).toEqual([]);
  });

  it('a credential reports its access-key item, then itself; ensureAccessKeyItem reports only when it writes', async () => {
    const num = await store.nextId('credential');
    reported();
    const key: Resource = {
      id: formatId('credential', num), num, type: 'apiKey', baseType: 'credential', projectId: '1a7', state: 'active',
      version: 0, created: clock, updated: clock, fields: { publicValue: `PV${num}${randomBytes(4).toString('hex')}` },
    };
    await store.create(key);
    expect(reported()).toEqual([`accessKey ak#${key.fields.publicValue} -→1`, `resource ${key.id} -→0`]);
    expect(seen).toEqual([]);
    await store.ensureAccessKeyItem(key);
    expect(reported()).toEqual([]);
  });

  it('an id block reserves with one counter write, reported once', async () => {
    const fresh = t.another({ idBlock: 5 });
    const stop = fresh.changes.subscribe((c) => void seen.push(c));
    const before = (await fresh.readItem(keys.counter('host')))?.version as number | undefined;
    for (let i = 0; i < 5; i++) await fresh.nextId('host');
    const v = (before ?? 0) + 1;
    expect(reported()).toEqual([`counter counter#host ${before ?? '-'}→${v}`]);
    stop();
  });

  it('config writes report once; a lost onlyIfAbsent reports nothing', async () => {
    await store.putConfig('feed-test', 'a', { onlyIfAbsent: true });
    expect(await store.putConfig('feed-test', 'b', { onlyIfAbsent: true })).toBe('a');
    await store.putConfig('feed-test', 'c');
    expect(reported()).toEqual(['config config#feed-test -→1', 'config config#feed-test 1→2']);
  });
});

describe('change feed: commands, host claims, idempotency records', () => {
  const commands = () => new CommandRecords(store);
  const cmd = (id: string): Command => ({
    id, hostId: '1h9', name: 'compute.instance.activate', action: 'start', resourceId: '1i5', actionId: 'a1',
    data: {}, processData: {}, heartbeatSeconds: 30, timeoutSeconds: 300, status: 'pending', createdAt: clock,
    token: 'tok', dedupeKey: 'a1/activate', deadline: clock + 300_000, ackedAt: null, doneAt: null, result: null,
    relayedAt: null, expiresAt: Math.floor(clock / 1000) + 3600,
  });

  it('every command write reports once; refused ones report nothing', async () => {
    const c = cmd('00000000000aaaaaaaaaaa');
    await commands().put(c);
    expect(await commands().claimKey(c, false)).toBe(true);
    expect(await commands().claimKey({ ...c, id: 'other' }, false)).toBe(c.id);
    await commands().refresh(c.hostId, c.id, { ...c, token: 'tok2' });
    await commands().ack(c.hostId, c.id, clock);
    expect(await commands().ack(c.hostId, c.id, clock)).toBeUndefined();
    await commands().finish(c.hostId, c.id, { result: {} }, { now: clock, expiresAt: c.expiresAt });
    expect(await commands().finish(c.hostId, c.id, { result: {} }, { now: clock, expiresAt: c.expiresAt })).toBeUndefined();
    await commands().markRelayed(c.hostId, c.id, true, clock);
    await commands().releaseKey(c.hostId, c.dedupeKey, 'not-the-holder');
    await commands().releaseKey(c.hostId, c.dedupeKey, c.id);
    const k = `cmdkey#1h9#${c.dedupeKey}`;
    expect(reported()).toEqual([
      'command cmd#1h9 -→1',
      `commandKey ${k} -→1`,
      'command cmd#1h9 1→2',
      'command cmd#1h9 2→3',
      'command cmd#1h9 3→4',
      'command cmd#1h9 4→5',
      `commandKey ${k} 1→2`,
    ]);
    const stored = await commands().get(c.hostId, c.id, clock);
    expect(stored).toMatchObject({ status: 'done', token: 'tok2', relayedAt: clock });
    expect(stored).not.toHaveProperty('version');
  });

  it('host claims report the claim and a replacement, not a lost claim', async () => {
    const claims = new HostClaims(store);
    expect(await claims.claim('1a7', 'uuid-1', '1h1')).toBe(true);
    expect(await claims.claim('1a7', 'uuid-1', '1h2')).toBe(false);
    expect(await claims.claim('1a7', 'uuid-1', '1h3', '1h1')).toBe(true);
    expect(reported()).toEqual(['hostClaim hostuuid#1a7#uuid-1 -→1', 'hostClaim hostuuid#1a7#uuid-1 1→2']);
    expect(seen).toEqual([]);
  });

  it('idempotency claims, renewals, parts, completion and release report once each', async () => {
    const records = new IdempotencyRecords(store, { now: () => clock, partBytes: 1_000 });
    const rec = { callerId: 'admin', key: 'feed-1', fingerprint: 'fp', lease: 'l1', leaseUntil: clock + 30_000, expiresAt: Math.floor(clock / 1000) + 60 };
    const pk = 'idem#admin#feed-1';
    expect(await records.claim(rec)).toBe(true);
    expect(await records.claim({ ...rec, lease: 'l2' })).toBe(false);
    expect(await records.renew(rec, clock + 60_000)).toBe(true);
    expect(await records.renew({ ...rec, lease: 'l2' }, clock)).toBe(false);
    expect(await records.complete(rec, { status: 201, headers: {}, body: randomBytes(2_500) }, rec.expiresAt)).toBe(true);
    const [claim, renew, ...rest] = reported();
    expect([claim, renew]).toEqual([`idempotency ${pk} -→1`, `idempotency ${pk} 1→2`]);
    expect(rest.sort()).toEqual([`idempotency ${pk} 2→3`, ...Array(3).fill(`idempotencyPart ${pk} -→1`)].sort());

    const other = { ...rec, key: 'feed-2' };
    await records.claim(other);
    expect(await records.release({ ...other, lease: 'nope' })).toBe(false);
    expect(await records.release(other)).toBe(true);
    expect(reported()).toEqual(['idempotency idem#admin#feed-2 -→1', 'idempotency idem#admin#feed-2 1→-']);
  });
});

describe('change feed: order and isolation', () => {
  it('concurrent mutates of one item are reported in version order, with no gaps or duplicates', async () => {
    const r = await store.create(await resource({ fields: { labels: {} } }));
    seen = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.mutate(r.id, (cur) => ({ ...cur, fields: { ...cur.fields, labels: { ...(cur.fields.labels as object), [`k${i}`]: 'v' } } })),
      ),
    );
    const mine = seen.filter((c) => c.key.pk === r.id);
    expect(mine.map((c) => c.newImage!.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const c of mine) expect(c.oldImage!.version).toBe((c.newImage!.version as number) - 1);
  });

  it('a throwing or rejecting subscriber is logged and never fails the write', async () => {
    const stopA = store.changes.subscribe(() => {
      throw new Error('subscriber bug');
    });
    const stopB = store.changes.subscribe(() => Promise.reject(new Error('async subscriber bug')));
    errors.length = 0;
    await store.putConfig('feed-throw', 1);
    await new Promise((r) => setImmediate(r));
    stopA();
    stopB();
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['async subscriber bug', 'subscriber bug']);
    expect(await store.getConfig('feed-throw')).toBe(1);
    await store.putConfig('feed-throw', 2);
    expect(errors).toHaveLength(2);
  });

  it('holds a change only until the writes of its item that were in flight when it completed have ended', () => {
    const feed = new ChangeFeed();
    const got: number[] = [];
    feed.subscribe((c) => void got.push(c.newImage!.version as number));
    const key = { pk: 'x', sk: 'R' };
    const change = (v: number): Change => ({ key, kind: 'resource', oldImage: { version: v - 1 }, newImage: { version: v } });
    const [a, b, c] = [feed.begin(key), feed.begin(key), feed.begin(key)];
    feed.settle(key, b, change(7)); // the response of the later write came back first
    expect(got).toEqual([]);
    feed.settle(key, a, change(6));
    expect(got).toEqual([]); // the third write may still precede both
    feed.settle(key, c, undefined); // it failed its condition: 6, 7 follow
    expect(got).toEqual([6, 7]);

    const [d, e] = [feed.begin(key), feed.begin(key)];
    feed.settle(key, d, change(8));
    expect(got).toEqual([6, 7]); // e began before 8 completed
    const f = feed.begin(key); // began after 8 completed: cannot precede it
    feed.settle(key, e, change(10)); // 9 was written by someone else: no write of ours can fill the gap
    expect(got).toEqual([6, 7, 8]); // 10 waits for f only
    feed.settle(key, f, undefined);
    expect(got).toEqual([6, 7, 8, 10]);
  });
});
