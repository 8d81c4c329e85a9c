/**
 * The lifecycle ledger against the embedded DynamoDB with runs that are only recorded, so each step of an action's
 * life (begin → complete / fail, chaining, fencing) is observable (spec §3.1, D6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transitioningFields } from '../process/lifecycle.js';
import { ApiError, ConflictError } from '../errors.js';
import { checkLifecycle, machineTimeoutSeconds, WORKFLOWS, type WorkflowSpec } from '../process/workflows.js';
import { PROCESSES, type ProcessDef } from '../process/lifecycle.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { Ledger, type ActionRef, type NextRun } from './ledger.js';
import type { Runs } from './runs.js';

class RecordingRuns implements Runs {
  readonly refs: NextRun[] = [];
  async dispatch(runs: readonly NextRun[]) {
    this.refs.push(...runs);
  }
  take(): NextRun {
    const r = this.refs.shift();
    if (!r) throw new Error('no work queued');
    return r;
  }
}

let t: TestStore;
let store: Store;
let runner: RecordingRuns;
let ledger: Ledger;
let clock = 1_700_000_000_000;
const BOUNDS = { heartbeatSeconds: 60, timeoutSeconds: 900 };

/** The ledger's verbs as the service and the tasks use them: begin or complete, then dispatch the runs it returns. */
const lifecycle = {
  async begin(res: Resource, action: string, input: Record<string, unknown>, caller: string): Promise<Resource> {
    const { resource, runs } = await ledger.begin(res, action, input, caller);
    await runner.dispatch(runs);
    return resource;
  },
  async complete(ref: ActionRef, results?: Record<string, unknown>): Promise<Resource | undefined> {
    const done = await ledger.complete(ref, results);
    if (done) await runner.dispatch(done.runs);
    return done?.resource;
  },
  fail: (ref: ActionRef, message: string, state?: string) => ledger.fail(ref, { message, state }),
};

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
  store = t.store;
  runner = new RecordingRuns();
  ledger = new Ledger(store, { bounds: BOUNDS, now: () => clock, removeDelaySeconds: 60, purgedRetentionSeconds: 3600 });
});
afterAll(() => t.close());

async function instance(state: string, fields: Record<string, unknown> = {}): Promise<Resource> {
  return putResource(store, { type: 'container', baseType: 'instance', state, fields: { startCount: 0, ...fields } }, clock);
}

const reload = async (id: string) => (await store.get(id))!;

describe('Ledger', () => {
  it('begin moves to the transitioning state and records the action; complete reaches the done state', async () => {
    const c = await instance('stopped');
    const started = await lifecycle.begin(c, 'start', {}, 'admin');
    expect(started.state).toBe('starting');
    expect(started.action).toMatchObject({ name: 'start', from: 'stopped', caller: 'admin' });
    expect(transitioningFields(started)).toEqual({ transitioning: 'yes', transitioningMessage: 'In Progress', transitioningProgress: null });
    const ref = runner.take();
    expect(ref).toEqual({ id: c.id, actionId: started.action!.id, baseType: 'instance', action: 'start', workflow: 'instance-start', current: started });
    const done = await lifecycle.complete(ref);
    expect(done?.state).toBe('running');
    expect(done?.action).toBeNull();
    expect(done?.fields.startCount).toBe(1);
    expect(done?.fields.firstRunning).toBe(clock);
  });

  it('a duplicate completion has no second effect', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const ref = runner.take();
    await lifecycle.complete(ref);
    expect(await lifecycle.complete(ref)).toBeUndefined();
    const after = await reload(c.id);
    expect(after.fields.startCount).toBe(1);
    expect(after.state).toBe('running');
  });

  it('begin from a state the process does not start from is 409, and writes nothing', async () => {
    const c = await instance('running');
    await expect(lifecycle.begin(c, 'start', {}, 'admin')).rejects.toBeInstanceOf(ConflictError); // the API's 409 Conflict (core/api/errors.ts)
    const after = await reload(c.id);
    expect(after.version).toBe(c.version);
    expect(runner.refs).toHaveLength(0);
  });

  it('an unknown process is 422 InvalidAction', async () => {
    const c = await instance('running');
    const err = await lifecycle.begin(c, 'fly', {}, 'admin').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: 'InvalidAction', fieldName: 'action' });
  });

  it('begin re-checks the stored state, not the caller\'s stale copy', async () => {
    const c = await instance('running');
    await lifecycle.begin(c, 'stop', {}, 'admin');
    // `c` still says running; the stored item is stopping.
    await expect(lifecycle.begin(c, 'stop', {}, 'admin')).rejects.toBeInstanceOf(ConflictError);
    await lifecycle.complete(runner.take());
    expect((await reload(c.id)).state).toBe('stopped');
  });

  it('a later process supersedes the running one; the late completion is ignored', async () => {
    const c = await instance('stopped');
    const starting = await lifecycle.begin(c, 'start', {}, 'admin');
    const startRef = runner.take();
    const stopping = await lifecycle.begin(starting, 'stop', {}, 'admin'); // stop is allowed from starting
    expect(stopping.state).toBe('stopping');
    const stopRef = runner.take();
    expect(await lifecycle.complete(startRef)).toBeUndefined();
    expect((await reload(c.id)).state).toBe('stopping');
    expect((await lifecycle.complete(stopRef))?.state).toBe('stopped');
    expect((await reload(c.id)).fields.startCount).toBe(0);
  });

  it('create chains into start when startOnCreate, from the parent\'s transitioning state', async () => {
    const c = await instance('requested', { startOnCreate: true });
    await lifecycle.begin(c, 'create', {}, 'admin');
    const afterCreate = await lifecycle.complete(runner.take());
    expect(afterCreate?.state).toBe('starting');
    // from the parent's transitioning state (cattle), so a failed start can tell it came from create
    expect(afterCreate?.action).toMatchObject({ name: 'start', from: 'creating' });
    const ref = runner.take();
    expect(ref.actionId).toBe(afterCreate!.action!.id);
    expect((await lifecycle.complete(ref))?.state).toBe('running');

    const off = await instance('requested', { startOnCreate: false });
    await lifecycle.begin(off, 'create', {}, 'admin');
    expect((await lifecycle.complete(runner.take()))?.state).toBe('stopped');
    expect(runner.refs).toHaveLength(0);
  });

  it('stop with remove chains into remove, which sets removed and removeTime', async () => {
    const c = await instance('running');
    await lifecycle.begin(c, 'stop', { remove: true }, 'admin');
    expect((await lifecycle.complete(runner.take()))?.state).toBe('removing');
    const removed = await lifecycle.complete(runner.take());
    expect(removed?.state).toBe('removed');
    expect(removed?.fields.removed).toBe(clock);
    expect(removed?.fields.removeTime).toBe(clock + 60_000);
  });

  it('fail returns to the start state with transitioning "error"; the next process clears it', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const failed = await lifecycle.fail(runner.take(), 'Failing [compute.instance.activate]');
    expect(failed?.state).toBe('stopped');
    expect(failed?.action).toBeNull();
    expect(transitioningFields(failed!)).toEqual({
      transitioning: 'error',
      transitioningMessage: 'Failing [compute.instance.activate]',
      transitioningProgress: null,
    });
    const again = await lifecycle.begin(failed!, 'start', {}, 'admin');
    expect(transitioningFields(again).transitioning).toBe('yes');
    expect(transitioningFields(again).transitioningMessage).toBe('In Progress');
    const done = await lifecycle.complete(runner.take());
    expect(transitioningFields(done!)).toEqual({ transitioning: 'no', transitioningMessage: null, transitioningProgress: null });
  });

  it('fail can name the failure state, and a stale fail is ignored', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'error', {}, 'admin');
    const ref = runner.take();
    expect((await lifecycle.fail(ref, 'boom', 'error'))?.state).toBe('error');
    expect(await lifecycle.fail(ref, 'again')).toBeUndefined();
    expect(await lifecycle.complete(ref)).toBeUndefined();
  });

  it('purge marks the record to expire; reads treat it as gone after that', async () => {
    const c = await instance('removed', { removed: clock, removeTime: clock });
    await lifecycle.begin(c, 'purge', {}, 'admin');
    const purged = await lifecycle.complete(runner.take());
    expect(purged?.state).toBe('purged');
    expect(purged?.expiresAt).toBe(Math.floor(clock / 1000) + 3600);
    expect(await store.get(c.id)).toBeDefined();
    const saved = clock;
    clock += 3601_000;
    try {
      expect(await store.get(c.id)).toBeUndefined();
    } finally {
      clock = saved;
    }
  });
});

describe('Ledger: what the issue-7 structure promises', () => {
  it('records the agent results with the done state in one write, and only the fields an agent may set', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const before = await reload(c.id);
    const done = await lifecycle.complete(runner.take(), { externalId: 'c0ffee', primaryIpAddress: '10.0.0.9', state: 'hacked', name: 'x' });
    expect(done).toMatchObject({ state: 'running', fields: { externalId: 'c0ffee', primaryIpAddress: '10.0.0.9' } });
    expect(done?.fields.name).toBeUndefined();
    expect(done?.version).toBe(before.version + 1);
  });

  it("keeps an agent's publicEndpoints only when every entry is a well-formed endpoint, and only their fields", async () => {
    const endpoint = { ipAddress: '10.0.0.9', port: 8080, privatePort: 80, protocol: 'tcp' };
    const started = async (publicEndpoints: unknown) => {
      const c = await instance('stopped');
      await lifecycle.begin(c, 'start', {}, 'admin');
      return (await lifecycle.complete(runner.take(), { externalId: 'c0ffee', publicEndpoints }))!.fields.publicEndpoints;
    };
    expect(await started([{ ...endpoint, extra: 'dropped' }])).toEqual([endpoint]);
    for (const bad of [[{ ...endpoint, port: 0 }], [{ ...endpoint, protocol: 'sctp' }], [{ ...endpoint, ipAddress: 7 }], 'ports', [null]]) {
      expect(await started(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('a report that changes nothing a reader sees writes nothing', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const ref = runner.take();
    const first = await ledger.report(ref, { message: 'Starting on host 1h1', progress: null });
    const again = await ledger.report(ref, { message: 'Starting on host 1h1', progress: null }, first);
    expect(again?.version).toBe(first!.version);
    expect((await reload(c.id)).version).toBe(first!.version);
    const moved = await ledger.report(ref, { progress: 40 }, again);
    expect(moved?.version).toBe(first!.version + 1);
  });

  it('a report without a copy is one write fenced by the action id, and moves the host index with hostId', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const ref = runner.take();
    const placed = await ledger.report(ref, { message: 'Starting on host 1h7', fields: { hostId: '1h7', allocationState: 'active' } });
    expect(placed).toMatchObject({ transitioningMessage: 'Starting on host 1h7', fields: { hostId: '1h7', allocationState: 'active' } });
    expect(await reload(c.id)).toEqual(placed);
    const onHost = async (hostId: string) => {
      const ids: string[] = [];
      for await (const page of store.queryIndex({ index: 'byHost', partition: `H#${hostId}#instance` })) ids.push(...page.map((r) => r.id));
      return ids;
    };
    expect(await onHost('1h7')).toContain(c.id);
    await ledger.report(ref, { fields: { hostId: null } });
    expect(await onHost('1h7')).not.toContain(c.id);
    // A report for an action that is no longer current writes nothing.
    const stale = { ...ref, actionId: 'not-the-action' };
    const before = await reload(c.id);
    expect(await ledger.report(stale, { message: 'late' })).toBeUndefined();
    expect(await reload(c.id)).toEqual(before);
  });

  it.each(Object.entries(PROCESSES).flatMap(([baseType, table]) => Object.keys(table).map((action) => [baseType, action])))(
    '%s.%s: the action\'s deadline is later than its state machine can run',
    async (baseType, action) => {
      const spec = (WORKFLOWS as Record<string, WorkflowSpec>)[(PROCESSES as Record<string, Record<string, ProcessDef>>)[baseType][action].workflow ?? 'process'];
      for (const bounds of [BOUNDS, { heartbeatSeconds: 1, timeoutSeconds: 2 }, { heartbeatSeconds: 300, timeoutSeconds: 86_400 }]) {
        const l = new Ledger(store, { bounds, now: () => clock });
        expect(l.deadlineMs(baseType, action)).toBeGreaterThan(machineTimeoutSeconds(spec, bounds) * 1000);
      }
    },
  );

  it('begin stamps that deadline on the action', async () => {
    const c = await instance('running');
    const { resource } = await ledger.begin(c, 'migrate', {}, 'admin');
    runner.refs.length = 0;
    expect(resource.action!.deadline! - resource.action!.at).toBe(ledger.deadlineMs('instance', 'migrate'));
    expect(resource.action!.deadline! - resource.action!.at).toBeGreaterThan(machineTimeoutSeconds(WORKFLOWS['instance-migrate'], BOUNDS) * 1000);
  });

  it('a typo in a workflow, chain or link name fails when the lifecycle is checked, not on the first action', () => {
    const broken = (patch: Partial<ProcessDef>) => ({ ...PROCESSES, instance: { ...PROCESSES.instance, stop: { ...PROCESSES.instance.stop, ...patch } } });
    expect(() => checkLifecycle(PROCESSES, WORKFLOWS)).not.toThrow();
    expect(() => checkLifecycle(broken({ workflow: 'instance-stpo' }), WORKFLOWS)).toThrow(/unknown workflow instance-stpo/);
    expect(() => checkLifecycle(broken({ chain: { next: 'remvoe' } }), WORKFLOWS)).toThrow(/unknown process remvoe/);
    expect(() => checkLifecycle(broken({ chain: { next: 'purge' } }), WORKFLOWS)).toThrow(/cannot start from stopped/);
    expect(() => checkLifecycle(broken({ links: [{ action: 'activte' }] }), WORKFLOWS)).toThrow(/unknown link process activte/);
  });

  it('an unknown action is refused before any write, as 422 InvalidAction', async () => {
    const c = await instance('running');
    await expect(ledger.begin(c, 'constructor', {}, 'admin')).rejects.toBeInstanceOf(ApiError);
    expect((await reload(c.id)).version).toBe(c.version);
  });
});

describe('Ledger.create', () => {
  it('stores a new resource already under its create action, in one write, and returns the run that creates it', async () => {
    const fresh: Resource = {
      id: '1i900001', num: 900001, type: 'container', baseType: 'instance', projectId: '1a1', state: 'requested',
      version: 0, created: clock, updated: clock, fields: { startCount: 0 },
    };
    const { resource, runs } = await ledger.create(fresh, 'admin');
    expect(resource).toMatchObject({ state: 'creating', version: 0, action: { name: 'create', from: 'requested', caller: 'admin' } });
    expect(await reload(fresh.id)).toEqual(resource);
    expect(runs).toEqual([{ id: fresh.id, actionId: resource.action!.id, baseType: 'instance', action: 'create', workflow: 'process', current: resource }]);
    // Finishing it chains into start from `creating`, as a begun create does.
    const done = await ledger.complete(runs[0], {}, runs[0].current);
    expect(done?.resource).toMatchObject({ state: 'starting', action: { name: 'start', from: 'creating' } });
    await expect(ledger.create(fresh, 'admin')).rejects.toThrow();
  });
});

describe('Ledger: deadlines', () => {
  it('markDue makes the action due now; redrive counts and extends it afresh; neither touches another action', async () => {
    const c = await instance('stopped');
    await lifecycle.begin(c, 'start', {}, 'admin');
    const ref = runner.take();
    expect((await ledger.markDue(ref))?.action?.deadline).toBe(clock);
    const run = await ledger.redrive(ref);
    expect(run).toMatchObject({ id: c.id, actionId: ref.actionId, workflow: 'instance-start' });
    expect((await reload(c.id)).action).toMatchObject({ redrives: 1, deadline: clock + ledger.deadlineMs('instance', 'start') });
    const stale = { ...ref, actionId: 'another' };
    expect(await ledger.markDue(stale)).toBeUndefined();
    expect(await ledger.redrive(stale)).toBeUndefined();
    expect((await reload(c.id)).action?.redrives).toBe(1);
  });
});
