/**
 * The reconciler against a real store (dynalite), one fresh table per case: each duty (open actions the index lost,
 * interrupted creates, host allocations, due purges), and the rules that keep a periodic pass from racing live
 * work. The workflow engine is the scripted stand-in of sweeper.test.ts: the sweeper's own decisions are tested
 * there, here only that the reconciler hands it the right resources.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, SYSTEM_CALLER, type NextRun } from '../domain/ledger.js';
import type { Runs } from '../domain/runs.js';
import { Scheduler } from '../domain/scheduler.js';
import { toItem, type Resource } from '../store/item.js';
import { INDEXES } from '../store/table.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { Reconciler } from './reconciler.js';
import { Sweeper } from './sweeper.js';
import type { ExecutionInput, ExecutionStatus, StepFunctions } from './types.js';

class ScriptedEngine implements StepFunctions {
  status = new Map<string, ExecutionStatus>();
  started: ExecutionInput[] = [];
  async start(_w: string, input: ExecutionInput) {
    this.started.push(input);
  }
  async describe(_w: string, actionId: string) {
    return this.status.get(actionId) ?? 'NOT_FOUND';
  }
  async stop() {}
  async sendTaskSuccess() {}
  async sendTaskFailure() {}
  async sendTaskHeartbeat() {}
}

/** Leaves every started process open, as a workflow in progress would, and remembers what it was given. */
class HoldRunner implements Runs {
  runs: NextRun[] = [];
  async dispatch(runs: readonly NextRun[]) {
    this.runs.push(...runs);
  }
}

const GRACE = 120_000;
let clock: number;
let t: TestStore;
let store: Store;
let runner: HoldRunner;
let ledger: Ledger;
let wf: ScriptedEngine;
let reconciler: Reconciler;
const logged: string[] = [];

beforeEach(async () => {
  clock = 1_800_000_000_000;
  t = await startTestStore({ now: () => clock });
  store = t.store;
  runner = new HoldRunner();
  ledger = new Ledger(store, { bounds: { heartbeatSeconds: 1, timeoutSeconds: 2 }, now: () => clock });
  wf = new ScriptedEngine();
  const sweeper = new Sweeper({ store, ledger, runs: runner, workflows: wf, now: () => clock });
  reconciler = new Reconciler({ store, ledger, runs: runner, sweeper, graceMs: GRACE, now: () => clock, log: (m) => logged.push(m) });
});
afterEach(() => t.close());

/** Begins an action, its run held as a workflow in progress would be. */
async function begin(res: Resource, action: string, input: Record<string, unknown>, caller: string): Promise<Resource> {
  const { resource, runs } = await ledger.begin(res, action, input, caller);
  await runner.dispatch(runs);
  return resource;
}

/** Writes the item as a lost index write leaves it: the resource as it is, but without its `byDeadline` entry. */
async function withoutDeadlineEntry(res: Resource): Promise<void> {
  const item = toItem(res);
  delete item[INDEXES.byDeadline.pk];
  delete item[INDEXES.byDeadline.sk];
  await store.doc.send(new PutCommand({ TableName: store.tableName, Item: item }));
}

const host = (projectId: string, allocated: { vcpu: number; memoryMb: number }, fields: Record<string, unknown> = {}) =>
  putResource(
    store,
    {
      type: 'host',
      baseType: 'host',
      state: 'active',
      projectId,
      fields: { vcpu: 64, memoryMb: 65_536, allocatedVcpu: allocated.vcpu, allocatedMemoryMb: allocated.memoryMb, ...fields },
    },
    clock,
  );

const vm = (projectId: string, state: string, fields: Record<string, unknown>) =>
  putResource(store, { type: 'virtualMachine', baseType: 'instance', state, projectId, fields: { vcpu: 2, memoryMb: 1024, ...fields } }, clock);

const allocatedOn = async (id: string) => {
  const h = (await store.get(id))!;
  return { vcpu: h.fields.allocatedVcpu, memoryMb: h.fields.allocatedMemoryMb };
};

describe('Reconciler', () => {
  it('hands an open action the index lost to the sweeper, which re-drives it under the same name', async () => {
    const stopped = await vm('1a1', 'stopped', {});
    const starting = await begin(stopped, 'start', {}, 'admin');
    await withoutDeadlineEntry(starting);
    clock += 3_600_000; // long past its deadline: a sweep would have found it, had the index held it
    expect((await new Sweeper({ store, ledger, runs: runner, workflows: wf, now: () => clock }).sweep()).checked).toBe(0);

    const report = await reconciler.reconcile();
    expect(report).toMatchObject({ checked: 1, redriven: [starting.id], failed: [], errors: [] });
    expect(wf.started).toEqual([{ id: starting.id, actionId: starting.action!.id, workflow: 'instance-start' }]);
  });

  it('at start-up resolves every open action at once; a periodic pass leaves young ones to their workflows', async () => {
    const starting = await begin(await vm('1a1', 'stopped', {}), 'start', {}, 'admin');
    expect((await reconciler.reconcile()).checked).toBe(0);
    const survey = await reconciler.survey({ quiescent: true });
    expect(survey.work.map((r) => r.id)).toEqual([starting.id]);
    expect((await reconciler.drive(survey)).redriven).toEqual([starting.id]);
  });

  it('creates what an interrupted create left in requested, generically from the process table (instances and links)', async () => {
    const instance = await putResource(store, { type: 'container', baseType: 'instance', state: 'requested' }, clock);
    const link = await putResource(store, { type: 'instanceLink', baseType: 'instanceLink', state: 'requested', fields: { instanceId: instance.id } }, clock);
    // A periodic pass does not race a create still in flight.
    expect((await reconciler.reconcile()).created).toEqual([]);
    clock += GRACE;
    const report = await reconciler.reconcile();
    expect(report.created.sort()).toEqual([instance.id, link.id].sort());
    const created = (await store.get(instance.id))!;
    expect([created.state, created.action!.name, created.action!.caller]).toEqual(['creating', 'create', SYSTEM_CALLER]);
    expect((await store.get(link.id))!.state).toBe('registering');
    expect(runner.runs.map((r) => r.action)).toEqual(['create', 'create']);
    // Once under way it is the workflow's (and the sweeper's) business.
    expect((await reconciler.reconcile()).created).toEqual([]);
  });

  it('sets host allocations to what the instances charged on them need (start-up, exact)', async () => {
    const h1 = await host('1a1', { vcpu: 15, memoryMb: 4992 });
    const h2 = await host('1a1', { vcpu: 0, memoryMb: 0 });
    const h3 = await host('1a1', { vcpu: 2, memoryMb: 1024 });
    await vm('1a1', 'running', { hostId: h1.id, allocationState: 'active' });
    // Stopped keeps its charge; deallocating still holds it; a migrate holds its target too.
    await vm('1a1', 'stopped', { hostId: h1.id, allocationState: 'active', vcpu: 4, memoryMb: 2048 });
    await putResource(store, { type: 'container', baseType: 'instance', state: 'purging', projectId: '1a1', fields: { hostId: h1.id, allocationState: 'deactivating', memory: 512 * 1048576 } }, clock);
    await vm('1a1', 'migrating', { hostId: h1.id, allocationState: 'active', migrationTargetHostId: h2.id, vcpu: 1, memoryMb: 512 });
    // No charge: allocation given back, or never taken (a crash between charging and recording leaves just this).
    await vm('1a1', 'removed', { hostId: null, allocationState: 'inactive' });
    await vm('1a1', 'starting', { hostId: null, allocationState: 'inactive' });

    const survey = await reconciler.survey({ quiescent: true });
    const report = await reconciler.correctAllocations(survey);
    expect(report.correctedHosts.sort()).toEqual([h1.id, h2.id, h3.id]);
    expect(report.skippedHosts).toEqual([]);
    expect(await allocatedOn(h1.id)).toEqual({ vcpu: 2 + 4 + 1, memoryMb: 1024 + 2048 + 512 + 512 });
    expect(await allocatedOn(h2.id)).toEqual({ vcpu: 1, memoryMb: 512 });
    expect(await allocatedOn(h3.id)).toEqual({ vcpu: 0, memoryMb: 0 });
    expect(logged).toContain(`host ${h1.id} was charged 15 vcpu, 4992 MB; its instances hold 7 vcpu, 4096 MB: corrected`);
    // Right hosts are not written.
    expect((await reconciler.correctAllocations(await reconciler.survey({ quiescent: true }))).correctedHosts).toEqual([]);
  });

  it('periodically, leaves the hosts of a project alone while any of its instances has an open action or changed lately', async () => {
    // A start in flight: the host is charged, the instance not yet pointed at it (the allocate step's two writes).
    const busy = await host('1a2', { vcpu: 2, memoryMb: 1024 });
    await begin(await vm('1a2', 'stopped', {}), 'start', {}, 'admin');
    // Another project, quiet for longer than the grace, with a stray charge.
    const quiet = await host('1a3', { vcpu: 9, memoryMb: 9 });
    clock += GRACE;
    // ... and a third whose instance just changed (a superseded task may still give back a charge).
    const recent = await host('1a4', { vcpu: 1, memoryMb: 1 });
    await vm('1a4', 'stopped', {});

    const report = await reconciler.reconcile();
    expect(report.correctedHosts).toEqual([quiet.id]);
    expect(report.skippedHosts.sort()).toEqual([busy.id, recent.id].sort());
    expect(await allocatedOn(busy.id)).toEqual({ vcpu: 2, memoryMb: 1024 });
    expect(await allocatedOn(recent.id)).toEqual({ vcpu: 1, memoryMb: 1 });
    expect(await allocatedOn(quiet.id)).toEqual({ vcpu: 0, memoryMb: 0 });
  });

  it('does not write over a charge or release made after it read the host; a liveness stamp does not stop it', async () => {
    const h = await host('1a1', { vcpu: 6, memoryMb: 6 });
    clock += GRACE;
    let survey = await reconciler.survey();
    // A start charges the host between the survey's host read and its write.
    const scheduler = new Scheduler(store, { now: () => clock });
    await store.updateFields(h.id, { set: { agentSeenAt: clock } });
    await scheduler.allocate(await vm('1a1', 'stopped', {}));
    expect(await reconciler.correctAllocations(survey)).toEqual({ correctedHosts: [], skippedHosts: [h.id] });
    expect(await allocatedOn(h.id)).toEqual({ vcpu: 8, memoryMb: 1030 });

    // An agent's liveness stamp bumps the host's version but moves no charge: the correction still lands.
    clock += GRACE;
    survey = await reconciler.survey();
    await store.updateFields(h.id, { set: { agentSeenAt: clock } });
    expect(await reconciler.correctAllocations(survey)).toEqual({ correctedHosts: [h.id], skippedHosts: [] });
    expect(await allocatedOn(h.id)).toEqual({ vcpu: 0, memoryMb: 0 });
  });

  it('purges a removed instance past its removeTime that the index does not list', async () => {
    const removed = await vm('1a1', 'removed', { removed: clock, removeTime: clock + 60_000, hostId: null });
    await withoutDeadlineEntry(removed);
    expect((await reconciler.reconcile()).purged).toEqual([]);
    clock += 60_000;
    const report = await reconciler.reconcile();
    expect(report.purged).toEqual([removed.id]);
    expect((await store.get(removed.id))!.state).toBe('purging');
  });

  it('reports work that throws and carries on with the rest', async () => {
    const a = await begin(await vm('1a1', 'stopped', {}), 'start', {}, 'admin');
    const b = await begin(await vm('1a1', 'stopped', {}), 'start', {}, 'admin');
    wf.start = async (_w, input) => {
      if (input.id === a.id) throw new Error('StartExecution refused');
      wf.started.push(input);
    };
    const report = await reconciler.drive(await reconciler.survey({ quiescent: true }));
    expect(report.errors).toEqual([`${a.id}: StartExecution refused`]);
    expect(report.redriven).toEqual([b.id]);
  });
});
