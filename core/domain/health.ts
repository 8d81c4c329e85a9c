/**
 * @module
 * Health checks and restart policies: what host agents report about running instances becomes ordinary processes
 * (`updatehealthy`/`updateunhealthy`, `exit`), and the recovery keeper, watching the event feed, acts on it by
 * starting ordinary actions (`restart`, `start`), with exponential backoff and a cap, so a crash loop ends in `error`
 * with the reason rather than in a flood of actions.
 *
 *   agent POST /agent/health ─▶ reportHealth ─▶ updatehealthy | updateunhealthy (finished in place, no workflow)
 *   agent POST /agent/exits  ─▶ reportExits  ─▶ exit (running → stopped), `fields.exit` = { code, at, message }
 *   event feed ─▶ Recovery: unhealthy + strategy recreate        ─┐ record the attempt on `fields.recovery`
 *                           exited + restartPolicy always/on-failure ┘ with its due time (`nextAt`, indexed: RD#)
 *                           past the cap ─▶ (stop, then) error, with the reason as its message
 *   due (a timer in this process, or runDue on a schedule) ─▶ begin restart | start, clearing `nextAt` in that write
 *
 * The due time is durable: an embedded stack stopped during a backoff finds the recovery at its next start, and in
 * AWS the stream consumer only records attempts while a scheduled function (`functions/recovery.ts`) runs `runDue`.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import type { ExitReport, HealthReport } from '../agent/protocol.js';
import { processOf } from '../process/lifecycle.js';
import { recoveryDueAt, type Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { EventFeed } from './events.js';
import { hostIdOf } from './hosts.js';
import { SYSTEM_CALLER, type Ledger } from './ledger.js';
import { InlineRuns, type Runs } from './runs.js';

/** The backoff and the caps of automatic recovery (`DROVER_RESTART_*`). */
export interface RecoveryOptions {
  /** First wait before a restart, ms; doubles with each attempt (`DROVER_RESTART_BACKOFF_MS`). */
  backoffMs: number;
  /** Longest wait, ms (`DROVER_RESTART_BACKOFF_CAP_MS`). */
  backoffCapMs: number;
  /** Attempts allowed when `restartPolicy.maximumRetryCount` does not say, and for health recreates (`DROVER_RESTART_MAX_RETRIES`). */
  maxRetries: number;
  /** Attempts closer together than this count toward the cap; a quieter instance starts counting afresh (`DROVER_RESTART_WINDOW_SECONDS`). */
  windowSeconds: number;
}

/** What the agent routes hand reports to. Each answers the ids to send again later (the instance is under an action). */
export interface InstanceReports {
  reportHealth(hostId: string, reports: readonly HealthReport[]): Promise<{ retry: string[] }>;
  reportExits(hostId: string, reports: readonly ExitReport[]): Promise<{ retry: string[] }>;
}

/** What recovery keeps on the instance (`fields.recovery`, not an action field: written with `Store.mutate`). */
export interface RecoveryRecord {
  /** Attempts in the current window. */
  attempts: number;
  firstAt: number;
  /** When the last attempt (or the giving up) was decided: reports older than this are dealt with. */
  lastAt: number;
  /** When the next action is due (the backoff); cleared by the write that begins it. */
  nextAt?: number;
  /** The action due at `nextAt`: `restart` (a health recreate, of a running instance) or `start` (of a stopped one). */
  action?: RecoveryAction;
  /** Set when the cap was reached: the instance is taken to `error` with this message. */
  gaveUp?: string;
}

/** What recovery begins once its backoff has passed. */
export type RecoveryAction = 'restart' | 'start';

/** The state an instance must still be in for its pending recovery action to begin. */
const EXPECTED: Record<RecoveryAction, string> = { restart: 'running', start: 'stopped' };

/** Why an instance needs recovery, judged from the resource alone. */
type Need = { kind: 'recreate' | 'restart'; why: string; cap: number } | { kind: 'giveUp'; why: string };

interface Exit {
  code: number;
  at: number;
  message?: string;
}

const record = (res: Resource): RecoveryRecord | undefined => res.fields.recovery as RecoveryRecord | undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/**
 * Whether `res` needs Drover to act, and what for; `undefined` when it does not (it is under an action, healthy,
 * its strategy is `none`, its exit was dealt with, ...).
 *
 * @example
 * needOf(unhealthyContainer, { maxRetries: 5 }) // { kind: 'recreate', why: 'healthCheck strategy recreate', cap: 5 }
 */
export function needOf(res: Resource, o: Pick<RecoveryOptions, 'maxRetries'>): Need | undefined {
  if (res.baseType !== 'instance' || res.action) return undefined;
  const rec = record(res);
  const last = rec?.lastAt ?? 0;
  if (rec?.gaveUp && res.state === 'stopped') return { kind: 'giveUp', why: rec.gaveUp };
  if (res.state === 'running' && res.fields.healthState === 'unhealthy' && (num(res.fields.healthUpdated) ?? 0) > last) {
    const hc = obj(res.fields.healthCheck);
    const strategy = typeof hc.strategy === 'string' ? hc.strategy : 'recreate';
    // No services in Drover: an instance's quorum group is itself, so a quorum above 1 can never be met.
    const quorum = num(obj(hc.recreateOnQuorumStrategyConfig).quorum) ?? 1;
    if (strategy === 'recreate' || (strategy === 'recreateOnQuorum' && quorum <= 1)) {
      return { kind: 'recreate', why: `healthCheck strategy ${strategy}`, cap: o.maxRetries };
    }
    return undefined;
  }
  const exit = res.fields.exit as Exit | undefined;
  if (res.state === 'stopped' && exit && exit.at > last) {
    const policy = obj(res.fields.restartPolicy);
    const name = policy.name;
    if (name !== 'always' && !(name === 'on-failure' && exit.code !== 0)) return undefined;
    const max = num(policy.maximumRetryCount);
    const cap = max !== undefined && max > 0 ? max : o.maxRetries;
    const why = `restartPolicy ${name}, maximumRetryCount ${max !== undefined && max > 0 ? max : `unset (default ${o.maxRetries})`}`;
    return { kind: 'restart', why, cap };
  }
  return undefined;
}

/**
 * The wait before attempt `n` (1-based): `base · 2^(n-1)`, at most `cap`.
 *
 * @example
 * backoffMs(3, { backoffMs: 1000, backoffCapMs: 60_000 }) // 4000
 */
export function backoffMs(n: number, o: Pick<RecoveryOptions, 'backoffMs' | 'backoffCapMs'>): number {
  return Math.min(o.backoffCapMs, o.backoffMs * 2 ** Math.max(0, Math.min(n - 1, 30)));
}

/** `1.2s`, `2 minutes`: how long the attempts took, for the message that gives up. */
function span(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, ms / 1000).toFixed(1)}s`;
  const m = Math.round(ms / 60_000);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

export interface InstanceHealthDeps {
  store: Store;
  ledger: Ledger;
  /** Where the restarts and starts recovery begins go (their workflows). */
  runs: Runs;
  options: RecoveryOptions;
  now?: () => number;
  log?: (err: unknown) => void;
}

/**
 * Takes agents' health and exit reports, and (once `start`ed on the event feed) recovers instances by their
 * `healthCheck.strategy` and `restartPolicy`. One per process.
 *
 * @example
 * const health = new InstanceHealth({ store, ledger, runs, options: { backoffMs: 1000, backoffCapMs: 60_000, maxRetries: 5, windowSeconds: 600 } });
 * const stop = health.start(eventFeed);
 * await health.reportHealth('1h1', [{ resourceId: '1i5', healthy: false, message: 'connection refused' }]);
 */
export class InstanceHealth implements InstanceReports {
  /** Processes with no workflow (health updates, exits) are finished in place: no execution for a flap. */
  private readonly inPlace: InlineRuns;
  private readonly now: () => number;
  private readonly log: (err: unknown) => void;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Whether due recoveries are begun by timers in this process (not in a Lambda, where `runDue` runs on a schedule). */
  private timersOn = true;
  /** One decision at a time per instance in this process. */
  private readonly chains = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: InstanceHealthDeps) {
    this.inPlace = new InlineRuns(deps.ledger);
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? ((e) => console.error('health:', e));
  }

  /**
   * Moves `healthState` by the agent's reports: `updatehealthy` or `updateunhealthy` when it changes and the process
   * table allows it from the current value (an unhealthy report while `initializing` is ignored, as cattle does).
   * An instance under an action is answered in `retry`; one not on this host, or not running, is ignored.
   *
   * @example
   * await health.reportHealth('1h1', [{ resourceId: '1i5', healthy: true }]) // { retry: [] }
   */
  async reportHealth(hostId: string, reports: readonly HealthReport[]): Promise<{ retry: string[] }> {
    const retry: string[] = [];
    for (const r of reports) {
      // Reports of one instance apply in order: after one that must wait, the later ones wait too.
      if (retry.includes(r.resourceId)) continue;
      const res = await this.onHost(hostId, r.resourceId);
      if (!res || !res.fields.healthCheck) continue;
      if (res.action) {
        retry.push(r.resourceId);
        continue;
      }
      if (res.state !== 'running') continue;
      const action = r.healthy ? 'updatehealthy' : 'updateunhealthy';
      const target = r.healthy ? 'healthy' : 'unhealthy';
      const from = res.fields.healthState;
      if (from === target || typeof from !== 'string' || !processOf(res.baseType, action)?.from.includes(from)) continue;
      if (!(await this.finishInPlace(res, action))) retry.push(r.resourceId);
    }
    return { retry };
  }

  /**
   * Records instances that stopped on their own: the `exit` process (running → stopped, no host work) with the exit
   * code kept on the instance (`fields.exit`), which its `restartPolicy` then acts on.
   *
   * @example
   * await health.reportExits('1h1', [{ resourceId: '1i5', exitCode: 137, message: 'killed' }])
   */
  async reportExits(hostId: string, reports: readonly ExitReport[]): Promise<{ retry: string[] }> {
    const retry: string[] = [];
    for (const r of reports) {
      const res = await this.onHost(hostId, r.resourceId);
      if (!res) continue;
      if (res.action) {
        // A start still finishing (an instance that exits at once), or a stop: asked again, it finds the outcome.
        retry.push(r.resourceId);
        continue;
      }
      if (res.state !== 'running') continue;
      try {
        const begun = await this.deps.ledger.begin(res, 'exit', { exitCode: r.exitCode }, SYSTEM_CALLER);
        const ref = { id: res.id, actionId: begun.resource.action!.id };
        const exit: Exit = { code: r.exitCode, at: this.now(), ...(r.message ? { message: r.message } : {}) };
        const reported = await this.deps.ledger.report(ref, { fields: { exit } }, begun.resource);
        const done = await this.deps.ledger.complete(ref, {}, reported);
        if (done) await this.inPlace.dispatch(done.runs);
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        retry.push(r.resourceId);
      }
    }
    return { retry };
  }

  /**
   * Acts on every instance event from now on; returns the stop (which also drops pending backoff timers). With
   * `timers: false` (the table stream's consumer in AWS) it only records attempts: `runDue` begins them when due.
   *
   * @example
   * const stop = health.start(drover.events); ... stop();
   */
  start(feed: EventFeed, opts: { timers?: boolean } = {}): () => void {
    this.stopped = false;
    this.timersOn = opts.timers ?? true;
    const off = feed.subscribe((e) => {
      if (e.resource.baseType === 'instance' && needOf(e.resource, this.deps.options)) this.consider(e.resource.id);
    });
    return () => {
      this.stopped = true;
      off();
      this.timers.forEach(clearTimeout);
      this.timers.clear();
    };
  }

  /**
   * Begins every recovery due at or before `now` (read from the `RD#` partitions of `byDeadline`, no scan): the
   * instance must still be in the state its attempt was recorded for and under no action; one that is not has its
   * due time cleared instead. Safe to run from several processes at once: the begin is conditional on the due time
   * being still there, and clears it in the same write, so each recovery begins exactly once. Returns the ids begun.
   *
   * @example
   * const begun = await health.runDue(); // ['1i5']
   */
  async runDue(now = this.now()): Promise<string[]> {
    const begun: string[] = [];
    for await (const page of this.deps.store.dueByDeadline(partitions.recoveryDue, now)) {
      for (const res of page) if (await this.recover(res)) begun.push(res.id);
    }
    return begun;
  }

  /**
   * Arms a timer in this process for every recovery recorded but not begun (those due already begin at once):
   * after a restart, pending backoffs end when they were due, not at the next `runDue` pass.
   *
   * @example
   * await health.resume();
   */
  async resume(): Promise<void> {
    for await (const page of this.deps.store.dueByDeadline(partitions.recoveryDue, undefined)) {
      for (const res of page) {
        const due = dueOf(res);
        if (due) this.arm(res.id, due.at);
      }
    }
  }

  /**
   * Resolves once the decisions under way are made (tests).
   *
   * @example
   * await health.settled();
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  /** Decides about one instance, after any decision about it still under way. */
  private consider(id: string): void {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const p = prev
      .then(() => this.decide(id))
      .catch((e) => this.log(e))
      .finally(() => {
        if (this.chains.get(id) === p) this.chains.delete(id);
      });
    this.chains.set(id, p);
  }

  /**
   * Records the attempt on the instance, conditionally on the need still holding (so of several deciders, one
   * acts), then waits the backoff and acts, or gives up past the cap.
   */
  private async decide(id: string): Promise<void> {
    if (this.stopped) return;
    const res = await this.deps.store.get(id);
    const need = res && needOf(res, this.deps.options);
    if (!res || !need) return;
    if (need.kind === 'giveUp') return this.toError(res, need.why);
    let attempt: RecoveryRecord | undefined;
    try {
      const { after } = await this.deps.store.mutate(
        id,
        (cur) => {
          const again = needOf(cur, this.deps.options);
          if (!again || again.kind !== need.kind) throw new NothingToDo();
          const now = this.now();
          const prev = record(cur);
          const fresh = !prev || now - prev.firstAt > this.deps.options.windowSeconds * 1000;
          const attempts = fresh ? 1 : prev.attempts + 1;
          const firstAt = fresh ? now : prev.firstAt;
          const next: RecoveryRecord = { attempts, firstAt, lastAt: now };
          if (attempts > need.cap) {
            const restarts = attempts - 1;
            next.gaveUp =
              `${need.kind === 'recreate' ? 'Recreated' : 'Restarted'} ${restarts} time${restarts === 1 ? '' : 's'} in ` +
              `${span(now - firstAt)}; giving up (${need.why})`;
          } else {
            next.nextAt = now + backoffMs(attempts, this.deps.options);
            next.action = need.kind === 'recreate' ? 'restart' : 'start';
          }
          attempt = next;
          return { ...cur, fields: { ...cur.fields, recovery: next } };
        },
        { current: res },
      );
      if (attempt?.gaveUp) {
        // A stopped instance goes to error now; a running one is stopped first, and its stop's event brings it here.
        if (after.state === 'stopped') await this.toError(after, attempt.gaveUp);
        else await this.begin(after, 'stop', {});
        return;
      }
    } catch (e) {
      if (e instanceof NothingToDo || e instanceof NotFoundError) return;
      throw e;
    }
    if (this.timersOn) this.arm(id, attempt!.nextAt!);
  }

  /** The fast path in a long-lived process: a timer that begins the recovery at `at` (as `runDue` would). */
  private arm(id: string, at: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(id));
    const timer = setTimeout(() => {
      this.timers.delete(id);
      if (this.stopped) return;
      void this.deps.store
        .get(id)
        .then((cur) => (cur && dueOf(cur)?.at === at ? this.recover(cur) : undefined))
        .catch((e) => this.log(e));
    }, Math.max(0, at - this.now()));
    timer.unref?.();
    this.timers.set(id, timer);
  }

  /**
   * Begins the pending recovery of `res` (a copy read from the index or the table), clearing its due time in the
   * same conditional write; if the instance is no longer in the state the attempt was recorded for, clears the due
   * time alone. True when this call began the action.
   */
  private async recover(res: Resource): Promise<boolean> {
    const due = dueOf(res);
    if (!due) return false;
    // Of several runners (timers, runDue in other processes) the first to write wins; the others find it gone.
    const claim = (cur: Resource, stateOk: boolean): Resource => {
      if (dueOf(cur)?.at !== due.at || dueOf(cur)?.action !== due.action || cur.action) throw new NothingToDo();
      if ((cur.state === EXPECTED[due.action]) !== stateOk) throw stateOk ? new NotAsRecorded() : new NothingToDo();
      const { nextAt: _n, action: _a, ...rest } = record(cur)!;
      return { ...cur, fields: { ...cur.fields, recovery: rest } };
    };
    try {
      const { runs } = await this.deps.ledger.begin(res, due.action, {}, SYSTEM_CALLER, undefined, (cur) => claim(cur, true));
      await this.deps.runs.dispatch(runs);
      return true;
    } catch (e) {
      if (e instanceof NotAsRecorded) {
        // Stopped, started or errored by someone else meanwhile: nothing to recover, the due time goes.
        await this.deps.store.mutate(res.id, (cur) => claim(cur, false)).catch((e2) => {
          if (!(e2 instanceof NothingToDo || e2 instanceof NotFoundError)) throw e2;
        });
        return false;
      }
      if (e instanceof NothingToDo || e instanceof ConflictError || e instanceof NotFoundError) return false;
      throw e;
    }
  }

  /** The `error` process with the reason: begun, then ended by the ledger in `error` with the message shown. */
  private async toError(res: Resource, why: string): Promise<void> {
    try {
      const begun = await this.deps.ledger.begin(res, 'error', {}, SYSTEM_CALLER);
      await this.deps.ledger.fail({ id: res.id, actionId: begun.resource.action!.id }, { message: why, state: 'error' }, begun.resource);
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
    }
  }

  /** Begins an ordinary action as Drover (caller `system`) and hands its runs to the workflows. */
  private async begin(res: Resource, action: string, input: Record<string, unknown>): Promise<void> {
    try {
      const { runs } = await this.deps.ledger.begin(res, action, input, SYSTEM_CALLER);
      await this.deps.runs.dispatch(runs);
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
    }
  }

  /** Begins a process with no workflow and finishes it at once; false when the resource changed under it. */
  private async finishInPlace(res: Resource, action: string): Promise<boolean> {
    try {
      const { runs } = await this.deps.ledger.begin(res, action, {}, SYSTEM_CALLER);
      await this.inPlace.dispatch(runs);
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }

  /** The instance if it is on this agent's host (an agent key is bound to its host). */
  private async onHost(hostId: string, resourceId: string): Promise<Resource | undefined> {
    const res = await this.deps.store.get(resourceId);
    return res && res.baseType === 'instance' && hostIdOf(res) === hostId ? res : undefined;
  }
}

/** The pending recovery of an instance: its action and when it is due (`undefined` when none is pending). */
function dueOf(res: Resource): { action: RecoveryAction; at: number } | undefined {
  const at = recoveryDueAt(res);
  const action = record(res)?.action;
  return at !== undefined && action ? { action, at } : undefined;
}

/** Thrown out of `Store.mutate` when another decider got there first. */
class NothingToDo extends Error {}
/** Thrown out of a recovery's begin when the instance has left the state its attempt was recorded for. */
class NotAsRecorded extends Error {}
