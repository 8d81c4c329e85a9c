/**
 * @module
 * The sweeper: no resource may stay stuck in a transitioning state, and no removed instance outlives its
 * `removeTime`. It reads the sparse `byDeadline` index (resources with a running action, and removed instances
 * awaiting their purge) up to now and, per action, asks the workflow engine what happened: an execution that
 * never started (or was lost with a local restart) is re-driven under the same name; one that ended without
 * finishing the action, or overran its deadline, is failed cleanly. A due removed instance is purged.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import { SYSTEM_CALLER, type ProcessEngine } from '../domain/engine.js';
import { padNum, purgeDueAt, type Resource } from '../store/resource.js';
import { DEADLINE_SHARDS } from '../store/table.js';
import { failStateOf, workflowFor, WORKFLOWS, type WorkflowSpec } from './definitions.js';
import type { WorkflowEngine } from './types.js';

export interface SweeperOptions {
  engine: ProcessEngine;
  workflows: WorkflowEngine;
  /** Re-drives before giving up on an action whose execution keeps disappearing (default 3). */
  maxRedrives?: number;
  /** How long a re-driven action gets before the next check (ms). */
  redriveDeadlineMs?: (baseType: string, action: string) => number;
  now?: () => number;
  log?: (msg: string) => void;
  /**
   * Fails an action the way its workflow would (the tasks' `fail`, which also releases a held migration target).
   * Default: `engine.fail` with the failure state of the workflow's first step.
   */
  fail?: (res: Resource, workflow: string, message: string) => Promise<boolean>;
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

/**
 * Finds and resolves stuck transitions, and starts due purges.
 *
 * @example
 * const sweeper = new Sweeper({ engine, workflows: wf });
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
   * const { redriven, failed, purged } = await sweeper.sweep();
   */
  async sweep(): Promise<SweepReport> {
    const report = emptySweepReport();
    const now = this.now();
    const store = this.opts.engine.store;
    for (let shard = 0; shard < DEADLINE_SHARDS; shard++) {
      for await (const page of store.scanIndexRange({ index: 'byDeadline', partition: `T#${shard}`, below: `${padNum(now + 1)}#` })) {
        for (const res of page) {
          if (res.action) await this.resolve(res, report);
          else await this.purge(res, report);
        }
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
    const fail = async (message: string) => {
      if (this.opts.fail) return this.opts.fail(res, workflow, message);
      return !!(await this.opts.engine.fail(ref, message, failStateOf(workflow, sweptStep(workflow), act.from)));
    };

    if (status === 'RUNNING') {
      if (!overdue) return;
      await this.opts.workflows.stop(workflow, act.id, 'Deadline passed; stopped by the sweeper');
      if (await fail(`'${act.name}' did not finish in time and was stopped`)) report.failed.push(res.id);
      return;
    }
    if (status === 'NOT_FOUND' && (act.redrives ?? 0) < (this.opts.maxRedrives ?? 3)) {
      // Never started (a crash between the transition write and StartExecution) or lost with a local restart.
      const extended = await this.extend(res, workflow);
      if (!extended) return;
      await this.opts.workflows.start(workflow, { id: res.id, actionId: act.id, workflow });
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
    const cur = await this.opts.engine.store.get(res.id);
    const due = cur && purgeDueAt(cur);
    if (!cur || due === undefined || due > this.now()) return;
    try {
      await this.opts.engine.begin(cur, 'purge', {}, SYSTEM_CALLER);
      report.purged.push(cur.id);
      this.opts.log?.(`purging ${cur.id}, removed until ${new Date(due).toISOString()}`);
    } catch (e) {
      // Changed meanwhile (restored, or purged by hand): nothing is due any more.
      if (e instanceof ConflictError || e instanceof NotFoundError) return;
      throw e;
    }
  }

  /** Counts the re-drive and moves the deadline, fenced by the action id. */
  private async extend(res: Resource, workflow: string): Promise<boolean> {
    const act = res.action!;
    const ms = this.opts.redriveDeadlineMs?.(res.baseType, act.name) ?? 60_000;
    try {
      await this.opts.engine.store.mutate(res.id, (cur) => {
        if (cur.action?.id !== act.id) throw new Error('superseded');
        return { ...cur, action: { ...cur.action, redrives: (cur.action.redrives ?? 0) + 1, deadline: this.now() + ms } };
      });
      return true;
    } catch (e) {
      if ((e as Error).message === 'superseded') return false;
      throw e;
    }
  }
}

/**
 * The step whose failure rule applies to an action the sweeper ends: the last one, since the work may have got
 * that far (a stuck migrate may already have stopped the instance on its source, so it fails to `error`).
 *
 * @example
 * sweptStep('instance-migrate') // 'ActivateOnTarget'
 */
export function sweptStep(workflow: string): string {
  const spec: WorkflowSpec | undefined = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow];
  return spec?.steps[spec.steps.length - 1]?.name ?? 'Complete';
}
