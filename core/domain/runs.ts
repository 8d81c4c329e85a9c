/**
 * @module
 * Where the runs the ledger hands back go: `Runs` is the one seam between starting an action and doing its work.
 * In production `WorkflowRuns` (`core/workflows/runs.ts`) starts each as a Step Functions execution; the inline
 * runs finish each in-process, with no host (`DROVER_RUNNER=inline`, the API-layer tests).
 */
import type { Ledger, NextRun } from './ledger.js';

/**
 * Dispatches runs. It resolves once each run is handed off (or, inline, done); it must not fail the request that
 * committed them: a run that cannot be started is left for the sweeper.
 *
 * @example
 * const { resource, runs } = await ledger.begin(c, 'start', {}, caller);
 * await dispatcher.dispatch(runs);
 */
export interface Runs {
  dispatch(runs: readonly NextRun[]): Promise<void>;
}

/**
 * Completes every run in-process at once, and whatever it chains into: the no-host runs of the embedded default
 * before workflows exist. It still goes through the ledger, so fencing and chaining behave as in production.
 *
 * @example
 * const runs = new InlineRuns(ledger);
 */
export class InlineRuns implements Runs {
  constructor(private readonly ledger: Ledger) {}

  async dispatch(runs: readonly NextRun[]): Promise<void> {
    for (const run of runs) {
      const done = await this.ledger.complete(run, {}, run.current);
      if (done) await this.dispatch(done.runs);
    }
  }
}
