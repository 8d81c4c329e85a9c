/**
 * @module
 * What each workflow does, as data: an ordered list of steps, each a local step (scheduling, run by the tasks
 * function) or a host call (a command to the instance's host agent, waited on with a task token). The ASL is
 * generated from these (`core/workflows/asl.ts`), the process table's `workflow` column picks one per action,
 * and one function here gives both the state machine's time limit and the action's deadline.
 */
import type { HostCommandName } from '../agent/protocol.js';
import { processOf, PROCESSES, type ProcessDef } from './lifecycle.js';

/** Local (non-host) steps a workflow can run, implemented in `core/workflows/tasks.ts`. */
export type LocalStepName = 'allocate' | 'allocateTarget' | 'moveToTarget' | 'deallocate';

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

/** Stopping the instance on its host: how a stop, a restart and a Wakame stop begin (a failure leaves `error`). */
const STOP_ON_HOST = {
  kind: 'host',
  name: 'Deactivate',
  command: 'compute.instance.deactivate',
  message: 'Stopping',
  failState: 'error',
} as const satisfies StepSpec;

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
    steps: [STOP_ON_HOST],
  },
  'instance-restart': {
    name: 'instance-restart',
    description: 'Stops and starts the instance on its host.',
    steps: [
      STOP_ON_HOST,
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
  'instance-release': {
    name: 'instance-release',
    description: "Has the host agent stop the instance, then gives the host's capacity back (Wakame-VDC's stop).",
    steps: [
      STOP_ON_HOST,
      { kind: 'local', name: 'Deallocate', step: 'deallocate', message: 'Freeing host capacity', failState: 'stopped' },
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
  // `checkLifecycle` has proved at load that every workflow column names a workflow.
  return (processOf(baseType, action)?.workflow ?? 'process') as WorkflowName;
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
 * What a resource shows while a step runs: a host call names its host.
 *
 * @example
 * stepMessage(stepOf('instance-start', 'Activate')!, '1h2') // 'Starting on host 1h2'
 */
export function stepMessage(step: StepSpec, hostId?: string | null): string {
  return step.kind === 'host' && hostId ? `${step.message} on host ${hostId}` : step.message;
}

/**
 * The step after `stepName`, if any.
 *
 * @example
 * stepAfter('instance-start', 'Allocate')?.name // 'Activate'
 */
export function stepAfter(workflow: string, stepName: string): StepSpec | undefined {
  const steps = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow]?.steps ?? [];
  const i = steps.findIndex((s) => s.name === stepName);
  return i < 0 ? undefined : steps[i + 1];
}

/**
 * The state a failed step leaves the resource in.
 *
 * @example
 * failStateOf('instance-start', 'Activate', 'creating') // 'error'
 */
export function failStateOf(workflow: string, stepName: string | undefined, from: string): string {
  // No step: the action was ended from outside (the sweeper), and the work may have got as far as the last step
  // (a stuck migrate may already have stopped the instance on its source, so it fails to `error`). A failure
  // outside the steps (the final Complete) takes the first step's rule: a start that came from create must not
  // fall back to `creating`, a transitioning state nothing would ever finish.
  const w = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow];
  const step = stepName === undefined ? w?.steps[w.steps.length - 1] : (stepOf(workflow, stepName) ?? w?.steps[0]);
  const f = step?.failState;
  if (f === undefined) return from;
  return typeof f === 'string' ? f : (f[from] ?? from);
}

/** How long a host call may run and stay silent: the `TimeoutSeconds` and `HeartbeatSeconds` of every host step. */
export interface StepBounds {
  heartbeatSeconds: number;
  timeoutSeconds: number;
}

/** Allowance for a workflow's local tasks (each retried up to three times) and its Complete/Fail tasks. */
const LOCAL_ALLOWANCE_SECONDS = 300;

/** Time between the state machine's own time limit and the action's deadline: the sweeper acts after Step Functions. */
const DEADLINE_SLACK_SECONDS = 60;

/**
 * The state machine's `TimeoutSeconds`: every host step may take its full timeout, plus an allowance for the rest.
 *
 * @example
 * machineTimeoutSeconds(WORKFLOWS['instance-stop'], { heartbeatSeconds: 60, timeoutSeconds: 900 }) // 1200
 */
export function machineTimeoutSeconds(spec: WorkflowSpec, bounds: StepBounds): number {
  const hostSteps = spec.steps.filter((s) => s.kind === 'host').length;
  return hostSteps * bounds.timeoutSeconds + LOCAL_ALLOWANCE_SECONDS;
}

/**
 * How long an action may stay open before the sweeper treats it as stuck: later than its state machine can run,
 * so the sweeper never fails an action whose execution may still finish it.
 *
 * @example
 * const deadline = now + actionDeadlineMs('instance', 'start', { heartbeatSeconds: 60, timeoutSeconds: 900 });
 */
export function actionDeadlineMs(baseType: string, action: string, bounds: StepBounds): number {
  return (machineTimeoutSeconds(WORKFLOWS[workflowFor(baseType, action)], bounds) + DEADLINE_SLACK_SECONDS) * 1000;
}

/**
 * Checks the lifecycle as a whole when this module loads: every `workflow` column names a workflow, every chain
 * and link step names a process its parent's done state may start, so a typo fails at import, not on the first
 * action. Exported so tests can feed it a broken table.
 *
 * @example
 * checkLifecycle(PROCESSES, WORKFLOWS) // throws on `workflow: 'instance-strat'`
 */
export function checkLifecycle(
  processes: Readonly<Record<string, Readonly<Record<string, ProcessDef>>>>,
  workflows: Readonly<Record<string, WorkflowSpec>>,
): void {
  for (const [baseType, table] of Object.entries(processes)) {
    for (const [action, p] of Object.entries(table)) {
      const where = `process ${baseType}.${action}`;
      if (p.workflow !== undefined && !Object.hasOwn(workflows, p.workflow)) throw new Error(`${where} names unknown workflow ${p.workflow}`);
      if (p.chain) {
        const next = Object.hasOwn(table, p.chain.next) ? table[p.chain.next] : undefined;
        if (!next) throw new Error(`${where} chains into unknown process ${p.chain.next}`);
        for (const from of p.from) {
          const done = typeof p.done === 'string' ? p.done : p.done[from];
          if (!next.from.includes(done)) throw new Error(`${where} chains into ${p.chain.next}, which cannot start from ${done}`);
        }
      }
      for (const step of p.links ?? []) {
        const link = processes.instanceLink;
        if (!link || !Object.hasOwn(link, step.action)) throw new Error(`${where} starts unknown link process ${step.action}`);
      }
    }
  }
}

checkLifecycle(PROCESSES, WORKFLOWS);
