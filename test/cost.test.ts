/**
 * The cost model (`bench/cost.ts`, `npm run cost`): the section of docs/deploy.md is what the script renders from the
 * recorded counts (so the docs match the code), transitions follow the generated state machines, every workflow is
 * covered, and a fresh measurement on the embedded stack has the recorded shape. DynamoDB figures of a fresh run are
 * checked for structure, not equality: an agent's long-poll expiring inside a window adds a few requests.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS } from '../core/process/workflows.js';
import { allDefinitions, LOCAL_TASKS_FUNCTION_ARN } from '../core/workflows/asl.js';
import {
  ACTION_KINDS,
  DEPLOY_DOC,
  MEASURED_FILE,
  actionCost,
  idleCost,
  itemSize,
  measure,
  renderModel,
  sectionOf,
  successPath,
  workflowCounts,
  writeUnits,
  type Measured,
} from '../bench/cost.js';

const recorded = (): Measured => JSON.parse(readFileSync(MEASURED_FILE, 'utf8'));

describe('the cost model in docs/deploy.md', () => {
  it('is what the script renders from the recorded counts', () => {
    expect(sectionOf(readFileSync(DEPLOY_DOC, 'utf8'))).toBe(renderModel(recorded()));
  });

  it('covers every workflow, in the recorded counts and in the action kinds', () => {
    const covered = new Set(ACTION_KINDS.flatMap((k) => k.workflows));
    expect([...covered].sort()).toEqual(Object.keys(WORKFLOWS).sort());
    expect(recorded().actions.map((a) => a.kind)).toEqual(ACTION_KINDS.map((k) => k.kind));
  });

  it('counts the transitions of a start as the states its definition enters, derived here independently', () => {
    const def = allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 60, timeoutSeconds: 900 })['instance-start'];
    // Walk the definition: each step, then Complete, then the Succeed state.
    const steps = WORKFLOWS['instance-start'].steps.map((s) => s.name);
    const expected = [...steps, 'Complete', 'Succeeded'];
    for (const n of expected) expect(def.States[n]).toBeDefined();
    expect(def.States.Succeeded.Type).toBe('Succeed');
    expect(successPath(def)).toEqual(expected);
    expect(workflowCounts('instance-start')).toEqual({ transitions: 4, taskInvocations: 3 });
    expect(workflowCounts('process')).toEqual({ transitions: 2, taskInvocations: 1 });
    const create = recorded().actions.find((a) => a.kind === 'create')!;
    expect(create.transitions).toBe(6);
  });

  it('prices writes by item size and index membership', () => {
    const plain = { pk: { S: '1i5' }, sk: { S: 'R' } };
    expect(itemSize(plain)).toBe(8);
    expect(writeUnits(undefined, plain)).toEqual({ table: 1, index: 0 });
    const indexed = { ...plain, gsi1pk: { S: 'P#1a1#instance' }, gsi1sk: { S: '0005' }, name: { S: 'x'.repeat(1500) } };
    // 2 KB item: 2 table units, and a new entry of 2 KB in one index.
    expect(writeUnits(undefined, indexed)).toEqual({ table: 2, index: 2 });
    // A changed index key: the old entry is deleted and a new one put.
    expect(writeUnits(indexed, { ...indexed, gsi1sk: { S: '0006' } })).toEqual({ table: 2, index: 4 });
    // Leaving the index: one delete.
    expect(writeUnits(indexed, plain)).toEqual({ table: 2, index: 2 });
  });

  it('gives every action a positive cost and makes the doorbell cheaper than polling', () => {
    const m = recorded();
    for (const a of m.actions) expect(actionCost(a).total).toBeGreaterThan(0);
    const idle = idleCost(m.idlePoll);
    expect(idle.doorbell.total).toBeLessThan(idle.polling.total);
    // The target: an idle host at most $0.10 a month on the doorbell, liveness included (1,000 hosts here).
    expect(idle.doorbell.total / 1000).toBeLessThanOrEqual(0.1);
  });
});

describe('a fresh measurement on the embedded stack', () => {
  let fresh: Measured;
  beforeAll(async () => {
    fresh = await measure({ repeats: 1 });
  }, 120_000);
  afterAll(() => undefined);

  it('runs every action kind with the recorded agent traffic and a store cost of the recorded order', () => {
    const before = recorded();
    expect(fresh.actions.map((a) => a.kind)).toEqual(before.actions.map((a) => a.kind));
    for (const [i, a] of fresh.actions.entries()) {
      const r = before.actions[i];
      expect(a.transitions, a.kind).toBe(r.transitions);
      expect(a.taskInvocations, a.kind).toBe(r.taskInvocations);
      // Host commands: one ack, one progress and one completion each.
      expect([a.agentRequests.ack, a.agentRequests.complete], a.kind).toEqual([r.agentRequests.ack, r.agentRequests.complete]);
      expect(a.dynamo.wru, a.kind).toBeGreaterThanOrEqual(r.dynamo.wru * 0.8);
      expect(a.dynamo.wru, a.kind).toBeLessThanOrEqual(r.dynamo.wru * 1.25);
      expect(a.dynamo.indexWru, a.kind).toBeGreaterThan(0);
      expect(a.events, a.kind).toBeGreaterThan(0);
    }
    expect(fresh.idlePoll.stampWru).toBeGreaterThan(0);
  });
});
