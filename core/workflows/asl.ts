/**
 * @module
 * Generates each workflow's Amazon States Language (JSONPath) state machine, run by AWS and the embedded interpreter.
 *
 * Shape of every machine (execution input `{id, actionId, workflow}`):
 *
 *   Step1 ─▶ Step2 ─▶ … ─▶ Complete ─▶ Succeeded
 *     │Catch   │Catch          │Catch
 *     ▼        ▼               ▼
 *   Step1Failed Step2Failed  CompleteFailed   (Pass: adds the literal stepName, keeps ids and $.error)
 *     └──────────┴───────────────┴──▶ Fail (task "fail") ─▶ Failed (Fail state, Error ActionFailed)
 *
 * Local steps are `lambda:invoke` Tasks; host calls are `lambda:invoke.waitForTaskToken` Tasks with
 * `TimeoutSeconds` and `HeartbeatSeconds`, resolved by the agent's completion through SendTask*.
 * Retries name only transient errors (never a failed condition or an agent error), with full jitter.
 */
import { machineTimeoutSeconds, WORKFLOWS, type StepSpec, type WorkflowSpec } from '../process/workflows.js';

/** Resource of a request-response Lambda call (optimized integration; result in `Payload`). */
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
/** Resource of a callback Lambda call: the state waits for SendTaskSuccess/Failure on `$$.Task.Token`. */
export const LAMBDA_INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * Errors worth retrying: Lambda service faults and throttles, plus `Drover.Transient`, which the tasks
 * function throws for conditions that pass by themselves (a store throttle, a conflicting write to retry).
 */
export const TRANSIENT_ERRORS: readonly string[] = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Drover.Transient',
];

/** A function ARN for machines that never call Lambda (the embedded interpreter binds every Task locally). */
export const LOCAL_TASKS_FUNCTION_ARN = 'arn:aws:lambda:local:000000000000:function:drover-tasks';

/** Name of the shared failure-reporting Task, of the terminal Fail state and of the completion Task. */
export const FAIL_TASK = 'Fail';
export const FAILED_STATE = 'Failed';
export const COMPLETE_TASK = 'Complete';
export const SUCCEEDED_STATE = 'Succeeded';
/** Error of the terminal Fail state: the action failed, and the resource already says why. */
export const ACTION_FAILED = 'ActionFailed';

export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  BackoffRate: number;
  MaxAttempts: number;
  JitterStrategy: 'FULL' | 'NONE';
}

export interface AslCatcher {
  ErrorEquals: string[];
  ResultPath: string | null;
  Next: string;
}

export interface AslTaskState {
  Type: 'Task';
  Comment?: string;
  Resource: string;
  Parameters: Record<string, unknown>;
  /** `null` (the state input passes on unchanged), or where a host call's result is kept for Complete. */
  ResultPath: string | null;
  TimeoutSeconds?: number;
  HeartbeatSeconds?: number;
  Retry?: AslRetrier[];
  Catch?: AslCatcher[];
  Next?: string;
  End?: true;
}

export interface AslPassState {
  Type: 'Pass';
  Comment?: string;
  Parameters?: Record<string, unknown>;
  Next: string;
}

export interface AslFailState {
  Type: 'Fail';
  Comment?: string;
  Error: string;
  Cause?: string;
}

export interface AslSucceedState {
  Type: 'Succeed';
  Comment?: string;
}

export type AslState = AslTaskState | AslPassState | AslFailState | AslSucceedState;

/** A JSONPath ASL state machine definition (serialize with `JSON.stringify` for `CreateStateMachine`). */
export interface AslDefinition {
  Comment: string;
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, AslState>;
}

export interface AslOptions {
  /** ARN (or name) of the tasks function every Task invokes. */
  tasksFunctionArn: string;
  /** Host calls fail with `States.HeartbeatTimeout` when the agent is silent this long. */
  heartbeatSeconds: number;
  /** Host calls fail with `States.Timeout` after this long in total. */
  timeoutSeconds: number;
}

/**
 * The failure Pass state of a step.
 *
 * @example
 * failedStateName('Activate') // 'ActivateFailed'
 */
export function failedStateName(stepName: string): string {
  return `${stepName}Failed`;
}

/**
 * Where a host call's result is kept in the execution's state, for the Complete task.
 *
 * @example
 * hostResultPath('Activate') // '$.ActivateResult'
 */
export function hostResultPath(stepName: string): string {
  return `$.${stepName}Result`;
}

function transientRetry(): AslRetrier[] {
  return [{ ErrorEquals: [...TRANSIENT_ERRORS], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3, JitterStrategy: 'FULL' }];
}

/** Fields every Task payload carries, copied from the execution input. */
const IDS = { 'id.$': '$.id', 'actionId.$': '$.actionId', 'workflow.$': '$.workflow' } as const;

function stepTask(step: StepSpec, opts: AslOptions, next: string): AslTaskState {
  const onError = failedStateName(step.name);
  if (step.kind === 'local') {
    return {
      Type: 'Task',
      Comment: step.message,
      Resource: LAMBDA_INVOKE,
      Parameters: {
        FunctionName: opts.tasksFunctionArn,
        Payload: { task: 'step', step: step.step, stepName: step.name, ...IDS },
      },
      ResultPath: null,
      Retry: transientRetry(),
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: onError }],
      Next: next,
    };
  }
  return {
    Type: 'Task',
    Comment: step.message,
    Resource: LAMBDA_INVOKE_WAIT,
    Parameters: {
      FunctionName: opts.tasksFunctionArn,
      Payload: {
        task: 'hostCall',
        command: step.command,
        stepName: step.name,
        ...IDS,
        'token.$': '$$.Task.Token',
        heartbeatSeconds: opts.heartbeatSeconds,
        timeoutSeconds: opts.timeoutSeconds,
      },
    },
    TimeoutSeconds: opts.timeoutSeconds,
    HeartbeatSeconds: opts.heartbeatSeconds,
    // The agent's result rides along to Complete, which records it with the done state in one write.
    ResultPath: hostResultPath(step.name),
    Retry: transientRetry(),
    Catch: [
      { ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: onError },
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: onError },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: onError },
    ],
    Next: next,
  };
}

function failedPass(stepName: string): AslPassState {
  return {
    Type: 'Pass',
    Comment: `${stepName} failed: report it with the error`,
    Parameters: { stepName, ...IDS, 'error.$': '$.error' },
    Next: FAIL_TASK,
  };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

/**
 * The state machine of one workflow.
 *
 * @example
 * const asl = toAsl(WORKFLOWS['instance-stop'], { tasksFunctionArn: arn, heartbeatSeconds: 60, timeoutSeconds: 900 });
 * asl.States.Deactivate.Type // 'Task'
 * JSON.stringify(asl) // definition for CreateStateMachine
 */
export function toAsl(spec: WorkflowSpec, opts: AslOptions): AslDefinition {
  positiveInt('heartbeatSeconds', opts.heartbeatSeconds);
  positiveInt('timeoutSeconds', opts.timeoutSeconds);
  // The States Language requires the heartbeat interval to be smaller than the timeout.
  if (opts.heartbeatSeconds >= opts.timeoutSeconds) {
    throw new RangeError(`heartbeatSeconds (${opts.heartbeatSeconds}) must be smaller than timeoutSeconds (${opts.timeoutSeconds})`);
  }
  const reserved = new Set([FAIL_TASK, FAILED_STATE, COMPLETE_TASK, SUCCEEDED_STATE, failedStateName(COMPLETE_TASK)]);
  const names = new Set<string>();
  for (const s of spec.steps) {
    if (reserved.has(s.name) || reserved.has(failedStateName(s.name)) || names.has(s.name)) {
      throw new Error(`workflow ${spec.name}: step name ${s.name} is reserved or repeated`);
    }
    names.add(s.name);
  }

  const states: Record<string, AslState> = {};
  spec.steps.forEach((step, i) => {
    const next = spec.steps[i + 1]?.name ?? COMPLETE_TASK;
    states[step.name] = stepTask(step, opts, next);
    states[failedStateName(step.name)] = failedPass(step.name);
  });
  states[COMPLETE_TASK] = {
    Type: 'Task',
    Comment: 'Finish the action: done state, effects, chained process',
    Resource: LAMBDA_INVOKE,
    Parameters: { FunctionName: opts.tasksFunctionArn, Payload: { task: 'complete', ...IDS, 'state.$': '$' } },
    ResultPath: null,
    Retry: transientRetry(),
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: failedStateName(COMPLETE_TASK) }],
    Next: SUCCEEDED_STATE,
  };
  states[failedStateName(COMPLETE_TASK)] = failedPass(COMPLETE_TASK);
  states[FAIL_TASK] = {
    Type: 'Task',
    Comment: 'Leave the resource in the failed step\'s failure state with the error message',
    Resource: LAMBDA_INVOKE,
    Parameters: {
      FunctionName: opts.tasksFunctionArn,
      Payload: { task: 'fail', ...IDS, 'stepName.$': '$.stepName', 'error.$': '$.error' },
    },
    ResultPath: null,
    Retry: transientRetry(),
    Next: FAILED_STATE,
  };
  states[FAILED_STATE] = {
    Type: 'Fail',
    Error: ACTION_FAILED,
    Cause: 'The action failed; the resource records the reason in transitioningMessage',
  };
  states[SUCCEEDED_STATE] = { Type: 'Succeed' };

  return {
    Comment: spec.description,
    StartAt: spec.steps[0]?.name ?? COMPLETE_TASK,
    TimeoutSeconds: machineTimeoutSeconds(spec, opts),
    States: states,
  };
}

/**
 * The state machine of every workflow in `WORKFLOWS`, by workflow name.
 *
 * @example
 * const defs = allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 60, timeoutSeconds: 900 });
 * Object.keys(defs) // ['process', 'instance-start', ...]
 */
export function allDefinitions(opts: AslOptions): Record<string, AslDefinition> {
  const out: Record<string, AslDefinition> = {};
  for (const [name, spec] of Object.entries(WORKFLOWS as Record<string, WorkflowSpec>)) out[name] = toAsl(spec, opts);
  return out;
}
