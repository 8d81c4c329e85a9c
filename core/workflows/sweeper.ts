/**
 * @module
 * The sweeper: no resource may stay stuck in a transitioning state, and no removed instance outlives its
 * `removeTime`. It reads the sparse `byDeadline` index (resources with a running action, and removed instances
 * awaiting their purge) up to now and, per action, asks the workflow engine what happened: an execution that
 * never started (or was lost with a local restart) is re-driven under the same name; one that ended without
 * finishing the action, or overran its deadline, is failed cleanly. A due removed instance is purged.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import { SYSTEM_CALLER, type Ledger } from '../domain/ledger.js';
import type { Runs } from '../domain/runs.js';
import { workflowFor } from '../process/workflows.js';
import { partitions } from '../store/keys.js';
import { purgeDueAt, type Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { executionInput } from './runs.js';
import type { StepFunctions } from './types.js';

export interface SweeperOptions {
  /** Where the sweeper reads what is due (it writes only through the ledger). */
  store: Store;
  ledger: Ledger;
  workflows: StepFunctions;
  /** Where a due purge's run goes. */
  runs: Runs;
  /** Re-drives before giving up on an action whose execution keeps disappearing (default 3). */
  maxRedrives?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

export interface SweepReport {
  /** Open actions examined. */
  checked: number;
  redriven: string[];
  failed: string[];
  /** Removed instances whose purge this pass started. */
  purged: string[];
}

/**
 * An empty report, to fill.
 *
 * @example
 * const report = emptySweepReport(); await sweeper.resolve(res, report);
 */
export const emptySweepReport = (): SweepReport => ({ checked: 0, redriven: [], failed: [], purged: [] });

/** What a pass over the `byDeadline` index found, besides what it did. */
export interface SweepPassReport extends SweepReport {
  /**
   * How long past its deadline the oldest open action this pass found was, in whole seconds (0 when none was).
   * A pass resolves what it finds, so on a healthy stage this stays under a sweep interval or two; a value that
   * keeps growing means actions stay stuck (the stage alarms on it).
   */
  oldestOverdueSeconds: number;
}

/** The CloudWatch metric the sweeper's log line carries (Embedded Metric Format), and the stage alarms on. */
export const SWEEP_METRIC = { namespace: 'Drover', name: 'OldestOverdueActionSeconds', dimension: 'Stage' } as const;

/**
 * The sweeper's log line: its report, plus the Embedded Metric Format envelope that makes CloudWatch Logs record
 * `oldestOverdueSeconds` as the metric `SWEEP_METRIC` of the stage (no PutMetricData call, so no grant).
 *
 * @example
 * console.log(JSON.stringify(sweepLogLine(await sweeper.sweep(), { stage: 'prod', now: Date.now() })));
 */
export function sweepLogLine(report: SweepPassReport, opts: { stage: string; now: number }): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: opts.now,
      CloudWatchMetrics: [
        { Namespace: SWEEP_METRIC.namespace, Dimensions: [[SWEEP_METRIC.dimension]], Metrics: [{ Name: SWEEP_METRIC.name, Unit: 'Seconds' }] },
      ],
    },
    [SWEEP_METRIC.dimension]: opts.stage,
    [SWEEP_METRIC.name]: report.oldestOverdueSeconds,
    message: 'sweep',
    ...report,
  };
}

/**
 * Finds and resolves stuck transitions, and starts due purges.
 *
 * @example
 * const sweeper = new Sweeper({ store, ledger, workflows: wf, runs });
 * setInterval(() => sweeper.sweep(), 30_000);
 */
export class Sweeper {
  private readonly now: () => number;

  constructor(private readonly opts: SweeperOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * One pass over everything in `byDeadline` that is due (at or before now): actions at their deadline, purges at
   * their `removeTime`.
   *
   * @example
   * const { redriven, failed, purged, oldestOverdueSeconds } = await sweeper.sweep();
   */
  async sweep(): Promise<SweepPassReport> {
    const report: SweepPassReport = { ...emptySweepReport(), oldestOverdueSeconds: 0 };
    const now = this.now();
    const store = this.opts.store;
    // Only the `T#` partitions: webhook deliveries (`WD#`) and pending recoveries (`RD#`) share the index, not these.
    for await (const page of store.dueByDeadline(partitions.byDeadline, now)) {
      for (const res of page) {
        if (res.action) {
          const overdue = Math.floor((now - (res.action.deadline ?? res.action.at)) / 1000);
          report.oldestOverdueSeconds = Math.max(report.oldestOverdueSeconds, overdue);
          await this.resolve(res, report);
        } else await this.purge(res, report);
      }
    }
    return report;
  }

  /**
   * Resolves one open action by what its execution did: leaves a running one alone until its deadline, re-drives
   * a missing one under the same name, fails an ended or overdue one cleanly. Fenced by the action id, so a stale
   * copy of `res` changes nothing. The reconciler hands it every open action its scan finds.
   *
   * @example
   * await sweeper.resolve(starting, report); // report.redriven: ['1i5'] if its execution was lost
   */
  async resolve(res: Resource, report: SweepReport): Promise<void> {
    if (!res.action) return;
    report.checked++;
    const now = this.now();
    const act = res.action;
    const workflow = workflowFor(res.baseType, act.name);
    const ref = { id: res.id, actionId: act.id };
    const status = await this.opts.workflows.describe(workflow, act.id);
    const overdue = (act.deadline ?? act.at) <= now;
    // Ended from outside its workflow: the ledger applies the last step's failure rule and gives back held capacity.
    const fail = async (message: string) => !!(await this.opts.ledger.fail(ref, { message, outside: true }));

    if (status === 'RUNNING') {
      if (!overdue) return;
      await this.opts.workflows.stop(workflow, act.id, 'Deadline passed; stopped by the sweeper');
      if (await fail(`'${act.name}' did not finish in time and was stopped`)) report.failed.push(res.id);
      return;
    }
    if (status === 'NOT_FOUND' && (act.redrives ?? 0) < (this.opts.maxRedrives ?? 3)) {
      // Never started (a crash between the transition write and StartExecution) or lost with a local restart.
      const run = await this.opts.ledger.redrive(ref);
      if (!run) return;
      await this.opts.workflows.start(run.workflow, executionInput(run));
      report.redriven.push(res.id);
      this.opts.log?.(`re-drove ${act.name} of ${res.id}`);
      return;
    }
    // The execution ended (or was re-driven too often) but the action is still open: close it cleanly.
    const why = status === 'NOT_FOUND' ? 'its workflow could not be run' : `its workflow ended (${status})`;
    if (await fail(`'${act.name}' was abandoned: ${why}`)) report.failed.push(res.id);
  }

  /**
   * Purges a removed instance whose `removeTime` has passed (cattle's purge task) through the `purge` process, so
   * the `instance-purge` workflow runs: the host forgets it and its capacity is freed. Re-reads it first, so a copy
   * that a restore or a purge by hand has overtaken is left alone.
   *
   * @example
   * await sweeper.purge(removed, report); // report.purged: ['1i5'] once its removeTime has passed
   */
  async purge(res: Resource, report: SweepReport): Promise<void> {
    const cur = await this.opts.store.get(res.id);
    const due = cur && purgeDueAt(cur);
    if (!cur || due === undefined || due > this.now()) return;
    try {
      const { runs } = await this.opts.ledger.begin(cur, 'purge', {}, SYSTEM_CALLER);
      await this.opts.runs.dispatch(runs);
      report.purged.push(cur.id);
      this.opts.log?.(`purging ${cur.id}, removed until ${new Date(due).toISOString()}`);
    } catch (e) {
      // Changed meanwhile (restored, or purged by hand): nothing is due any more.
      if (e instanceof ConflictError || e instanceof NotFoundError) return;
      throw e;
    }
  }
}
