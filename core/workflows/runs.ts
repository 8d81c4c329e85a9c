/**
 * @module
 * The `Runs` that start each run as its Step Functions workflow (AWS or embedded), one execution per action.
 */
import type { Ledger, NextRun } from '../domain/ledger.js';
import type { Runs } from '../domain/runs.js';
import type { ExecutionInput, StepFunctions } from './types.js';

/**
 * What an execution starts with: which action of which resource, and where the host steps leave their results.
 *
 * @example
 * await wf.start(run.workflow, executionInput(run));
 */
export function executionInput(run: NextRun): ExecutionInput {
  return { id: run.id, actionId: run.actionId, workflow: run.workflow };
}

/**
 * Starts one execution per run, named by the action id (so starting it twice is a no-op); the workflow's tasks
 * complete or fail the action.
 *
 * @example
 * const runs = new WorkflowRuns(wf, ledger);
 * await runs.dispatch((await ledger.begin(c, 'start', {}, caller)).runs);
 */
export class WorkflowRuns implements Runs {
  constructor(
    private readonly workflows: StepFunctions,
    private readonly ledger: Ledger,
    private readonly log?: (msg: string, err: unknown) => void,
  ) {}

  /**
   * The transition is already committed, so a failed start does not fail the caller: the action is marked due,
   * and the next sweep finds no execution and re-drives it.
   */
  async dispatch(runs: readonly NextRun[]): Promise<void> {
    for (const run of runs) {
      try {
        await this.workflows.start(run.workflow, executionInput(run));
      } catch (e) {
        this.log?.(`could not start ${run.workflow} for ${run.id}; the sweeper will re-drive it`, e);
        await this.ledger.markDue(run).catch(() => undefined);
      }
    }
  }
}
