/**
 * @module
 * The process engine: starts lifecycle actions with a conditional transition (driven by the process table)
 * and finishes them, fenced by the action id. *How* an action's work runs is the `ProcessRunner`'s business:
 * here the inline runner completes it in-process; Step Functions workflows plug in behind the same interface.
 *
 *   API request ──begin()──▶ state := transitioning, action := {id,...}   (one conditional write)
 *                 └─runner.run({id, actionId})──▶ work ──▶ complete()      (conditional on action.id)
 *                                                        └▶ chained process? begin next from here
 */
import { randomUUID } from 'node:crypto';
import { ApiError, ConflictError, NotFoundError } from '../errors.js';
import { CHAINS, processOf, statesFor, type ProcessDef, type StateField } from '../process/table.js';
import type { CurrentAction, Resource } from '../store/resource.js';
import type { Store } from '../store/store.js';

/** What a runner needs to find the work: the resource and the action it transitions under. */
export interface ActionRef {
  id: string;
  actionId: string;
}

/** An action handed to a runner: which process of which base type to run. */
export interface RunRef extends ActionRef {
  baseType: string;
  action: string;
}

/**
 * Runs the work of a started process and reports back through `ProcessEngine.complete`/`fail`.
 * `run` resolves once the work is handed off (or, inline, done); it must not throw for agent failures.
 */
export interface ProcessRunner {
  run(engine: ProcessEngine, ref: RunRef): Promise<void>;
  /** How long the action may take before the sweeper treats it as stuck (ms); default 60 s. */
  deadlineMs?(baseType: string, action: string): number;
}

/**
 * Finishes every process in-process, immediately: the no-host runner of the embedded default before
 * workflows exist. It still goes through `complete()`, so fencing and chaining behave as in production.
 *
 * @example
 * const engine = new ProcessEngine(store, new InlineRunner());
 */
export class InlineRunner implements ProcessRunner {
  async run(engine: ProcessEngine, ref: ActionRef): Promise<void> {
    await engine.complete(ref);
  }
}

/** Raised when a fenced write finds the resource under another action: the late writer does nothing. */
export class SupersededError extends Error {
  constructor(ref: ActionRef) {
    super(`action ${ref.actionId} on ${ref.id} was superseded`);
    this.name = 'SupersededError';
  }
}

/** The caller recorded on actions Drover starts on its own (a due purge, an interrupted create driven again). */
export const SYSTEM_CALLER = 'system';

export interface EngineOptions {
  /** Seconds a removed resource stays listed before it may be purged (cattle: 60). */
  removeDelaySeconds?: number;
  /** Seconds a purged record is kept before it expires (DynamoDB TTL). */
  purgedRetentionSeconds?: number;
  now?: () => number;
}

/** Reads the state field a process moves. */
export function stateOf(res: Resource, field: StateField): string {
  if (field === 'state') return res.state;
  const v = res.fields[field];
  return typeof v === 'string' ? v : 'inactive';
}

function withState(res: Resource, field: StateField, value: string): Resource {
  if (field === 'state') return { ...res, state: value };
  return { ...res, fields: { ...res.fields, [field]: value } };
}

/** nova-style wording for a refused transition. */
export function stateConflictMessage(res: Resource, action: string, state = res.state): string {
  return `Cannot '${action}' ${res.type} ${res.id} while it is in state ${state}`;
}

/**
 * Starts and finishes processes. One per process; stateless apart from its store and runner.
 *
 * @example
 * const started = await engine.begin(container, 'stop', { remove: true }, 'admin');
 * started.state // 'stopping'
 */
export class ProcessEngine {
  private readonly now: () => number;

  constructor(
    readonly store: Store,
    readonly runner: ProcessRunner,
    private readonly opts: EngineOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Moves `res` into the action's transitioning state (conditional on the process's start states and the
   * version), records the action on the item, then hands it to the runner. Returns the transitioned resource.
   * A concurrent change that makes the action invalid gives 409 Conflict.
   */
  async begin(res: Resource, action: string, input: Record<string, unknown>, caller: string): Promise<Resource> {
    const p = this.process(res, action);
    const field = p.field ?? 'state';
    const actionId = randomUUID();
    const { after } = await this.store.mutate(
      res.id,
      (cur) => {
        const from = stateOf(cur, field);
        if (!p.from.includes(from)) throw new ConflictError(stateConflictMessage(cur, action, from));
        const at = this.now();
        const deadline = at + (this.runner.deadlineMs?.(res.baseType, action) ?? 60_000);
        const current: CurrentAction = { id: actionId, name: action, input, caller, at, from, deadline };
        return withState(
          { ...cur, action: current, ...clearedTransitioning() },
          field,
          statesFor(p, from).transitioning,
        );
      },
      { state: () => ({ field, in: p.from }), current: res },
    );
    await this.runner.run(this, { id: res.id, actionId, baseType: res.baseType, action });
    return after;
  }

  /**
   * Finishes the action: done state, its effects, and the chained process if one follows. A stale action id
   * (superseded, or already completed) changes nothing, so duplicate completions have exactly one effect.
   */
  async complete(ref: ActionRef): Promise<Resource | undefined> {
    let chained: RunRef | undefined;
    let finished: CurrentAction | undefined;
    let result: Resource;
    try {
      ({ after: result } = await this.store.mutate(ref.id, (cur) => {
        const act = fenced(cur, ref);
        finished = act;
        const p = this.process(cur, act.name);
        const field = p.field ?? 'state';
        const { done } = statesFor(p, act.from);
        let next = this.applyEffects(withState({ ...cur, action: null }, field, done), act.name);
        const nextAction = CHAINS[cur.baseType as keyof typeof CHAINS]?.[act.name]?.(cur.fields, act.input);
        chained = undefined;
        if (nextAction) {
          const np = this.process(cur, nextAction);
          if (!np.from.includes(done)) throw new Error(`invalid chain ${act.name} → ${nextAction}`);
          // The child starts from the parent's transitioning state when it may (create → start from `creating`,
          // so a failed start after create ends in `error`), else from the parent's done state.
          const childFrom = np.from.includes(stateOf(cur, np.field ?? 'state')) ? stateOf(cur, np.field ?? 'state') : done;
          const actionId = randomUUID();
          chained = { id: cur.id, actionId, baseType: cur.baseType, action: nextAction };
          // cattle continues from the parent's transitioning state straight into the child's.
          next = withState(
            {
              ...next,
              action: {
                id: actionId,
                name: nextAction,
                input: {},
                caller: act.caller,
                at: this.now(),
                from: childFrom,
                deadline: this.now() + (this.runner.deadlineMs?.(cur.baseType, nextAction) ?? 60_000),
              },
            },
            np.field ?? 'state',
            statesFor(np, childFrom).transitioning,
          );
        }
        return next;
      }, FENCED_WRITE));
    } catch (e) {
      if (e instanceof SupersededError) return undefined;
      throw e;
    }
    if (finished && result.baseType === 'instance') await this.driveLinks(result, finished);
    if (chained) await this.runner.run(this, chained);
    return result;
  }

  /**
   * The instance's links follow it (spec §3.6): start activates them, stop deactivates them, purge
   * deactivates and removes them; remove and restore leave them as they are (inactive after the stop).
   * A link another request is changing right now is left alone rather than failing the instance's process.
   */
  private async driveLinks(instance: Resource, act: CurrentAction): Promise<void> {
    const wanted: Record<string, { action: string; input: Record<string, unknown> }[]> = {
      start: [{ action: 'activate', input: {} }],
      stop: [{ action: 'deactivate', input: {} }],
      purge: [
        { action: 'remove', input: {} },
        { action: 'deactivate', input: { remove: true } },
      ],
    };
    const steps = wanted[act.name];
    const ids = instance.fields.instanceLinkIds;
    if (!steps || !Array.isArray(ids)) return;
    for (const id of ids) {
      const link = typeof id === 'string' ? await this.store.get(id) : undefined;
      if (!link || link.baseType !== 'instanceLink') continue;
      // The first step whose process starts from the link's state (purge: remove if it can, else deactivate+remove).
      const step = steps.find((s) => processOf('instanceLink', s.action)?.from.includes(link.state));
      if (!step) continue;
      try {
        await this.begin(link, step.action, step.input, act.caller);
      } catch (e) {
        if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
      }
    }
  }

  /**
   * Records progress of the running action (agent heartbeats, workflow steps): `transitioningMessage`,
   * `transitioningProgress` and any result fields the work produced (`externalId`, `hostId`, ...). Fenced by
   * the action id: a report for a finished or superseded action changes nothing and returns `undefined`.
   * `current` is a copy the caller just read (from `current()`), saving a read; a stale one costs a retry.
   *
   * @example
   * await engine.progress(ref, { message: 'Pulling image', progress: 40 });
   */
  async progress(
    ref: ActionRef,
    update: { message?: string | null; progress?: number | null; fields?: Record<string, unknown> },
    current?: Resource,
  ): Promise<Resource | undefined> {
    try {
      const { after } = await this.store.mutate(
        ref.id,
        (cur) => {
          fenced(cur, ref);
          const next = { ...cur, fields: { ...cur.fields, ...(update.fields ?? {}) } };
          if (update.message !== undefined) next.transitioningMessage = update.message;
          if (update.progress !== undefined) next.transitioningProgress = update.progress;
          return next;
        },
        { ...FENCED_WRITE, current },
      );
      return after;
    } catch (e) {
      if (e instanceof SupersededError) return undefined;
      throw e;
    }
  }

  /**
   * Adds to the running action's input (e.g. `remove: true` on a stop, so it chains into remove when it ends).
   * Fenced by the action id like `progress`: `undefined` when the action has finished or been superseded.
   *
   * @example
   * await engine.amendInput({ id: '1i5', actionId }, { remove: true });
   */
  async amendInput(ref: ActionRef, patch: Record<string, unknown>, current?: Resource): Promise<Resource | undefined> {
    try {
      const { after } = await this.store.mutate(
        ref.id,
        (cur) => {
          const act = fenced(cur, ref);
          return { ...cur, action: { ...act, input: { ...act.input, ...patch } } };
        },
        { ...FENCED_WRITE, current },
      );
      return after;
    } catch (e) {
      if (e instanceof SupersededError) return undefined;
      throw e;
    }
  }

  /**
   * Reads the resource and its current action if `ref` is still the running action, else `undefined`.
   *
   * @example
   * const cur = await engine.current(ref); if (!cur) return; // superseded or finished
   */
  async current(ref: ActionRef): Promise<Resource | undefined> {
    const res = await this.store.get(ref.id);
    return res?.action?.id === ref.actionId ? res : undefined;
  }

  /**
   * Fails the action: the resource leaves its transitioning state for `failState` (or back to where it came
   * from) with `transitioning: "error"` and the message, as cattle shows agent errors. `current` as in `progress`.
   */
  async fail(ref: ActionRef, message: string, failState?: string, current?: Resource): Promise<Resource | undefined> {
    try {
      const { after } = await this.store.mutate(ref.id, (cur) => {
        const act = fenced(cur, ref);
        const p = this.process(cur, act.name);
        return withState(
          { ...cur, action: null, transitioningError: 'error', transitioningMessage: message, transitioningProgress: null },
          p.field ?? 'state',
          failState ?? act.from,
        );
      }, { ...FENCED_WRITE, current });
      return after;
    } catch (e) {
      if (e instanceof SupersededError) return undefined;
      throw e;
    }
  }

  private process(res: Resource, action: string): ProcessDef {
    const p = processOf(res.baseType, action);
    if (!p) throw new ApiError(422, 'InvalidAction', { fieldName: 'action', message: null });
    return p;
  }

  /** Field changes that go with reaching a done state (cattle's process handlers, minus host work). */
  private applyEffects(res: Resource, action: string): Resource {
    const now = this.now();
    const f = { ...res.fields };
    switch (action) {
      case 'start':
        f.firstRunning ??= now;
        f.startCount = (typeof f.startCount === 'number' ? f.startCount : 0) + 1;
        // A container with a health check starts out initializing (cattle InstanceHealthcheckRegister).
        if (f.healthCheck && f.healthState == null) f.healthState = 'initializing';
        break;
      case 'updatehealthy':
      case 'updateunhealthy':
      case 'updatereinitializing':
        f.healthUpdated = now;
        break;
      case 'restart':
        f.startCount = (typeof f.startCount === 'number' ? f.startCount : 0) + 1;
        break;
      case 'remove':
        f.removed = now;
        f.removeTime = now + (this.opts.removeDelaySeconds ?? 60) * 1000;
        break;
      case 'restore':
        f.removed = null;
        f.removeTime = null;
        break;
      case 'purge':
        return { ...res, fields: f, expiresAt: Math.floor(now / 1000) + (this.opts.purgedRetentionSeconds ?? 86_400) };
    }
    return { ...res, fields: f };
  }
}

/**
 * Finishing writes are fenced by the action id, so retrying them is always safe; they retry longer than
 * ordinary writes, because giving up would leave the resource stuck in its transitioning state.
 */
const FENCED_WRITE = { attempts: 40 };

function fenced(cur: Resource, ref: ActionRef): CurrentAction {
  if (!cur.action || cur.action.id !== ref.actionId) throw new SupersededError(ref);
  return cur.action;
}

function clearedTransitioning(): Partial<Resource> {
  return { transitioningError: null, transitioningMessage: null, transitioningProgress: null };
}
