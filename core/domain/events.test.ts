import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { draftResource, putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import type { Change } from '../store/changes.js';
import { toItem, type Resource } from '../store/item.js';
import { EventIds, EventLog, eventIdTime, type StoredEvent } from '../store/events.js';
import { WriteConflictError } from '../errors.js';
import { EventFeed } from './events.js';

let t: TestStore;
let feed: EventFeed;
const seen: StoredEvent[] = [];

beforeAll(async () => {
  t = await startTestStore();
  feed = new EventFeed(t.store, new EventLog(t.store, { retentionSeconds: 3600 }));
  feed.start();
  feed.subscribe((e) => seen.push(e));
});
afterAll(() => t.close());

describe('the event feed', () => {
  it('makes exactly one event per committed change, none for a write that lost its condition, in log order', async () => {
    const c = await putResource(t.store, { type: 'container', baseType: 'instance', state: 'stopped', projectId: '1a9' });
    const v1 = await t.store.put({ ...c, state: 'starting' }, 0);
    await expect(t.store.put({ ...c, state: 'running' }, 0)).rejects.toBeInstanceOf(WriteConflictError);
    await t.store.put({ ...v1, state: 'running' }, 1);
    await feed.settled();
    const mine = seen.filter((e) => e.resourceId === c.id);
    expect(mine.map((e) => [e.version, e.previousState, e.resource.state])).toEqual([
      [0, null, 'stopped'],
      [1, 'stopped', 'starting'],
      [2, 'starting', 'running'],
    ]);
    expect(await feed.log.after('1a9', undefined)).toEqual(mine);
    expect(await feed.log.after('1a9', mine[0].id)).toEqual(mine.slice(1));
  });

  it("leaves out an agent's liveness stamp and the entities that are not resources of the API", async () => {
    const host = await putResource(t.store, { type: 'host', baseType: 'host', state: 'active', projectId: '1a8', fields: { agentSeenAt: 1 } });
    await t.store.put({ ...host, fields: { ...host.fields, agentSeenAt: 2 } }, 0);
    await t.store.put({ ...host, version: 1, fields: { ...host.fields, agentSeenAt: 3, hostname: 'renamed' } }, 1);
    await t.store.putConfig('someSetting', 1);
    await feed.settled();
    expect(seen.filter((e) => e.resourceId === host.id).map((e) => e.version)).toEqual([0, 2]);
  });

  it('logs each change once when stream consumers run side by side in one millisecond and batches come twice', async () => {
    // Two shard consumers (changes may come twice) with the same clock: both hand out the same first id.
    const clock = () => 1764620000000;
    const consumers = [1, 2].map(() => new EventFeed(t.store, new EventLog(t.store, { retentionSeconds: 3600, now: clock }), undefined, true));
    const a = await draftResource(t.store, { type: 'container', baseType: 'instance', state: 'running', projectId: '1a7' });
    const b = await draftResource(t.store, { type: 'container', baseType: 'instance', state: 'running', projectId: '1a7' });
    const created = (r: Resource): Change => ({ key: { pk: r.id, sk: 'R' }, kind: 'resource', oldImage: undefined, newImage: toItem(r) });
    consumers[0].consume(created(a));
    consumers[1].consume(created(b));
    await Promise.all(consumers.map((c) => c.settled()));
    // The batch of `a` comes again, to the other consumer.
    consumers[1].consume(created(a));
    await consumers[1].settled();
    const logged = await consumers[0].log.after('1a7', undefined);
    expect(logged.map((e) => e.resourceId).sort()).toEqual([a.id, b.id].sort());
    expect(new Set(logged.map((e) => e.id)).size).toBe(2);
  });
});

describe('event ids', () => {
  it('increase strictly, even within one millisecond, and carry their time', () => {
    const ids = new EventIds();
    const made = [ids.next(1000), ids.next(1000), ids.next(999), ids.next(1001)];
    expect(made).toEqual([...made].sort());
    expect(new Set(made).size).toBe(4);
    expect(eventIdTime(made[0])).toBe(1000);
    expect(eventIdTime('nope')).toBeNull();
  });
});
