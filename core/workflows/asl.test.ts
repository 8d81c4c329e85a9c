/**
 * @module
 * Structural checks of the generated state machines: valid ASL, timeouts and catches on every host call, transient-only retries.
 */
import validator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import {
  allDefinitions,
  LAMBDA_INVOKE,
  LAMBDA_INVOKE_WAIT,
  toAsl,
  TRANSIENT_ERRORS,
  type AslDefinition,
  type AslTaskState,
} from './asl.js';
import { WORKFLOWS, type WorkflowSpec } from '../process/workflows.js';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:drover-tasks';
const OPTS = { tasksFunctionArn: ARN, heartbeatSeconds: 60, timeoutSeconds: 900 };
const defs = allDefinitions(OPTS);

function tasks(def: AslDefinition): [string, AslTaskState][] {
  return Object.entries(def.States).filter((e): e is [string, AslTaskState] => e[1].Type === 'Task');
}

describe('toAsl', () => {
  it('generates one definition per workflow', () => {
    expect(Object.keys(defs).sort()).toEqual(Object.keys(WORKFLOWS).sort());
  });

  it.each(Object.keys(WORKFLOWS))('%s passes asl-validator', (name) => {
    // The validator annotates the definition it checks; give it a copy.
    const result = validator(structuredClone(defs[name]), { checkArn: true, checkPaths: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('is checked by a validator that does reject a broken definition', () => {
    const broken = structuredClone(defs['instance-start']);
    (broken.States.Allocate as AslTaskState).Next = 'Nowhere';
    expect(validator(broken).isValid).toBe(false);
  });

  it.each(Object.keys(WORKFLOWS))('%s: every host call has timeouts and catches for both timeouts and States.ALL', (name) => {
    const spec = (WORKFLOWS as Record<string, WorkflowSpec>)[name];
    const hostNames = spec.steps.filter((s) => s.kind === 'host').map((s) => s.name);
    const waiting = tasks(defs[name]).filter(([, t]) => t.Resource === LAMBDA_INVOKE_WAIT);
    expect(waiting.map(([n]) => n).sort()).toEqual([...hostNames].sort());
    for (const [stateName, t] of waiting) {
      expect(t.TimeoutSeconds).toBe(900);
      expect(t.HeartbeatSeconds).toBe(60);
      expect(t.Catch?.map((c) => c.ErrorEquals)).toEqual([['States.HeartbeatTimeout'], ['States.Timeout'], ['States.ALL']]);
      for (const c of t.Catch ?? []) {
        expect(c.ResultPath).toBe('$.error');
        expect(c.Next).toBe(`${stateName}Failed`);
      }
      const payload = (t.Parameters.Payload ?? {}) as Record<string, unknown>;
      expect(payload['token.$']).toBe('$$.Task.Token');
      expect(payload).toMatchObject({ task: 'hostCall', stepName: stateName, heartbeatSeconds: 60, timeoutSeconds: 900 });
    }
    expect(defs[name].TimeoutSeconds).toBe(hostNames.length * 900 + 300);
  });

  it.each(Object.keys(WORKFLOWS))('%s: retries name only transient errors and use full jitter', (name) => {
    for (const [, t] of tasks(defs[name])) {
      expect(t.Retry?.length).toBe(1);
      for (const r of t.Retry ?? []) {
        expect(r.ErrorEquals.length).toBeGreaterThan(0);
        for (const e of r.ErrorEquals) expect(TRANSIENT_ERRORS).toContain(e);
        expect(r.ErrorEquals).not.toContain('States.ALL');
        expect(r.ErrorEquals).not.toContain('States.TaskFailed');
        expect(r).toMatchObject({ IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3, JitterStrategy: 'FULL' });
      }
    }
  });

  it('lays out instance-start: Allocate → Activate → Complete → Succeeded, failures → Fail → Failed', () => {
    const d = defs['instance-start'];
    expect(d.Comment).toBe(WORKFLOWS['instance-start'].description);
    expect(d.StartAt).toBe('Allocate');
    const allocate = d.States.Allocate as AslTaskState;
    expect(allocate).toMatchObject({
      Resource: LAMBDA_INVOKE,
      ResultPath: null,
      Next: 'Activate',
      Parameters: {
        FunctionName: ARN,
        Payload: { task: 'step', step: 'allocate', stepName: 'Allocate', 'id.$': '$.id', 'actionId.$': '$.actionId', 'workflow.$': '$.workflow' },
      },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'AllocateFailed' }],
    });
    expect(d.States.Activate).toMatchObject({ Resource: LAMBDA_INVOKE_WAIT, Next: 'Complete' });
    expect(d.States.AllocateFailed).toEqual({
      Type: 'Pass',
      Comment: expect.any(String),
      Parameters: { stepName: 'Allocate', 'id.$': '$.id', 'actionId.$': '$.actionId', 'workflow.$': '$.workflow', 'error.$': '$.error' },
      Next: 'Fail',
    });
    expect(d.States.Complete).toMatchObject({
      Resource: LAMBDA_INVOKE,
      Parameters: { Payload: { task: 'complete' } },
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'CompleteFailed' }],
      Next: 'Succeeded',
    });
    expect(d.States.CompleteFailed).toMatchObject({ Type: 'Pass', Parameters: { stepName: 'Complete' }, Next: 'Fail' });
    expect(d.States.Fail).toMatchObject({
      Resource: LAMBDA_INVOKE,
      Parameters: { Payload: { task: 'fail', 'stepName.$': '$.stepName', 'error.$': '$.error' } },
      Next: 'Failed',
    });
    expect(d.States.Failed).toMatchObject({ Type: 'Fail', Error: 'ActionFailed' });
    expect(d.States.Succeeded).toEqual({ Type: 'Succeed' });
  });

  it('makes the step-less process workflow just Complete', () => {
    const d = defs.process;
    expect(d.StartAt).toBe('Complete');
    expect(Object.keys(d.States).sort()).toEqual(['Complete', 'CompleteFailed', 'Fail', 'Failed', 'Succeeded']);
    expect(d.TimeoutSeconds).toBe(300);
  });

  it('refuses a heartbeat that is not shorter than the timeout, and reserved step names', () => {
    expect(() => toAsl(WORKFLOWS['instance-stop'], { ...OPTS, heartbeatSeconds: 900 })).toThrow(/smaller/);
    const bad: WorkflowSpec = {
      name: 'bad',
      description: 'x',
      steps: [{ kind: 'local', name: 'Complete', step: 'allocate', message: 'x' }],
    };
    expect(() => toAsl(bad, OPTS)).toThrow(/reserved/);
  });
});
