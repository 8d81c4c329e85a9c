/**
 * @module
 * What each workflow does, as data: an ordered list of steps, each a local step (scheduling, run by the tasks
 * function) or a host call (a command to the instance's host agent, waited on with a task token). The ASL is
 * generated from these (`asl.ts`), and the process table's `workflow` column picks one per action.
 */
import { processOf } from '../process/table.js';
import type { HostCommandName, LocalStepName } from './types.js';

/** Where a failed step leaves the resource: a state, one per start state, or (absent) the start state. */
export type FailState = string | Readonly<Record<string, string>>;

export type StepSpec =
  | {
      kind: 'local';
      /** ASL state name (PascalCase, unique in the workflow). */
      name: string;
      step: LocalStepName;
      /** transitioningMessage shown while this step runs. */
      message: string;
      failState?: FailState;
    }
  | {
      kind: 'host';
      name: string;
      command: HostCommandName;
      message: string;
      failState?: FailState;
    };

export interface WorkflowSpec {
  /** State machine name suffix, e.g. `instance-start`. */
  name: string;
  description: string;
  steps: readonly StepSpec[];
}

/** A start that came from create ends in `error` (cattle chains start failures to instance.error). */
const START_FAILED = { creating: 'error', stopped: 'stopped' } as const;

/**
 * Every workflow. `process` has no steps: it only completes (state bounces such as update, restore, links).
 */
export const WORKFLOWS = {
  process: {
    name: 'process',
    description: 'Completes a process that needs no host work (create, remove, restore, update, links, ...).',
    steps: [],
  },
  'instance-start': {
    name: 'instance-start',
    description: 'Schedules the instance on a host, then has the host agent start it.',
    steps: [
      { kind: 'local', name: 'Allocate', step: 'allocate', message: 'Scheduling', failState: START_FAILED },
      { kind: 'host', name: 'Activate', command: 'compute.instance.activate', message: 'Starting', failState: START_FAILED },
    ],
  },
  'instance-stop': {
    name: 'instance-stop',
    description: 'Has the host agent stop the instance.',
    steps: [{ kind: 'host', name: 'Deactivate', command: 'compute.instance.deactivate', message: 'Stopping', failState: 'error' }],
  },
  'instance-restart': {
    name: 'instance-restart',
    description: 'Stops and starts the instance on its host.',
    steps: [
      { kind: 'host', name: 'Deactivate', command: 'compute.instance.deactivate', message: 'Stopping', failState: 'error' },
      { kind: 'host', name: 'Activate', command: 'compute.instance.activate', message: 'Starting', failState: 'error' },
    ],
  },
  'instance-migrate': {
    name: 'instance-migrate',
    description: 'Finds another host, stops the instance on its host, moves it and starts it on the new one.',
    steps: [
      // No host fits: nothing has happened yet, the instance keeps running where it is.
      { kind: 'local', name: 'AllocateTarget', step: 'allocateTarget', message: 'Scheduling', failState: 'running' },
      { kind: 'host', name: 'DeactivateOnSource', command: 'compute.instance.deactivate', message: 'Stopping on source host', failState: 'error' },
      { kind: 'local', name: 'MoveToTarget', step: 'moveToTarget', message: 'Moving', failState: 'error' },
      { kind: 'host', name: 'ActivateOnTarget', command: 'compute.instance.activate', message: 'Starting on target host', failState: 'error' },
    ],
  },
  'instance-allocate': {
    name: 'instance-allocate',
    description: 'Schedules the instance on a host with room (allocationState inactive → active).',
    steps: [{ kind: 'local', name: 'Allocate', step: 'allocate', message: 'Scheduling' }],
  },
  'instance-deallocate': {
    name: 'instance-deallocate',
    description: "Frees the instance's host capacity (allocationState → inactive).",
    steps: [{ kind: 'local', name: 'Deallocate', step: 'deallocate', message: 'Freeing host capacity' }],
  },
  'instance-purge': {
    name: 'instance-purge',
    description: 'Has the host agent remove the instance, then frees its host capacity.',
    steps: [
      { kind: 'host', name: 'RemoveFromHost', command: 'compute.instance.remove', message: 'Removing from host', failState: 'removed' },
      { kind: 'local', name: 'Deallocate', step: 'deallocate', message: 'Freeing host capacity', failState: 'removed' },
    ],
  },
} as const satisfies Record<string, WorkflowSpec>;

export type WorkflowName = keyof typeof WORKFLOWS;

/**
 * The workflow that runs a process: the process table's `workflow` column, else `process`.
 *
 * @example
 * workflowFor('instance', 'restart') // 'instance-restart'
 * workflowFor('instanceLink', 'activate') // 'process'
 */
export function workflowFor(baseType: string, action: string): WorkflowName {
  const w = processOf(baseType, action)?.workflow;
  if (w && !Object.hasOwn(WORKFLOWS, w)) throw new Error(`process ${baseType}.${action} names unknown workflow ${w}`);
  return (w ?? 'process') as WorkflowName;
}

/**
 * The step of a workflow by ASL state name.
 *
 * @example
 * stepOf('instance-start', 'Activate')?.kind // 'host'
 */
export function stepOf(workflow: string, stepName: string): StepSpec | undefined {
  const w = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow];
  return w?.steps.find((s) => s.name === stepName);
}

/**
 * The state a failed step leaves the resource in.
 *
 * @example
 * failStateOf('instance-start', 'Activate', 'creating') // 'error'
 */
export function failStateOf(workflow: string, stepName: string, from: string): string {
  // A failure outside the steps (the final Complete) takes the first step's rule: a start that came from
  // create must not fall back to `creating`, a transitioning state nothing would ever finish.
  const w = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow];
  const f = (stepOf(workflow, stepName) ?? w?.steps[0])?.failState;
  if (f === undefined) return from;
  return typeof f === 'string' ? f : (f[from] ?? from);
}
