/**
 * Durable recovery against a real store (dynalite): a recorded attempt waits in the `RD#` partitions of
 * `byDeadline` until due, `runDue` begins it exactly once however many processes run it, clears a recovery the
 * instance no longer needs, and the sweeper and the reconciler take no notice of the new index entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { Reconciler } from '../workflows/reconciler.js';
import { Sweeper } from '../workflows/sweeper.js';
import type { StepFunctions } from '../workflows/types.js';
import { InstanceHealth, type RecoveryRecord } from './health.js';
import { Ledger, type NextRun } from './ledger.js';
import type { Runs } from './runs.js';

const OPTIONS = { backoffMs: 1000, backoffCapMs: 60_000, maxRetries: 5, windowSeconds: 600 };

let t: TestStore;
let clock = 1_800_000_000_000;

/** One process's recovery over its own store client: its ledger, and the runs it dispatched (held, not run). */
function processOver(store: Store) {
  const ledger = new Ledger(store, { bounds: { heartbeatSeconds: 1, timeoutSeconds: 2 }, now: () => clock });
  const dispatched: NextRun[] = [];
  const runs: Runs = { dispatch: async (r) => void dispatched.push(...r) };
  const health = new InstanceHealth({ store, ledger, runs, options: OPTIONS, now: () => clock, log: (e) => { throw e; } });
  return { ledger, dispatched, health };
}

/** An instance in `state` whose recovery (`action`, due in `inMs`) was recorded. */
function pending(state: string, action: 'start' | 'restart', inMs: number): Promise<Resource> {
  const recovery: RecoveryRecord = { attempts: 1, firstAt: clock, lastAt: clock, nextAt: clock + inMs, action };
  const exit = { code: 1, at: clock - 1 };
  return putResource(t.store, { type: 'container', baseType: 'instance', state, fields: { restartPolicy: { name: 'always' }, exit, recovery } }, clock);
}

const ids = async (partition: (shard: number) => string, now: number | undefined) => {
  const out: string[] = [];
  for await (const page of t.store.dueByDeadline(partition, now)) out.push(...page.map((r) => r.id));
  return out;
};

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
});
afterAll(() => t.close());

describe('InstanceHealth.runDue', () => {
  it('begins a recovery once it is due, exactly once when two processes run it together', async () => {
    const a = processOver(t.store);
    const b = processOver(t.another({ now: () => clock }));
    const res = await pending('stopped', 'start', 5000);
    expect(await ids(partitions.recoveryDue, undefined)).toContain(res.id);

    expect(await a.health.runDue()).toEqual([]);
    clock += 5000;
    const [byA, byB] = await Promise.all([a.health.runDue(), b.health.runDue()]);
    expect([...byA, ...byB]).toEqual([res.id]);
    expect([...a.dispatched, ...b.dispatched].map((r) => [r.id, r.action])).toEqual([[res.id, 'start']]);

    // The write that began the start cleared the due time: the record keeps the count, and nothing is due any more.
    const started = (await t.store.get(res.id))!;
    expect([started.state, started.action?.name, started.action?.caller]).toEqual(['starting', 'start', 'system']);
    const { nextAt: _n, action: _a, ...kept } = res.fields.recovery as RecoveryRecord;
    expect(started.fields.recovery).toEqual(kept);
    await a.ledger.complete({ id: res.id, actionId: started.action!.id });
    expect(await ids(partitions.recoveryDue, undefined)).not.toContain(res.id);
    expect(await a.health.runDue()).toEqual([]);
  });

  it('clears a recovery whose instance left the state it was recorded for, and begins nothing', async () => {
    const { health, dispatched } = processOver(t.store);
    // A health recreate was due for a running instance, but someone stopped it meanwhile.
    const res = await pending('stopped', 'restart', 0);
    expect(await health.runDue()).toEqual([]);
    expect(dispatched).toEqual([]);
    const after = (await t.store.get(res.id))!;
    expect([after.state, after.action ?? null, (after.fields.recovery as RecoveryRecord).nextAt]).toEqual(['stopped', null, undefined]);
    expect(await ids(partitions.recoveryDue, undefined)).not.toContain(res.id);
  });

  it('is invisible to the sweeper and the reconciler', async () => {
    const res = await pending('stopped', 'start', 0);
    // A stand-in engine that only records: the sweeper must find nothing to ask it about.
    const calls: string[] = [];
    const workflows = new Proxy({}, { get: (_, name) => async () => void calls.push(String(name)) }) as StepFunctions;
    const { ledger, dispatched } = processOver(t.store);
    const runs: Runs = { dispatch: async (r) => void dispatched.push(...r) };
    const sweeper = new Sweeper({ store: t.store, ledger, workflows, runs, now: () => clock });
    expect(await ids(partitions.byDeadline, undefined)).not.toContain(res.id);
    expect(await sweeper.sweep()).toEqual({ checked: 0, redriven: [], failed: [], purged: [], oldestOverdueSeconds: 0 });
    const survey = await new Reconciler({ store: t.store, ledger, runs, sweeper, now: () => clock }).survey({ quiescent: true });
    expect(survey.work.map((r) => r.id)).not.toContain(res.id);
    expect([calls, dispatched]).toEqual([[], []]);
  });
});
