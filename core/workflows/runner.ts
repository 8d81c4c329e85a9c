/**
 * @module
 * The ProcessRunner that hands each started action to its Step Functions workflow (AWS or embedded).
 */
import type { ProcessEngine, ProcessRunner, RunRef } from '../domain/engine.js';
import { workflowFor, WORKFLOWS, type WorkflowSpec } from './definitions.js';
import type { WorkflowEngine } from './types.js';

export interface WorkflowRunnerOptions {
  /** The host calls' `HeartbeatSeconds` (as given to `toAsl`). */
  heartbeatSeconds: number;
  /** The host calls' `TimeoutSeconds` (as given to `toAsl`). */
  timeoutSeconds: number;
}

/** Allowance per local step, and for starting and completing, in seconds. */
const LOCAL_STEP_SECONDS = 30;
const OVERHEAD_SECONDS = 60;

/**
 * Starts one execution per action, named by the action id; the workflow's tasks complete or fail it.
 *
 * @example
 * const engine = new ProcessEngine(store, new WorkflowRunner(wf, { heartbeatSeconds: 60, timeoutSeconds: 900 }));
 */
export class WorkflowRunner implements ProcessRunner {
  constructor(
    private readonly workflows: WorkflowEngine,
    private readonly opts: WorkflowRunnerOptions & { log?: (msg: string, err: unknown) => void },
  ) {}

  /**
   * Starts the action's workflow. Idempotent (execution name = action id). The transition is already
   * committed, so a failed start does not fail the request: the action is marked due, and the next sweep
   * finds no execution and re-drives it.
   */
  async run(engine: ProcessEngine, ref: RunRef): Promise<void> {
    const workflow = workflowFor(ref.baseType, ref.action);
    try {
      await this.workflows.start(workflow, { id: ref.id, actionId: ref.actionId, workflow });
    } catch (e) {
      this.opts.log?.(`could not start ${workflow} for ${ref.id}; the sweeper will re-drive it`, e);
      await engine.store
        .mutate(ref.id, (cur) =>
          cur.action?.id === ref.actionId ? { ...cur, action: { ...cur.action, deadline: Date.now() } } : cur,
        )
        .catch(() => undefined);
    }
  }

  /** Host steps × timeout + local steps × 30 s + 60 s: past this the sweeper may treat the action as stuck. */
  deadlineMs(baseType: string, action: string): number {
    const spec: WorkflowSpec = WORKFLOWS[workflowFor(baseType, action)];
    const host = spec.steps.filter((s) => s.kind === 'host').length;
    const local = spec.steps.length - host;
    return (host * this.opts.timeoutSeconds + local * LOCAL_STEP_SECONDS + OVERHEAD_SECONDS) * 1000;
  }
}
