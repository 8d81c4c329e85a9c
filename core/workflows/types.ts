/**
 * @module
 * Contracts of the workflow layer: what an execution starts with, what every Task state sends to the tasks
 * function, and the one interface behind which AWS Step Functions and the embedded interpreter both sit.
 */
import type { HostCommandName } from '../agent/protocol.js';

/** Host command names belong to the agent protocol. */
export type { HostCommandName };

/** Input of every execution. The resource item holds everything else (fencing: `actionId`). */
export interface ExecutionInput {
  id: string;
  actionId: string;
  /** Workflow name, so shared task code can find its step definitions. */
  workflow: string;
}

import type { LocalStepName } from '../process/workflows.js';

export type { LocalStepName };

/**
 * The payload each Task state passes to the tasks function (the `Payload` of `lambda:invoke`). Built by the
 * ASL `Parameters`, so the shape is the same in AWS and in the embedded interpreter.
 */
export type TaskPayload =
  | { task: 'step'; step: LocalStepName; stepName: string; id: string; actionId: string; workflow: string }
  | {
      task: 'hostCall';
      command: HostCommandName;
      stepName: string;
      id: string;
      actionId: string;
      workflow: string;
      /** Step Functions task token (`$$.Task.Token`); the agent's completion resolves it. */
      token: string;
      heartbeatSeconds: number;
      timeoutSeconds: number;
    }
  | {
      task: 'complete';
      id: string;
      actionId: string;
      workflow: string;
      /** The execution's state, with the host calls' results (`hostResultPath`) for the completion to record. */
      state?: Record<string, unknown>;
    }
  | {
      task: 'fail';
      id: string;
      actionId: string;
      workflow: string;
      /** The state whose Catch fired. */
      stepName: string;
      /** Step Functions' error object from the Catch (`{Error, Cause}`). */
      error: { Error?: string; Cause?: string };
    };

/** Execution status as Step Functions reports it, plus NOT_FOUND. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'NOT_FOUND';

/**
 * A Step Functions service: AWS (`AwsStepFunctions`) or the embedded interpreter (`EmbeddedStepFunctions`).
 *
 * @example
 * await wf.start('instance-start', { id: '1i5', actionId, workflow: 'instance-start' });
 * await wf.sendTaskSuccess(token, { externalId: 'abc' });
 */
export interface StepFunctions {
  /** Starts an execution named `input.actionId`; starting one that exists already is a no-op (idempotent). */
  start(workflow: string, input: ExecutionInput): Promise<void>;
  /** Status of the execution of `actionId` in `workflow`. */
  describe(workflow: string, actionId: string): Promise<ExecutionStatus>;
  /** Stops a running execution (no-op when it is not running). */
  stop(workflow: string, actionId: string, cause: string): Promise<void>;
  /** Resolves a waiting callback task. Throws `TaskTokenError` when the token is unknown, done or timed out. */
  sendTaskSuccess(token: string, output: unknown): Promise<void>;
  sendTaskFailure(token: string, error: string, cause: string): Promise<void>;
  /** Resets the task's heartbeat timer. Throws `TaskTokenError` as above. */
  sendTaskHeartbeat(token: string): Promise<void>;
}

/** A task token that no longer names a waiting task (Step Functions' TaskTimedOut / InvalidToken). */
export class TaskTokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TaskTokenError';
  }
}
