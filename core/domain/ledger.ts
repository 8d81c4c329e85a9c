/**
 * @module
 * The lifecycle ledger: the one owner of every write of an action's life. Each verb is one conditional write of
 * the resource item (a transition guarded by the process table's start states, or a write fenced by the action
 * id), and none of them runs work: `begin` and `complete` return the runs that should follow, and whoever called
 * them (the API service, a workflow task, the sweeper) hands those to its `Runs`.
 *
 *   begin ──▶ state := transitioning, action := {id, deadline}        → runs: [this action's workflow]
 *   report (progress, heartbeat message), amend (input), markDue, redrive (extends)      (fenced by action id)
 *   complete(results) ──▶ done state, effects, agent results, chained action             → runs: [chain, links]
 *   fail(failure) ──▶ failure state, transitioning: error, held capacity given back
 */
import { randomUUID } from 'node:crypto';
import { ApiError, ConflictError, NotFoundError } from '../errors.js';
import { hostIdOf } from './hosts.js';
import { chainedAfter, EFFECTS, processOf, statesFor, type ProcessDef, type StateField } from '../process/lifecycle.js';
import { actionDeadlineMs, failStateOf, stepOf, workflowFor, type StepBounds, type WorkflowName } from '../process/workflows.js';
import type { CurrentAction, RequestSource, Resource } from '../store/item.js';
import type { Store } from '../store/store.js';

/** The resource and the action a write is fenced by. */
export interface ActionRef {
  id: string;
  actionId: string;
}

/** Work that should run next: the workflow of an action that has just begun. */
export interface NextRun extends ActionRef {
  baseType: string;
  action: string;
  workflow: WorkflowName;
  /** The resource as the ledger wrote it: an in-process run finishes from this copy instead of reading it again. */
  current?: Resource;
}

/** A committed write of an action's life, and the runs it calls for. */
export interface Committed {
  resource: Resource;
  runs: NextRun[];
}

/** Why an action failed, for `fail`. */
export interface Failure {
  /** What went wrong, as the resource will show it. */
  message: string;
  /** The workflow step that failed: its rule picks the failure state. */
  step?: string;
  /** Ended from outside its workflow (the sweeper): the last step's rule applies, since the work may have got that far. */
  outside?: true;
  /** The host went silent during the step: no heartbeat in time, or no outcome before its timeout. */
  hostSilent?: 'heartbeat' | 'timeout';
  /** A failure state that overrides the steps' rules. */
  state?: string;
}

/** Gives back a host's capacity that an instance held (the scheduler). */
export interface Capacity {
  release(hostId: string, instance: Resource): Promise<void>;
}

export interface LedgerOptions {
  /** The host steps' timeout and heartbeat, from which every action's deadline follows. */
  bounds: StepBounds;
  /** Where a failed migrate gives back the target host it had reserved. */
  capacity?: Capacity;
  /** Seconds a removed resource stays listed before it may be purged (cattle: 60). */
  removeDelaySeconds?: number;
  /** Seconds a purged record is kept before it expires (DynamoDB TTL). */
  purgedRetentionSeconds?: number;
  now?: () => number;
}

/** Fields a host agent's result may set on the instance (strings; `publicEndpoints` is checked on its own). */
export const AGENT_RESULT_FIELDS = ['externalId', 'primaryIpAddress'] as const;

/** The caller recorded on actions Drover starts on its own (a due purge, an interrupted create driven again). */
export const SYSTEM_CALLER = 'system';

/** Raised inside a fenced write that finds the resource under another action: the late writer does nothing. */
class SupersededError extends Error {
  constructor(ref: ActionRef) {
    super(`action ${ref.actionId} on ${ref.id} was superseded`);
    this.name = 'SupersededError';
  }
}

/**
 * Reads the state field a process moves.
 *
 * @example
 * stateOf(instance, 'allocationState') // 'active'
 */
export function stateOf(res: Resource, field: StateField): string {
  if (field === 'state') return res.state;
  const v = res.fields[field];
  return typeof v === 'string' ? v : 'inactive';
}

function withState(res: Resource, field: StateField, value: string): Resource {
  if (field === 'state') return { ...res, state: value };
  return { ...res, fields: { ...res.fields, [field]: value } };
}

/**
 * nova-style wording for a refused transition.
 *
 * @example
 * stateConflictMessage(c, 'start') // "Cannot 'start' container 1i5 while it is in state running"
 */
export function stateConflictMessage(res: Resource, action: string, state = res.state): string {
  return `Cannot '${action}' ${res.type} ${res.id} while it is in state ${state}`;
}

/**
 * The ledger. Stateless apart from its store and options; one per process.
 *
 * @example
 * const { resource, runs } = await ledger.begin(container, 'stop', { remove: true }, 'admin');
 * resource.state // 'stopping'
 * await workflowRuns.dispatch(runs);
 */
export class Ledger {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly opts: LedgerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Moves `res` into the action's transitioning state (conditional on the process's start states and the
   * version) and records the action with its deadline. A concurrent change that makes the action invalid is a
   * `ConflictError`. `source` (the client the request came from) is kept on the action for the audit trail.
   * `also`, applied first to the current copy, writes the caller's own non-action fields in the same conditional
   * write (automatic recovery clears its due time with the restart it begins), or throws to refuse.
   *
   * @example
   * const { resource, runs } = await ledger.begin(c, 'start', {}, 'admin'); // runs: [{ workflow: 'instance-start', ... }]
   */
  async begin(
    res: Resource,
    action: string,
    input: Record<string, unknown>,
    caller: string,
    source?: RequestSource,
    also?: (cur: Resource) => Resource,
  ): Promise<Committed> {
    const p = this.process(res, action);
    const field = p.field ?? 'state';
    const actionId = randomUUID();
    const { after } = await this.store.mutate(
      res.id,
      (read) => {
        const cur = also ? also(read) : read;
        const from = stateOf(cur, field);
        if (!p.from.includes(from)) throw new ConflictError(stateConflictMessage(cur, action, from));
        // A process on another field (a health update, allocate) never takes the place of an open action: its
        // workflow would be fenced out and the resource left transitioning.
        if (field !== 'state' && cur.action) throw new ConflictError(stateConflictMessage(cur, action, cur.state));
        return this.started({ ...cur, ...clearedTransitioning() }, p, action, { id: actionId, input, caller, from, ...sourceOf(source) });
      },
      { state: () => ({ field, in: p.from }), current: res },
    );
    return { resource: after, runs: [this.runOf(after)] };
  }

  /**
   * Stores a new resource already under its `create` action (one write: it is never seen `requested`), and returns
   * the run that creates it. A crash before that run starts leaves an open action, which the sweeper re-drives.
   *
   * @example
   * const { resource, runs } = await ledger.create(newContainer, 'admin'); // resource.state === 'creating'
   */
  async create(res: Resource, caller: string, source?: RequestSource): Promise<Committed> {
    const p = this.process(res, 'create');
    const from = stateOf(res, p.field ?? 'state');
    if (!p.from.includes(from)) throw new ConflictError(stateConflictMessage(res, 'create', from));
    const written = await this.store.create(this.started({ ...res, ...clearedTransitioning() }, p, 'create', { id: randomUUID(), input: {}, caller, from, ...sourceOf(source) }));
    return { resource: written, runs: [this.runOf(written)] };
  }

  /**
   * Finishes the action: the done state, the process's effects, the agent's result fields, and the chained action
   * if one follows (begun in the same write). Then starts the process's link steps. A stale action id (superseded,
   * or already completed) changes nothing, so duplicate completions have exactly one effect.
   *
   * @example
   * const done = await ledger.complete(ref, { externalId: 'c0ffee' }); // done?.resource.state === 'running'
   */
  async complete(ref: ActionRef, results: Record<string, unknown> = {}, current?: Resource): Promise<Committed | undefined> {
    let finished: CurrentAction | undefined;
    const written = await this.fenced(ref, (cur, act) => {
      finished = act;
      const p = this.process(cur, act.name);
      const field = p.field ?? 'state';
      const { done } = statesFor(p, act.from);
      let next = withState({ ...cur, action: null, fields: { ...cur.fields, ...agentResults(results) } }, field, done);
      const ctx = { now: this.now(), removeDelaySeconds: this.opts.removeDelaySeconds ?? 60, purgedRetentionSeconds: this.opts.purgedRetentionSeconds ?? 86_400 };
      for (const effect of p.effects ?? []) next = EFFECTS[effect](next, ctx);
      const chained = chainedAfter(p, cur.fields, act.input);
      if (!chained) return next;
      // cattle continues from the parent's transitioning state straight into the child's. The child starts from
      // the parent's transitioning state when it may (create → start from `creating`, so a failed start after
      // create ends in `error`), else from the parent's done state (the table is checked on load: it may).
      const np = this.process(cur, chained);
      const childField = np.field ?? 'state';
      const childFrom = np.from.includes(stateOf(cur, childField)) ? stateOf(cur, childField) : done;
      return this.started(next, np, chained, { id: randomUUID(), input: { ...(p.chain?.input ?? {}) }, caller: act.caller, from: childFrom, ...sourceOf(act.source) });
    }, current);
    if (!written || !finished) return undefined;
    const runs = written.action ? [this.runOf(written)] : [];
    runs.push(...(await this.driveLinks(written, finished)));
    return { resource: written, runs };
  }

  /**
   * Fails the action: the resource leaves its transitioning state for the failure state (the failed step's rule,
   * else back where it came from) with `transitioning: "error"` and the message, as cattle shows agent errors. A
   * migration target it had reserved is cleared in the same write and then given back.
   *
   * @example
   * await ledger.fail(ref, { message: 'image not found', step: 'Activate' });
   */
  async fail(ref: ActionRef, failure: Failure, current?: Resource): Promise<Resource | undefined> {
    let heldTarget: string | undefined;
    const written = await this.fenced(
      ref,
      (cur, act) => {
        const p = this.process(cur, act.name);
        const workflow = workflowFor(cur.baseType, act.name);
        const state =
          failure.state ?? (failure.step !== undefined || failure.outside ? failStateOf(workflow, failure.step, act.from) : act.from);
        const target = cur.fields.migrationTargetHostId;
        heldTarget = typeof target === 'string' && target ? target : undefined;
        const fields = heldTarget ? { ...cur.fields, migrationTargetHostId: null } : cur.fields;
        return withState(
          { ...cur, fields, action: null, transitioningError: 'error', transitioningMessage: failureMessage(cur, workflow, failure), transitioningProgress: null },
          p.field ?? 'state',
          state,
        );
      },
      current,
    );
    // Cleared first, then given back: a repeated fail finds nothing to release.
    if (written && heldTarget) await this.opts.capacity?.release(heldTarget, written);
    return written;
  }

  /**
   * Records progress of the running action: `transitioningMessage`, `transitioningProgress` and fields the work
   * produced (`hostId`, `allocationState`, ...). `undefined` when the action has finished or been superseded. With
   * `current` (a copy the caller just read; a stale one costs a retry) it writes only when something a reader sees
   * changes; without one it writes at once, fenced by the action id, with no read.
   *
   * @example
   * await ledger.report(ref, { message: 'Pulling image', progress: 40 });
   */
  async report(
    ref: ActionRef,
    update: { message?: string | null; progress?: number | null; fields?: Record<string, unknown> },
    current?: Resource,
  ): Promise<Resource | undefined> {
    // Without a copy to compare with, one conditional update is cheaper than reading first to skip a write.
    if (!current) {
      return this.store.updateUnderAction(ref.id, ref.actionId, {
        transitioningMessage: update.message,
        transitioningProgress: update.progress,
        fields: update.fields,
      });
    }
    return this.fenced(
      ref,
      (cur) => {
        if (reportsNothingNew(cur, update)) return UNCHANGED;
        const next = { ...cur, fields: { ...cur.fields, ...(update.fields ?? {}) } };
        if (update.message !== undefined) next.transitioningMessage = update.message;
        if (update.progress !== undefined) next.transitioningProgress = update.progress;
        return next;
      },
      current,
    );
  }

  /**
   * Adds to the running action's input (`remove: true` on a plain stop, so it chains into remove when it ends).
   *
   * @example
   * await ledger.amend({ id: '1i5', actionId }, { remove: true });
   */
  amend(ref: ActionRef, patch: Record<string, unknown>, current?: Resource): Promise<Resource | undefined> {
    return this.fenced(ref, (cur, act) => ({ ...cur, action: { ...act, input: { ...act.input, ...patch } } }), current);
  }

  /**
   * Makes the action due now, so the next sweep looks at it (its workflow could not be started).
   *
   * @example
   * await ledger.markDue(ref);
   */
  markDue(ref: ActionRef): Promise<Resource | undefined> {
    return this.fenced(ref, (cur, act) => ({ ...cur, action: { ...act, deadline: this.now() } }));
  }

  /**
   * Counts a re-drive of an action whose execution was lost and extends its deadline afresh; returns the run to
   * start again (under the same name), or `undefined` if the action is no longer open.
   *
   * @example
   * const run = await ledger.redrive(ref); if (run) await workflows.start(run.workflow, executionInput(run));
   */
  async redrive(ref: ActionRef): Promise<NextRun | undefined> {
    const written = await this.fenced(ref, (cur, act) => ({
      ...cur,
      action: { ...act, redrives: (act.redrives ?? 0) + 1, deadline: this.now() + this.deadlineMs(cur.baseType, act.name) },
    }));
    return written?.action ? this.runOf(written) : undefined;
  }

  /**
   * The resource if `ref` is still its running action, else `undefined`.
   *
   * @example
   * const cur = await ledger.current(ref); if (!cur) return; // superseded or finished
   */
  async current(ref: ActionRef): Promise<Resource | undefined> {
    const res = await this.store.get(ref.id);
    return res?.action?.id === ref.actionId ? res : undefined;
  }

  /** How long an action may stay open before the sweeper treats it as stuck. */
  deadlineMs(baseType: string, action: string): number {
    return actionDeadlineMs(baseType, action, this.opts.bounds);
  }

  /** `res` in the transitioning state of process `p`, under a new current action. */
  private started(res: Resource, p: ProcessDef, name: string, a: Pick<CurrentAction, 'id' | 'input' | 'caller' | 'from' | 'source'>): Resource {
    const at = this.now();
    const action: CurrentAction = { ...a, name, at, deadline: at + this.deadlineMs(res.baseType, name) };
    return withState({ ...res, action }, p.field ?? 'state', statesFor(p, a.from).transitioning);
  }

  private runOf(res: Resource): NextRun {
    const act = res.action!;
    return { id: res.id, actionId: act.id, baseType: res.baseType, action: act.name, workflow: workflowFor(res.baseType, act.name), current: res };
  }

  /**
   * One write fenced by the action id: `undefined` when the resource is under another action or gone. `fn` may
   * answer `UNCHANGED` to write nothing (the resource is returned as read). Fenced writes retry longer than
   * ordinary ones (40 attempts), because giving up would leave the resource stuck.
   */
  private async fenced(
    ref: ActionRef,
    fn: (cur: Resource, act: CurrentAction) => Resource | typeof UNCHANGED,
    current?: Resource,
  ): Promise<Resource | undefined> {
    let unchanged: Resource | undefined;
    try {
      const { after } = await this.store.mutate(
        ref.id,
        (cur) => {
          if (!cur.action || cur.action.id !== ref.actionId) throw new SupersededError(ref);
          const next = fn(cur, cur.action);
          if (next !== UNCHANGED) return next;
          unchanged = cur;
          throw new Unchanged();
        },
        { attempts: 40, current },
      );
      return after;
    } catch (e) {
      if (e instanceof Unchanged) return unchanged;
      if (e instanceof SupersededError || e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * The instance's links follow it (spec §3.6): the completed process's `links` column names the process to start
   * on each link (the first whose start states fit). A link another request is changing right now is left alone
   * rather than failing the instance's process.
   */
  private async driveLinks(instance: Resource, act: CurrentAction): Promise<NextRun[]> {
    const steps = processOf(instance.baseType, act.name)?.links;
    const ids = instance.fields.instanceLinkIds;
    const runs: NextRun[] = [];
    if (!steps || !Array.isArray(ids)) return runs;
    for (const id of ids) {
      const link = typeof id === 'string' ? await this.store.get(id) : undefined;
      if (!link || link.baseType !== 'instanceLink') continue;
      const step = steps.find((s) => processOf('instanceLink', s.action)?.from.includes(link.state));
      if (!step) continue;
      try {
        runs.push(...(await this.begin(link, step.action, { ...step.input }, act.caller)).runs);
      } catch (e) {
        if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
      }
    }
    return runs;
  }

  private process(res: Resource, action: string): ProcessDef {
    const p = processOf(res.baseType, action);
    if (!p) throw new ApiError(422, 'InvalidAction', { fieldName: 'action', message: null });
    return p;
  }
}

/** What a fenced write's function answers when there is nothing to write. */
const UNCHANGED = Symbol('unchanged');

/** Thrown out of `Store.mutate` to skip a write that would change nothing. */
class Unchanged extends Error {}

/** Whether a report would leave what a reader sees as it is: every value it sets is already there. */
function reportsNothingNew(cur: Resource, u: { message?: string | null; progress?: number | null; fields?: Record<string, unknown> }): boolean {
  if (u.message !== undefined && u.message !== (cur.transitioningMessage ?? null)) return false;
  if (u.progress !== undefined && u.progress !== (cur.transitioningProgress ?? null)) return false;
  return Object.entries(u.fields ?? {}).every(([k, v]) => Object.hasOwn(cur.fields, k) && Object.is(cur.fields[k], v));
}

function agentResults(results: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of AGENT_RESULT_FIELDS) if (typeof results[k] === 'string') out[k] = results[k];
  const endpoints = results.publicEndpoints;
  if (Array.isArray(endpoints) && endpoints.length <= PUBLIC_ENDPOINTS_MAX && endpoints.every(isPublicEndpoint)) {
    out.publicEndpoints = endpoints.map(({ ipAddress, port, privatePort, protocol }) => ({ ipAddress, port, privatePort, protocol }));
  }
  return out;
}

/** Most published ports an instance shows (as many as its `ports` may list). */
const PUBLIC_ENDPOINTS_MAX = 256;

/** Rancher's `publicEndpoint` as an agent reports it: where a published port of the instance is reached. */
function isPublicEndpoint(e: unknown): e is { ipAddress: string; port: number; privatePort: number; protocol: string } {
  if (typeof e !== 'object' || e === null) return false;
  const { ipAddress, port, privatePort, protocol } = e as Record<string, unknown>;
  const isPort = (n: unknown) => Number.isInteger(n) && (n as number) > 0 && (n as number) < 65536;
  return typeof ipAddress === 'string' && ipAddress.length <= 255 && isPort(port) && isPort(privatePort) && (protocol === 'tcp' || protocol === 'udp');
}

/** The message a failure leaves: a silent host is named, with the command it was running. */
function failureMessage(cur: Resource, workflow: string, f: Failure): string {
  if (!f.hostSilent) return f.message;
  const hostId = hostIdOf(cur) ?? 'unknown';
  const step = f.step === undefined ? undefined : stepOf(workflow, f.step);
  const what = step?.kind === 'host' ? step.command : f.step;
  return f.hostSilent === 'heartbeat'
    ? `Host ${hostId} stopped responding during ${what} (no heartbeat in time)`
    : `Timed out waiting for host ${hostId} to finish ${what}`;
}

/** The action's `source` attribute, only when there is one (actions Drover starts on its own have none). */
function sourceOf(source: RequestSource | undefined): Pick<CurrentAction, 'source'> {
  return source ? { source } : {};
}

function clearedTransitioning(): Partial<Resource> {
  return { transitioningError: null, transitioningMessage: null, transitioningProgress: null };
}
