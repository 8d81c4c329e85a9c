/**
 * The sweeper's decisions against a real store (dynalite): what it does with an open action depends on what the
 * workflow engine reports, so the engine here is a scripted stand-in whose answers each case sets (the real
 * engines' reporting is tested in local-engine.test.ts and sfn-engine.test.ts). Due purges of removed instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessEngine, SYSTEM_CALLER, type ProcessRunner } from '../domain/engine.js';
import type { Resource } from '../store/resource.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { emptySweepReport, Sweeper, sweptStep } from './sweeper.js';
import type { ExecutionInput, ExecutionStatus, WorkflowEngine } from './types.js';

class ScriptedEngine implements WorkflowEngine {
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
const holdRunner: ProcessRunner = { run: async () => undefined, deadlineMs: () => 60_000 };

let t: TestStore;
let store: Store;
let engine: ProcessEngine;
let clock = 1_800_000_000_000;

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
  store = t.store;
  engine = new ProcessEngine(store, holdRunner, { now: () => clock });
});
afterAll(() => t.close());

async function startingContainer(): Promise<Resource> {
  const res = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
  return engine.begin(res, 'start', {}, 'admin');
}

describe('Sweeper', () => {
  it('leaves actions before their deadline alone, then re-drives a missing execution under the same name', async () => {
    const wf = new ScriptedEngine();
    const sweeper = new Sweeper({ engine, workflows: wf, now: () => clock, redriveDeadlineMs: () => 60_000 });
    const c = await startingContainer();
    expect((await sweeper.sweep()).checked).toBe(0);
    clock += 61_000;
    const report = await sweeper.sweep();
    expect(report.redriven).toContain(c.id);
    expect(wf.started).toContainEqual({ id: c.id, actionId: c.action!.id, workflow: 'instance-start' });
    const after = await store.get(c.id);
    expect([after!.state, after!.action!.redrives]).toEqual(['starting', 1]);
    expect(after!.action!.deadline).toBe(clock + 60_000);
  });

  it('gives up after three re-drives and fails the action cleanly', async () => {
    const wf = new ScriptedEngine();
    const sweeper = new Sweeper({ engine, workflows: wf, now: () => clock, maxRedrives: 3 });
    const c = await startingContainer();
    for (let i = 0; i < 3; i++) {
      clock += 61_000;
      expect((await sweeper.sweep()).redriven).toContain(c.id);
    }
    clock += 61_000;
    expect((await sweeper.sweep()).failed).toContain(c.id);
    const after = await store.get(c.id);
    // A start from stopped fails back to stopped (instance-start's failure state), with the reason.
    expect([after!.state, after!.transitioningError, after!.action]).toEqual(['stopped', 'error', null]);
    expect(after!.transitioningMessage).toMatch(/abandoned/);
  });

  it('stops an overdue running execution and fails it; fails one that ended without finishing', async () => {
    const wf = new ScriptedEngine();
    const sweeper = new Sweeper({ engine, workflows: wf, now: () => clock });
    const running = await startingContainer();
    const ended = await startingContainer();
    wf.status.set(running.action!.id, 'RUNNING');
    wf.status.set(ended.action!.id, 'FAILED');
    // Resolving every open action (as the reconciler does at start-up): a running one inside its deadline is left alone.
    const first = emptySweepReport();
    for (const res of [running, ended]) await sweeper.resolve(res, first);
    expect(first).toEqual({ checked: 2, redriven: [], failed: [ended.id], purged: [] });
    expect((await store.get(running.id))!.state).toBe('starting');
    clock += 61_000;
    expect((await sweeper.sweep()).failed).toContain(running.id);
    expect(wf.stopped).toContain(running.action!.id);
    expect((await store.get(running.id))!.transitioningMessage).toMatch(/did not finish in time/);
  });

  it('fails by the last step\'s rule (a stuck migrate may already have left its host), through the fail hook when given', async () => {
    expect([sweptStep('instance-migrate'), sweptStep('instance-start'), sweptStep('process')]).toEqual(['ActivateOnTarget', 'Activate', 'Complete']);
    const running = await putResource(store, { type: 'container', baseType: 'instance', state: 'running' }, clock);
    const migrating = await engine.begin(running, 'migrate', {}, 'admin');
    const wf = new ScriptedEngine();
    wf.status.set(migrating.action!.id, 'ABORTED');
    const calls: [string, string, string][] = [];
    const hooked = new Sweeper({
      engine, workflows: wf, now: () => clock,
      fail: async (res, workflow, message) => (calls.push([res.id, workflow, message]), true),
    });
    const report = emptySweepReport();
    await hooked.resolve(migrating, report);
    expect(report.failed).toEqual([running.id]);
    expect(calls).toContainEqual([running.id, 'instance-migrate', "'migrate' was abandoned: its workflow ended (ABORTED)"]);
    // Without a hook the engine fails it directly, to the last step's state.
    await new Sweeper({ engine, workflows: wf, now: () => clock }).resolve(migrating, emptySweepReport());
    const after = await store.get(running.id);
    expect([after!.state, after!.transitioningError]).toEqual(['error', 'error']);
  });

  it('purges a removed instance once its removeTime has passed, through the purge process, and only once', async () => {
    const wf = new ScriptedEngine();
    const sweeper = new Sweeper({ engine, workflows: wf, now: () => clock });
    const stopped = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
    const removing = await engine.begin(stopped, 'remove', {}, 'admin');
    const removed = (await engine.complete({ id: removing.id, actionId: removing.action!.id }))!;
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
    const sweeper = new Sweeper({ engine, workflows: new ScriptedEngine(), now: () => clock });
    const stopped = await putResource(store, { type: 'container', baseType: 'instance', state: 'stopped' }, clock);
    const removing = await engine.begin(stopped, 'remove', {}, 'admin');
    const removed = (await engine.complete({ id: removing.id, actionId: removing.action!.id }))!;
    const restoring = await engine.begin(removed, 'restore', {}, 'admin');
    await engine.complete({ id: restoring.id, actionId: restoring.action!.id });
    clock += 61_000;
    const report = emptySweepReport();
    await sweeper.purge(removed, report);
    expect(report.purged).toEqual([]);
    expect((await store.get(removed.id))!.state).toBe('stopped');
  });
});
