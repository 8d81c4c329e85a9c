/**
 * @module
 * The process table: every lifecycle action of every stateful type, as cattle declares them
 * (start states → transitioning state → done state). It is the single source for the `actions` maps,
 * the state errors, the conditional writes, the `state` enum of each schema and (later) workflow choice.
 */

/** The state field a process moves. Only `state` decides whether an action is shown (cattle rule). */
export type StateField = 'state' | 'allocationState' | 'healthState';

export interface ProcessDef {
  /** Field this process reads and writes; `state` unless stated. */
  field?: StateField;
  /** States the process may start from. */
  from: readonly string[];
  /** Transitioning state, or one per start state. */
  transitioning: string | Readonly<Record<string, string>>;
  /** Done state, or one per start state. */
  done: string | Readonly<Record<string, string>>;
  /** Input schema id, if the action takes input. */
  input?: string;
  /** Workflow that does the work (`core/workflows/definitions.ts`); `process` (no host work) when absent. */
  workflow?: string;
}

/** A handler action (no state change) and the rule that makes it available, from the schema attributes. */
export interface HandlerActionDef {
  input: string | null;
  output: string;
  /** Available only in this state. */
  state?: string;
  /** Available only in one of these states. */
  states?: readonly string[];
  /** Available only when the resource has this capability. */
  capability?: string;
}

const INSTANCE = {
  create: { from: ['requested'], transitioning: 'creating', done: 'stopped' },
  start: { from: ['stopped', 'creating'], transitioning: 'starting', done: 'running', workflow: 'instance-start' },
  stop: {
    from: ['creating', 'running', 'starting', 'updating-running', 'updating-stopped'],
    transitioning: 'stopping',
    done: 'stopped',
    input: 'instanceStop',
    workflow: 'instance-stop',
  },
  restart: { from: ['running'], transitioning: 'restarting', done: 'running', workflow: 'instance-restart' },
  remove: {
    from: ['requested', 'creating', 'updating-running', 'updating-stopped', 'stopped', 'erroring', 'error'],
    transitioning: 'removing',
    done: 'removed',
  },
  purge: { from: ['removed'], transitioning: 'purging', done: 'purged', workflow: 'instance-purge' },
  restore: { from: ['removed'], transitioning: 'restoring', done: 'stopped' },
  update: {
    from: ['stopped', 'running'],
    transitioning: { stopped: 'updating-stopped', running: 'updating-running' },
    done: { stopped: 'stopped', running: 'running' },
  },
  migrate: { from: ['running'], transitioning: 'migrating', done: 'running', workflow: 'instance-migrate' },
  error: { from: ['creating', 'stopped'], transitioning: 'erroring', done: 'error' },
  allocate: { field: 'allocationState', from: ['inactive'], transitioning: 'activating', done: 'active', workflow: 'instance-allocate' },
  deallocate: {
    field: 'allocationState',
    from: ['activating', 'active'],
    transitioning: 'deactivating',
    done: 'inactive',
    workflow: 'instance-deallocate',
  },
  updatehealthy: {
    field: 'healthState',
    from: ['healthy', 'unhealthy', 'initializing', 'reinitializing'],
    transitioning: 'updating-healthy',
    done: 'healthy',
  },
  updateunhealthy: { field: 'healthState', from: ['healthy', 'unhealthy'], transitioning: 'updating-unhealthy', done: 'unhealthy' },
  updatereinitializing: { field: 'healthState', from: ['healthy'], transitioning: 'updating-reinitializing', done: 'reinitializing' },
} as const satisfies Record<string, ProcessDef>;

/** cattle's generic template (create/activate/deactivate/remove/purge/update/restore), used by links. */
const GENERIC = {
  create: { from: ['requested'], transitioning: 'registering', done: 'inactive' },
  activate: { from: ['inactive', 'registering'], transitioning: 'activating', done: 'active' },
  deactivate: {
    from: ['registering', 'active', 'activating', 'updating-active', 'updating-inactive'],
    transitioning: 'deactivating',
    done: 'inactive',
  },
  remove: {
    from: ['requested', 'inactive', 'registering', 'updating-active', 'updating-inactive'],
    transitioning: 'removing',
    done: 'removed',
  },
  purge: { from: ['removed'], transitioning: 'purging', done: 'purged' },
  update: {
    from: ['inactive', 'active'],
    transitioning: { inactive: 'updating-inactive', active: 'updating-active' },
    done: { inactive: 'inactive', active: 'active' },
  },
  restore: { from: ['removed'], transitioning: 'restoring', done: 'inactive' },
} as const satisfies Record<string, ProcessDef>;

/**
 * Projects, API keys and hosts are activated on create (cattle `activate.by.default`) and, unlike links,
 * may be removed straight from `active`: an admin deleting a key expects it gone, not a 422.
 */
const ACTIVATED = {
  ...GENERIC,
  create: { from: ['requested'], transitioning: 'registering', done: 'active' },
  remove: { ...GENERIC.remove, from: [...GENERIC.remove.from, 'active'] },
} as const satisfies Record<string, ProcessDef>;

/** Process table per base type. */
export const PROCESSES = {
  instance: INSTANCE,
  instanceLink: GENERIC,
  host: ACTIVATED,
  account: ACTIVATED,
  credential: ACTIVATED,
} as const satisfies Record<string, Record<string, ProcessDef>>;

/** Handler actions of the instance family (cattle schema attributes on `container`/`virtualMachine`). */
export const INSTANCE_HANDLER_ACTIONS = {
  execute: { input: 'containerExec', output: 'hostAccess', state: 'running' },
  logs: { input: 'containerLogs', output: 'hostAccess', states: ['running', 'stopped', 'stopping'] },
  proxy: { input: 'containerProxy', output: 'hostAccess', state: 'running' },
  console: { input: 'instanceConsoleInput', output: 'instanceConsole', state: 'running', capability: 'console' },
  setlabels: { input: 'setLabelsInput', output: 'container' },
} as const satisfies Record<string, HandlerActionDef>;

export type ProcessBaseType = keyof typeof PROCESSES;

/**
 * The process definition for a base type and action, if the action is a process.
 *
 * @example
 * processOf('instance', 'stop')?.transitioning // 'stopping'
 */
export function processOf(baseType: string, action: string): ProcessDef | undefined {
  // Names come from requests: own properties only, so `constructor` or `__proto__` name no process.
  const tables = PROCESSES as Record<string, Record<string, ProcessDef>>;
  const table = Object.hasOwn(tables, baseType) ? tables[baseType] : undefined;
  return table && Object.hasOwn(table, action) ? table[action] : undefined;
}

/**
 * The transitioning and done states a process moves to from a given start state.
 *
 * @example
 * statesFor(processOf('instance', 'update')!, 'running') // { transitioning: 'updating-running', done: 'running' }
 */
export function statesFor(p: ProcessDef, from: string): { transitioning: string; done: string } {
  const pick = (v: string | Readonly<Record<string, string>>) => (typeof v === 'string' ? v : v[from]);
  return { transitioning: pick(p.transitioning), done: pick(p.done) };
}

/**
 * Every value a process can leave in `field`, sorted: the schema's enum options.
 *
 * @example
 * statesOf('instanceLink').includes('updating-active') // true
 */
export function statesOf(baseType: ProcessBaseType, field: StateField = 'state'): string[] {
  const out = new Set<string>();
  for (const p of Object.values(PROCESSES[baseType]) as ProcessDef[]) {
    if ((p.field ?? 'state') !== field) continue;
    const add = (v: string | Readonly<Record<string, string>>) =>
      typeof v === 'string' ? out.add(v) : Object.values(v).forEach((s) => out.add(s));
    p.from.forEach((s) => out.add(s));
    add(p.transitioning);
    add(p.done);
  }
  return [...out].sort();
}

/**
 * All transitioning states of a base type's `state` field: a resource in one of them shows `transitioning: "yes"`.
 *
 * @example
 * transitioningStatesOf('instance').has('stopping') // true
 */
export function transitioningStatesOf(baseType: ProcessBaseType): ReadonlySet<string> {
  let out = transitioningCache.get(baseType);
  if (!out) {
    const states = new Set<string>();
    for (const p of Object.values(PROCESSES[baseType]) as ProcessDef[]) {
      if ((p.field ?? 'state') !== 'state') continue;
      if (typeof p.transitioning === 'string') states.add(p.transitioning);
      else Object.values(p.transitioning).forEach((s) => states.add(s));
    }
    transitioningCache.set(baseType, (out = states));
  }
  return out;
}

/** The table is static; rendering asks once per resource, so the answer is computed once per type. */
const transitioningCache = new Map<string, ReadonlySet<string>>();

/**
 * The states of a resource on its way out or gone: what `remove` and `purge` move it through. A resource in one
 * of them is no valid reference, and its credentials no longer authenticate.
 *
 * @example
 * isGone({ baseType: 'instance', state: 'purging' }) // true
 */
export function isGone(res: { baseType: string; state: string }): boolean {
  return goneStates.get(res.baseType)?.has(res.state) ?? false;
}

const goneStates = new Map<string, ReadonlySet<string>>(
  Object.keys(PROCESSES).map((baseType) => {
    const out = new Set<string>();
    for (const name of ['remove', 'purge']) {
      const p = processOf(baseType, name);
      if (!p) continue;
      for (const from of p.from) {
        const { transitioning, done } = statesFor(p, from);
        out.add(transitioning).add(done);
      }
    }
    return [baseType, out];
  }),
);

/**
 * The states in which an activated resource (project, API key, registration token) is in service: created and
 * not deactivated or removed. `registering` counts: a key must work the moment its create returns its secret.
 *
 * @example
 * inService({ state: 'registering' }) // true
 */
export function inService(res: { state: string }): boolean {
  return IN_SERVICE.has(res.state);
}

const IN_SERVICE: ReadonlySet<string> = new Set([
  ACTIVATED.create.transitioning,
  ACTIVATED.create.done,
  ACTIVATED.update.transitioning.active,
]);

/**
 * A handler action of the instance family by name (own properties only: the name comes from a request).
 *
 * @example
 * handlerActionOf('logs')?.output // 'hostAccess'
 * handlerActionOf('constructor') // undefined
 */
export function handlerActionOf(name: string): HandlerActionDef | undefined {
  return Object.hasOwn(INSTANCE_HANDLER_ACTIONS, name) ? (INSTANCE_HANDLER_ACTIONS as Record<string, HandlerActionDef>)[name] : undefined;
}

/** Input a chained process receives, and the rule deciding whether one follows. */
export type ChainRule = (fields: Record<string, unknown>, input: Record<string, unknown>) => string | undefined;

/**
 * Processes that continue into another when they finish (cattle delegation and post-listeners):
 * create → start when `startOnCreate`, stop → remove when asked with `remove: true`.
 * A chain is valid only when the parent's done state is a start state of the child.
 */
export const CHAINS: Partial<Record<ProcessBaseType, Record<string, ChainRule>>> = {
  instance: {
    create: (fields) => (fields.startOnCreate === false ? undefined : 'start'),
    stop: (_fields, input) => (input.remove === true ? 'remove' : undefined),
  },
  // A purged instance deactivates and then removes its links (spec §3.6).
  instanceLink: {
    deactivate: (_fields, input) => (input.remove === true ? 'remove' : undefined),
  },
};
