/**
 * The sweeper's decisions against a real store (dynalite): what it does with an open action depends on what the
 * workflow engine reports, so the engine here is a scripted stand-in whose answers each case sets (the real
 * engines' reporting is tested in embedded-step-functions.test.ts and aws-step-functions.test.ts). Due purges of removed instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, SYSTEM_CALLER, type ActionRef } from '../domain/ledger.js';
import type { Runs } from '../domain/runs.js';
import { failStateOf } from '../process/workflows.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { emptySweepReport, Sweeper, SWEEP_METRIC, sweepLogLine, type SweeperOptions } from './sweeper.js';
import type { ExecutionInput, ExecutionStatus, StepFunctions } from './types.js';

class ScriptedEngine implements StepFunctions {
  status = new Map<string, ExecutionStatus>();
  started: ExecutionInput[] = [];
  stopped: string[] = [];
  async start(_w: string, input: ExecutionInput) {
    this.started.push(input);
  }
  async describe(_w: string, actionId: string) {
    return this.status.get(actionId) ?? 'NOT_FOUND';
  }
  async stop(_w: string, actionId: string) {
    this.stopped.push(actionId);
  }
  async sendTaskSuccess() {}
  async sendTaskFailure() {}
  async sendTaskHeartbeat() {}
}

/** Leaves every started process open, as a workflow in progress would. */
const hold: Runs = { dispatch: async () => undefined };

let t: TestStore;
let store: Store;
let ledger: Ledger;
/** Capacity given back through the ledger (a failed migrate's reserved target). */
const released: [string, string][] = [];
let clock = 1_800_000_000_000;
/** An instance-start's deadline: past it the sweeper looks at the action. */
let DEADLINE: number;

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
  store = t.store;
  const capacity = { release: async (hostId: string, res: Resource) => void released.push([hostId, res.id]) };
  ledger = new Ledger(store, { bounds: { heartbeatSeconds: 1, timeoutSeconds: 2 }, capacity, now: () => clock });
  DEADLINE = ledger.deadlineMs('instance', 'start');
});
afterAll(() => t.close());

/** The ledger's begin and complete, their runs held. */
const lifecycle = {
  begin: async (res: Resource, action: string, input: Record<string, unknown>, caller: string) => (await ledger.begin(res, action, input, caller)).resource,
  complete: async (ref: ActionRef) => (await ledger.complete(ref))?.resource,
};

const sweeperWith = (o: Pick<SweeperOptions, 'workflows'> & Partial<SweeperOptions>) =>
  new Sweeper({ store, ledger, runs: hold, now: () => clock, ...o });

async function startingContainer(): Promise<Resource> {
  const res = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
  return lifecycle.begin(res, 'start', {}, 'admin');
}

describe('Sweeper', () => {
  it('leaves actions before their deadline alone, then re-drives a missing execution under the same name', async () => {
    const wf = new ScriptedEngine();
    const sweeper = sweeperWith({ workflows: wf });
    const c = await startingContainer();
    expect(await sweeper.sweep()).toMatchObject({ checked: 0, oldestOverdueSeconds: 0 });
    clock += DEADLINE + 1_000;
    const report = await sweeper.sweep();
    expect(report.redriven).toContain(c.id);
    // It found the action one second past its deadline (and re-drove it: the next pass finds nothing overdue).
    expect(report.oldestOverdueSeconds).toBe(1);
    expect((await sweeper.sweep()).oldestOverdueSeconds).toBe(0);
    expect(wf.started).toContainEqual({ id: c.id, actionId: c.action!.id, workflow: 'instance-start' });
    const after = await store.get(c.id);
    expect([after!.state, after!.action!.redrives]).toEqual(['starting', 1]);
    expect(after!.action!.deadline).toBe(clock + DEADLINE);
  });

  it('gives up after three re-drives and fails the action cleanly', async () => {
    const wf = new ScriptedEngine();
    const sweeper = sweeperWith({ workflows: wf, maxRedrives: 3 });
    const c = await startingContainer();
    for (let i = 0; i < 3; i++) {
      clock += DEADLINE + 1_000;
      expect((await sweeper.sweep()).redriven).toContain(c.id);
    }
    clock += DEADLINE + 1_000;
    expect((await sweeper.sweep()).failed).toContain(c.id);
    const after = await store.get(c.id);
    // A start from stopped fails back to stopped (instance-start's failure state), with the reason.
    expect([after!.state, after!.transitioningError, after!.action]).toEqual(['stopped', 'error', null]);
    expect(after!.transitioningMessage).toMatch(/abandoned/);
  });

  it('stops an overdue running execution and fails it; fails one that ended without finishing', async () => {
    const wf = new ScriptedEngine();
    const sweeper = sweeperWith({ workflows: wf });
    const running = await startingContainer();
    const ended = await startingContainer();
    wf.status.set(running.action!.id, 'RUNNING');
    wf.status.set(ended.action!.id, 'FAILED');
    // Resolving every open action (as the reconciler does at start-up): a running one inside its deadline is left alone.
    const first = emptySweepReport();
    for (const res of [running, ended]) await sweeper.resolve(res, first);
    expect(first).toEqual({ checked: 2, redriven: [], failed: [ended.id], purged: [] });
    expect((await store.get(running.id))!.state).toBe('starting');
    clock += DEADLINE + 1_000;
    expect((await sweeper.sweep()).failed).toContain(running.id);
    expect(wf.stopped).toContain(running.action!.id);
    expect((await store.get(running.id))!.transitioningMessage).toMatch(/did not finish in time/);
  });

  it('fails by the last step\'s rule (a stuck migrate may already have left its host), and gives back a reserved target', async () => {
    expect([failStateOf('instance-migrate', undefined, 'running'), failStateOf('instance-start', undefined, 'creating'), failStateOf('process', undefined, 'inactive')]).toEqual(['error', 'error', 'inactive']);
    const running = await putResource(store, { type: 'container', baseType: 'instance', state: 'running', fields: { hostId: '1h1' } }, clock);
    const migrating = await lifecycle.begin(running, 'migrate', {}, 'admin');
    const reserved = await ledger.report({ id: running.id, actionId: migrating.action!.id }, { fields: { migrationTargetHostId: '1h2' } });
    const wf = new ScriptedEngine();
    wf.status.set(migrating.action!.id, 'ABORTED');
    const report = emptySweepReport();
    await sweeperWith({ workflows: wf }).resolve(reserved!, report);
    expect(report.failed).toEqual([running.id]);
    const after = await store.get(running.id);
    expect([after!.state, after!.transitioningError, after!.transitioningMessage]).toEqual([
      'error',
      'error',
      "'migrate' was abandoned: its workflow ended (ABORTED)",
    ]);
    expect(after!.fields.migrationTargetHostId).toBeNull();
    expect(released).toEqual([['1h2', running.id]]);
    // A second sweep of the same stale copy changes nothing and gives nothing back twice.
    await sweeperWith({ workflows: wf }).resolve(reserved!, emptySweepReport());
    expect(released).toHaveLength(1);
  });

  it('purges a removed instance once its removeTime has passed, through the purge process, and only once', async () => {
    const wf = new ScriptedEngine();
    const sweeper = sweeperWith({ workflows: wf });
    const stopped = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
    const removing = await lifecycle.begin(stopped, 'remove', {}, 'admin');
    const removed = (await lifecycle.complete({ id: removing.id, actionId: removing.action!.id }))!;
    expect([removed.state, removed.fields.removeTime]).toEqual(['removed', clock + 60_000]);

    clock += 59_000;
    expect((await sweeper.sweep()).purged).not.toContain(removed.id);
    clock += 1_000;
    expect((await sweeper.sweep()).purged).toEqual([removed.id]);
    const purging = await store.get(removed.id);
    expect([purging!.state, purging!.action!.name, purging!.action!.caller]).toEqual(['purging', 'purge', SYSTEM_CALLER]);
    // Under its purge action it waits for that action's deadline, not for its removeTime again.
    expect((await sweeper.sweep()).purged).toEqual([]);
  });

  it('leaves alone a removed instance restored since the copy it was handed was read', async () => {
    const sweeper = sweeperWith({ workflows: new ScriptedEngine() });
    const stopped = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
    const removing = await lifecycle.begin(stopped, 'remove', {}, 'admin');
    const removed = (await lifecycle.complete({ id: removing.id, actionId: removing.action!.id }))!;
    const restoring = await lifecycle.begin(removed, 'restore', {}, 'admin');
    await lifecycle.complete({ id: restoring.id, actionId: restoring.action!.id });
    clock += 61_000;
    const report = emptySweepReport();
    await sweeper.purge(removed, report);
    expect(report.purged).toEqual([]);
    expect((await store.get(removed.id))!.state).toBe('stopped');
  });

  it("logs its report with the oldest overdue age as a CloudWatch metric of the stage (Embedded Metric Format)", () => {
    const report = { checked: 2, redriven: [], failed: ['1i5'], purged: [], oldestOverdueSeconds: 75 };
    const line = sweepLogLine(report, { stage: 'prod', now: 1_700_000_000_000 });
    // What CloudWatch Logs reads: the envelope names the namespace, the dimension and the metric, each found at the top level.
    expect(line._aws).toEqual({
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [{ Namespace: 'Drover', Dimensions: [['Stage']], Metrics: [{ Name: 'OldestOverdueActionSeconds', Unit: 'Seconds' }] }],
    });
    expect(line).toMatchObject({ Stage: 'prod', OldestOverdueActionSeconds: 75, message: 'sweep', ...report });
    expect(SWEEP_METRIC).toEqual({ namespace: 'Drover', name: 'OldestOverdueActionSeconds', dimension: 'Stage' });
  });
});
