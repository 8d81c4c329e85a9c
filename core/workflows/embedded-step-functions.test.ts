/**
 * @module
 * Behaviour of the embedded Step Functions service on generated definitions: callbacks, heartbeats, timeouts, retries, names.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../../test/helpers/wait.js';
import { allDefinitions, LOCAL_TASKS_FUNCTION_ARN, toAsl, type AslDefinition, type AslOptions } from './asl.js';
import { WORKFLOWS, type StepSpec, type WorkflowSpec } from '../process/workflows.js';
import { EmbeddedStepFunctions, type EmbeddedStepFunctionsOptions } from './embedded-step-functions.js';
import { TaskTokenError, type TaskPayload } from './types.js';

type HostCall = Extract<TaskPayload, { task: 'hostCall' }>;
type FailTask = Extract<TaskPayload, { task: 'fail' }>;
type Agent = (p: TaskPayload, wf: EmbeddedStepFunctions) => unknown;

const ALLOCATE: StepSpec = { kind: 'local', name: 'Allocate', step: 'allocate', message: 'Scheduling' };
const ACTIVATE: StepSpec = { kind: 'host', name: 'Activate', command: 'compute.instance.activate', message: 'Starting' };

/** Answers local steps at once and host calls on the next turn, successfully. */
const happyAgent: Agent = (p, wf) => {
  if (p.task === 'hostCall') setImmediate(() => void wf.sendTaskSuccess(p.token, { agent: 'ok' }));
  return { ok: true };
};

// Closed after all tests, not after each: the timing tests run concurrently.
const engines: EmbeddedStepFunctions[] = [];
afterAll(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

function setup(
  steps: StepSpec[],
  agent: Agent = happyAgent,
  asl: Partial<AslOptions> = {},
  extra: Partial<EmbeddedStepFunctionsOptions> & { tweak?: (d: AslDefinition) => void } = {},
) {
  const calls: TaskPayload[] = [];
  const def = toAsl(
    { name: 't', description: 'test workflow', steps },
    { tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 1, timeoutSeconds: 5, ...asl },
  );
  extra.tweak?.(def);
  const wf: EmbeddedStepFunctions = new EmbeddedStepFunctions({
    definitions: { t: def },
    tasks: () => async (p) => {
      calls.push(p);
      return agent(p, wf);
    },
    retryIntervalMs: 5,
    ...extra,
  });
  engines.push(wf);
  const start = (actionId = 'act-1') => wf.start('t', { id: 'r1', actionId, workflow: 't' });
  const of = <K extends TaskPayload['task']>(task: K) => calls.filter((c): c is Extract<TaskPayload, { task: K }> => c.task === task);
  return { wf, calls, start, of };
}

describe('EmbeddedStepFunctions', () => {
  it('validates each definition (once per process): a broken one is refused every time, a good one twice is fine', () => {
    const good = toAsl({ name: 't', description: 'test', steps: [ALLOCATE] }, { tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 1, timeoutSeconds: 5 });
    const broken = structuredClone(good);
    (broken.States.Allocate as { Next?: string }).Next = 'Nowhere';
    const make = (d: AslDefinition) => new EmbeddedStepFunctions({ definitions: { t: d }, tasks: () => async () => ({}) });
    expect(() => make(broken)).toThrow();
    engines.push(make(good), make(good));
    expect(() => make(broken)).toThrow();
  });

  it('runs a local step and a host call to completion, passing the ASL payloads', async () => {
    const { wf, calls, start } = setup([ALLOCATE, ACTIVATE]);
    await start();
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
    expect(calls.map((c) => c.task)).toEqual(['step', 'hostCall', 'complete']);
    expect(calls[0]).toEqual({ task: 'step', step: 'allocate', stepName: 'Allocate', id: 'r1', actionId: 'act-1', workflow: 't' });
    expect(calls[1]).toMatchObject({
      task: 'hostCall',
      command: 'compute.instance.activate',
      stepName: 'Activate',
      id: 'r1',
      actionId: 'act-1',
      workflow: 't',
      token: expect.stringMatching(/^[0-9a-f-]{36}$/),
      heartbeatSeconds: 1,
      timeoutSeconds: 5,
    });
    expect(calls[2]).toEqual({
      task: 'complete',
      id: 'r1',
      actionId: 'act-1',
      workflow: 't',
      // The execution's state rides along, with the host call's result for the completion to record.
      state: expect.objectContaining({ id: 'r1', actionId: 'act-1', workflow: 't', ActivateResult: expect.anything() }),
    });
  });

  it('accepts a token resolved inside the invoke, before it returns', async () => {
    const { wf, of, start } = setup([ACTIVATE], async (p, engine) => {
      if (p.task === 'hostCall') await engine.sendTaskSuccess(p.token, { skipped: true });
      return {};
    });
    await start();
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
    expect(of('complete')).toHaveLength(1);
  });

  it('runs every real workflow end to end with an agent that always succeeds', async () => {
    const calls: TaskPayload[] = [];
    const wf: EmbeddedStepFunctions = new EmbeddedStepFunctions({
      definitions: allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 60, timeoutSeconds: 900 }),
      tasks: () => async (p) => {
        calls.push(p);
        return happyAgent(p, wf);
      },
    });
    engines.push(wf);
    for (const name of Object.keys(WORKFLOWS)) await wf.start(name, { id: 'r1', actionId: `a-${name}`, workflow: name });
    await wf.idle();
    for (const [name, spec] of Object.entries(WORKFLOWS as Record<string, WorkflowSpec>)) {
      expect(await wf.describe(name, `a-${name}`)).toBe('SUCCEEDED');
      const mine = calls.filter((c) => c.workflow === name);
      expect(mine.map((c) => (c.task === 'complete' ? 'Complete' : c.stepName))).toEqual([
        ...spec.steps.map((s) => s.name),
        'Complete',
      ]);
    }
  });

  it('routes an agent failure through the Catch to the fail task with Error and Cause', async () => {
    const { wf, of, start } = setup([ALLOCATE, ACTIVATE], (p, engine) => {
      if (p.task === 'hostCall') setImmediate(() => void engine.sendTaskFailure(p.token, 'AgentError', 'disk full'));
      return {};
    });
    await start();
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('FAILED');
    expect(of('complete')).toHaveLength(0);
    expect(of('fail')).toEqual<FailTask[]>([
      { task: 'fail', id: 'r1', actionId: 'act-1', workflow: 't', stepName: 'Activate', error: { Error: 'AgentError', Cause: 'disk full' } },
    ]);
  });

  it('names a thrown plain Error "Error", with the AWS Lambda JSON Cause, and does not retry it', async () => {
    const { wf, of, start } = setup([ALLOCATE], (p) => {
      if (p.task === 'step') throw new Error('no host has room');
      return {};
    });
    await start();
    await wf.idle();
    expect(of('step')).toHaveLength(1);
    const [fail] = of('fail');
    expect(fail.stepName).toBe('Allocate');
    expect(fail.error.Error).toBe('Error');
    expect(JSON.parse(fail.error.Cause ?? '')).toMatchObject({ errorType: 'Error', errorMessage: 'no host has room' });
    expect(await wf.describe('t', 'act-1')).toBe('FAILED');
  });

  it('retries a transient error, then succeeds', async () => {
    let n = 0;
    const { wf, of, start } = setup([ALLOCATE], (p) => {
      if (p.task === 'step' && ++n < 3) {
        const e = new Error('store throttled');
        e.name = 'Drover.Transient';
        throw e;
      }
      return {};
    });
    await start();
    await wf.idle();
    expect(of('step')).toHaveLength(3);
    expect(of('fail')).toHaveLength(0);
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
  });

  it('retries a host call whose enqueue failed transiently, with a new token', async () => {
    let n = 0;
    const { wf, of, start } = setup([ACTIVATE], (p, engine) => {
      if (p.task !== 'hostCall') return {};
      if (++n === 1) throw Object.assign(new Error('outbox throttled'), { name: 'Drover.Transient' });
      setImmediate(() => void engine.sendTaskSuccess(p.token, {}));
      return {};
    });
    await start();
    await wf.idle();
    const [first, second] = of('hostCall');
    expect(first.token).not.toBe(second.token);
    await expect(wf.sendTaskSuccess(first.token, {})).rejects.toBeInstanceOf(TaskTokenError);
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
  });

  it.concurrent('fails a silent host call with States.HeartbeatTimeout after HeartbeatSeconds', async ({ expect }) => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    const t0 = Date.now();
    await start();
    await until(() => of('fail').length === 1);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1500);
    expect(of('fail')[0].error).toMatchObject({ Error: 'States.HeartbeatTimeout' });
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('FAILED');
    const token = of('hostCall')[0].token;
    await expect(wf.sendTaskSuccess(token, {})).rejects.toBeInstanceOf(TaskTokenError);
  });

  it.concurrent('keeps a host call alive past HeartbeatSeconds while heartbeats arrive', async ({ expect }) => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    await start();
    await until(() => of('hostCall').length === 1);
    const token = of('hostCall')[0].token;
    // Heartbeats every 100 ms for 1.6 s (past the 1 s HeartbeatSeconds): a busy machine would have to stall the
    // event loop for most of a second to miss one, where 400 ms apart it had only 600 ms of slack.
    const began = Date.now();
    while (Date.now() - began < 1600) {
      await new Promise((r) => setTimeout(r, 100));
      await wf.sendTaskHeartbeat(token);
    }
    await wf.sendTaskSuccess(token, { done: true });
    await wf.idle();
    expect(of('fail')).toHaveLength(0);
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
  });

  it.concurrent('fails a heartbeating host call with States.Timeout after TimeoutSeconds', async ({ expect }) => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}), { heartbeatSeconds: 1, timeoutSeconds: 2 });
    const t0 = Date.now();
    await start();
    await until(() => of('hostCall').length === 1);
    const token = of('hostCall')[0].token;
    const beat = setInterval(() => void wf.sendTaskHeartbeat(token).catch(() => undefined), 300);
    try {
      await until(() => of('fail').length === 1, 4000);
    } finally {
      clearInterval(beat);
    }
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1950);
    expect(elapsed).toBeLessThan(2600);
    expect(of('fail')[0].error).toMatchObject({ Error: 'States.Timeout' });
    await expect(wf.sendTaskHeartbeat(token)).rejects.toBeInstanceOf(TaskTokenError);
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('FAILED');
  });

  it.concurrent('times out a whole execution at the top-level TimeoutSeconds and drops its tokens', async ({ expect }) => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}), { heartbeatSeconds: 4, timeoutSeconds: 5 }, { tweak: (d) => (d.TimeoutSeconds = 1) });
    await start();
    await until(() => of('hostCall').length === 1);
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('TIMED_OUT');
    expect(of('fail')).toHaveLength(0);
    await expect(wf.sendTaskSuccess(of('hostCall')[0].token, {})).rejects.toBeInstanceOf(TaskTokenError);
  });

  it('starts once per name, whether the first execution is running or finished', async () => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    await start('same');
    await start('same');
    await until(() => of('hostCall').length === 1);
    await start('same');
    expect(await wf.describe('t', 'same')).toBe('RUNNING');
    await wf.sendTaskSuccess(of('hostCall')[0].token, {});
    await wf.idle();
    await start('same');
    await wf.idle();
    expect(of('hostCall')).toHaveLength(1);
    expect(of('complete')).toHaveLength(1);
    expect(await wf.describe('t', 'same')).toBe('SUCCEEDED');
    // Another name is another execution.
    await start('other');
    await until(() => of('hostCall').length === 2);
    expect(wf.running()).toEqual(['t/other']);
  });

  it('describes unknown executions as NOT_FOUND and stops running ones (ABORTED, no fail task)', async () => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    expect(await wf.describe('t', 'nope')).toBe('NOT_FOUND');
    expect(await wf.describe('no-such-workflow', 'nope')).toBe('NOT_FOUND');
    await wf.stop('t', 'nope', 'nothing to stop');
    await start();
    await until(() => of('hostCall').length === 1);
    await wf.stop('t', 'act-1', 'superseded by stop');
    expect(await wf.describe('t', 'act-1')).toBe('ABORTED');
    await wf.idle();
    expect(of('fail')).toHaveLength(0);
    expect(of('complete')).toHaveLength(0);
    await expect(wf.sendTaskSuccess(of('hostCall')[0].token, {})).rejects.toBeInstanceOf(TaskTokenError);
    await wf.stop('t', 'act-1', 'again'); // no-op
    expect(await wf.describe('t', 'act-1')).toBe('ABORTED');
  });

  it('throws TaskTokenError for unknown tokens and for tokens of finished tasks', async () => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    await expect(wf.sendTaskSuccess('unknown', {})).rejects.toBeInstanceOf(TaskTokenError);
    await expect(wf.sendTaskFailure('unknown', 'E', 'c')).rejects.toBeInstanceOf(TaskTokenError);
    await expect(wf.sendTaskHeartbeat('unknown')).rejects.toBeInstanceOf(TaskTokenError);
    await start();
    await until(() => of('hostCall').length === 1);
    const token = of('hostCall')[0].token;
    await wf.sendTaskHeartbeat(token);
    await wf.sendTaskSuccess(token, { first: true });
    await expect(wf.sendTaskSuccess(token, { second: true })).rejects.toBeInstanceOf(TaskTokenError);
    await expect(wf.sendTaskFailure(token, 'AgentError', 'late')).rejects.toBeInstanceOf(TaskTokenError);
    await expect(wf.sendTaskHeartbeat(token)).rejects.toBeInstanceOf(TaskTokenError);
    await wf.idle();
    expect(await wf.describe('t', 'act-1')).toBe('SUCCEEDED');
  });

  it('records a failing fail task as a FAILED execution without an unhandled rejection, and survives a throwing logger', async () => {
    const logged: unknown[] = [];
    const { wf, of, start } = setup(
      [ALLOCATE],
      (p) => {
        if (p.task === 'step' || p.task === 'fail') throw new Error(`${p.task} broke`);
        return {};
      },
      {},
      {
        log: (e) => {
          logged.push(e);
          throw new Error('logger broke');
        },
      },
    );
    await start();
    await wf.idle();
    expect(of('fail')).toHaveLength(1);
    expect(await wf.describe('t', 'act-1')).toBe('FAILED');
    expect(logged).toContainEqual(expect.objectContaining({ event: 'ExecutionEnded', status: 'FAILED' }));
  });

  it('refuses invalid names and unknown workflows, and closes by aborting what runs', async () => {
    const { wf, of, start } = setup([ACTIVATE], () => ({}));
    await expect(start('has space')).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(start('x'.repeat(81))).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(wf.start('nope', { id: 'r1', actionId: 'a', workflow: 'nope' })).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await start();
    await until(() => of('hostCall').length === 1);
    await wf.close();
    expect(await wf.describe('t', 'act-1')).toBe('ABORTED');
    await expect(start('later')).rejects.toThrow(/closed/);
  });
});
