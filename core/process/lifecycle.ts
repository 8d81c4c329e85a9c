/**
 * @module
 * The process table: every lifecycle action of every stateful type, as cattle declares them (start states →
 * transitioning state → done state), with what finishing it does: its effects, the process it chains into, the
 * link processes it starts, and whether it takes a resource out of service. It is the single source for the
 * `actions` maps, the state errors, the conditional writes, the `state` enum of each schema, workflow choice, and
 * everything the lifecycle ledger does when an action completes. `core/process/workflows.ts` checks it on load.
 */
import type { Resource } from '../store/item.js';

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
  /** Workflow that does the work (`core/process/workflows.ts`); `process` (no host work) when absent. */
  workflow?: string;
  /** Field changes that go with reaching the done state, applied in order (`EFFECTS`). */
  effects?: readonly EffectName[];
  /** The process that follows when this one completes (cattle delegation and post-listeners). */
  chain?: ChainDef;
  /** Processes started on the instance's links when this one completes: per link, the first whose start states fit. */
  links?: readonly LinkStep[];
  /** Takes the resource out of service: its transitioning and done states count as gone (`isGone`). */
  wayOut?: true;
  /**
   * Begun only through that API: no Rancher action (absent from `/v1` schemas and `actions` maps). `drover`: begun
   * by Drover itself only (an instance exiting on its own), in no API.
   */
  api?: 'wakame' | 'drover';
  /** The Wakame state its transitioning state shows as, where one Rancher state stands for several Wakame ones. */
  wakameTransitioning?: string;
}

/**
 * A process that follows another. It is valid only when the parent's done state is a start state of the child
 * (checked on load).
 */
export interface ChainDef {
  next: string;
  /** Follows only when the action's input has this flag set to `true` (stop with `remove: true`). */
  ifInput?: string;
  /** Follows unless the resource's field is exactly `false` (an opt-out such as `startOnCreate`). */
  unlessFieldFalse?: string;
  /** DELETE takes this way out when `next` cannot start yet (cattle InstanceManager: stop, then remove). */
  byDelete?: true;
  /** The input `next` starts with (none when absent). */
  input?: Readonly<Record<string, unknown>>;
}

/** A process an instance's completed action starts on each of its links (spec §3.6). */
export interface LinkStep {
  action: string;
  input?: Readonly<Record<string, unknown>>;
}

/** What an effect may use besides the resource: the clock and the stage's retention settings. */
export interface EffectContext {
  now: number;
  /** Seconds a removed resource stays listed before it may be purged (cattle: 60). */
  removeDelaySeconds: number;
  /** Seconds a purged record is kept before it expires (DynamoDB TTL). */
  purgedRetentionSeconds: number;
}

const counted = (v: unknown) => (typeof v === 'number' ? v : 0);

/** Field changes that go with reaching a done state (cattle's process handlers, minus host work). */
export const EFFECTS = {
  firstRunning: (r: Resource, c: EffectContext): Resource => ({ ...r, fields: { ...r.fields, firstRunning: r.fields.firstRunning ?? c.now } }),
  countStart: (r: Resource): Resource => ({ ...r, fields: { ...r.fields, startCount: counted(r.fields.startCount) + 1 } }),
  // A container with a health check starts out initializing (cattle InstanceHealthcheckRegister), on every start and
  // restart: the host checks it afresh, as a recreated container is (core/domain/health.ts).
  initHealth: (r: Resource): Resource => (r.fields.healthCheck ? { ...r, fields: { ...r.fields, healthState: 'initializing' } } : r),
  healthUpdated: (r: Resource, c: EffectContext): Resource => ({ ...r, fields: { ...r.fields, healthUpdated: c.now } }),
  markRemoved: (r: Resource, c: EffectContext): Resource => ({
    ...r,
    fields: { ...r.fields, removed: c.now, removeTime: c.now + c.removeDelaySeconds * 1000 },
  }),
  unmarkRemoved: (r: Resource): Resource => ({ ...r, fields: { ...r.fields, removed: null, removeTime: null } }),
  expire: (r: Resource, c: EffectContext): Resource => ({ ...r, expiresAt: Math.floor(c.now / 1000) + c.purgedRetentionSeconds }),
} as const;

export type EffectName = keyof typeof EFFECTS;

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

/**
 * A DELETE that arrives while an action that cannot be cut short runs (a restart, a migration) is remembered on
 * it: when it completes, the instance is stopped and removed (dcmgr accepted such a destroy and dropped it, #640).
 */
const THEN_DELETE = { next: 'stop', ifInput: 'remove', byDelete: true, input: { remove: true } } as const satisfies ChainDef;

const INSTANCE = {
  create: { from: ['requested'], transitioning: 'creating', done: 'stopped', chain: { next: 'start', unlessFieldFalse: 'startOnCreate' } },
  start: {
    from: ['stopped', 'creating'],
    transitioning: 'starting',
    done: 'running',
    workflow: 'instance-start',
    effects: ['firstRunning', 'countStart', 'initHealth'],
    links: [{ action: 'activate' }],
  },
  stop: {
    from: ['creating', 'running', 'starting', 'updating-running', 'updating-stopped'],
    transitioning: 'stopping',
    done: 'stopped',
    input: 'instanceStop',
    workflow: 'instance-stop',
    chain: { next: 'remove', ifInput: 'remove', byDelete: true },
    links: [{ action: 'deactivate' }],
  },
  restart: {
    from: ['running'],
    transitioning: 'restarting',
    done: 'running',
    workflow: 'instance-restart',
    effects: ['countStart', 'initHealth'],
    chain: THEN_DELETE,
  },
  remove: {
    from: ['requested', 'creating', 'updating-running', 'updating-stopped', 'stopped', 'erroring', 'error'],
    transitioning: 'removing',
    done: 'removed',
    effects: ['markRemoved'],
    wayOut: true,
  },
  purge: {
    from: ['removed'],
    transitioning: 'purging',
    done: 'purged',
    workflow: 'instance-purge',
    effects: ['expire'],
    wayOut: true,
    // A purged instance's links are removed: straight away when they may be, else deactivated and then removed.
    links: [{ action: 'remove' }, { action: 'deactivate', input: { remove: true } }],
  },
  restore: { from: ['removed'], transitioning: 'restoring', done: 'stopped', effects: ['unmarkRemoved'] },
  update: {
    from: ['stopped', 'running'],
    transitioning: { stopped: 'updating-stopped', running: 'updating-running' },
    done: { stopped: 'stopped', running: 'running' },
  },
  migrate: { from: ['running'], transitioning: 'migrating', done: 'running', workflow: 'instance-migrate', chain: THEN_DELETE },
  // Wakame-VDC's `stop`: power off and give the host back, so its `start` places the instance anew (spec W§3.2).
  release: {
    from: ['running'],
    transitioning: 'stopping',
    done: 'stopped',
    workflow: 'instance-release',
    links: [{ action: 'deactivate' }],
    chain: { next: 'remove', ifInput: 'remove', byDelete: true },
    api: 'wakame',
    // Wakame tells this stop (host given back) from a poweroff (`halting`).
    wakameTransitioning: 'stopping',
  },
  // Wakame-VDC's `move`: a migrate to the host the caller names (`input.hostId`).
  move: {
    from: ['running'],
    transitioning: 'migrating',
    done: 'running',
    workflow: 'instance-migrate',
    chain: THEN_DELETE,
    api: 'wakame',
  },
  error: { from: ['creating', 'stopped'], transitioning: 'erroring', done: 'error' },
  // A running instance that stopped on its own, as its host agent reported (core/domain/health.ts): no host work,
  // the host has already seen it stop. Its links follow it as after a stop.
  exit: { from: ['running'], transitioning: 'stopping', done: 'stopped', links: [{ action: 'deactivate' }], api: 'drover' },
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
    effects: ['healthUpdated'],
  },
  updateunhealthy: {
    field: 'healthState',
    from: ['healthy', 'unhealthy'],
    transitioning: 'updating-unhealthy',
    done: 'unhealthy',
    effects: ['healthUpdated'],
  },
  updatereinitializing: {
    field: 'healthState',
    from: ['healthy'],
    transitioning: 'updating-reinitializing',
    done: 'reinitializing',
    effects: ['healthUpdated'],
  },
} as const satisfies Record<string, ProcessDef>;

/** cattle's generic template (create/activate/deactivate/remove/purge/update/restore), used by links. */
const GENERIC = {
  create: { from: ['requested'], transitioning: 'registering', done: 'inactive' },
  activate: { from: ['inactive', 'registering'], transitioning: 'activating', done: 'active' },
  deactivate: {
    from: ['registering', 'active', 'activating', 'updating-active', 'updating-inactive'],
    transitioning: 'deactivating',
    done: 'inactive',
    // A purged instance deactivates and then removes its links (spec §3.6).
    chain: { next: 'remove', ifInput: 'remove' },
  },
  remove: {
    from: ['requested', 'inactive', 'registering', 'updating-active', 'updating-inactive'],
    transitioning: 'removing',
    done: 'removed',
    effects: ['markRemoved'],
    wayOut: true,
  },
  purge: { from: ['removed'], transitioning: 'purging', done: 'purged', effects: ['expire'], wayOut: true },
  update: {
    from: ['inactive', 'active'],
    transitioning: { inactive: 'updating-inactive', active: 'updating-active' },
    done: { inactive: 'inactive', active: 'active' },
  },
  restore: { from: ['removed'], transitioning: 'restoring', done: 'inactive', effects: ['unmarkRemoved'] },
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

/** A webhook is active once created and is removed by DELETE; `enabled` (a field) pauses it, not a state. */
const WEBHOOK = {
  create: ACTIVATED.create,
  remove: { ...GENERIC.remove, from: ['requested', 'registering', 'active'] },
} as const satisfies Record<string, ProcessDef>;

/**
 * A webhook delivery is a record, stored `active` by the dispatcher (no create action runs); its `status` field
 * (pending, retrying, delivered, failed) tells its progress. The row exists so the schema's `state` has its value.
 */
const WEBHOOK_DELIVERY = {
  create: { from: ['requested'], transitioning: 'registering', done: 'active' },
} as const satisfies Record<string, ProcessDef>;

/** Process table per base type. */
export const PROCESSES = {
  instance: INSTANCE,
  instanceLink: GENERIC,
  host: ACTIVATED,
  account: ACTIVATED,
  credential: ACTIVATED,
  webhook: WEBHOOK,
  webhookDelivery: WEBHOOK_DELIVERY,
} as const satisfies Record<string, Record<string, ProcessDef>>;

/**
 * Handler actions of the instance family (cattle schema attributes on `container`/`virtualMachine`). The host-access
 * ones need their kind in the instance's `capabilities`: what its host's driver serves, recorded when the host
 * starts it (`core/workflows/tasks.ts`), else `DEFAULT_CAPABILITIES`.
 */
export const INSTANCE_HANDLER_ACTIONS = {
  execute: { input: 'containerExec', output: 'hostAccess', state: 'running', capability: 'execute' },
  logs: { input: 'containerLogs', output: 'hostAccess', states: ['running', 'stopped', 'stopping'], capability: 'logs' },
  proxy: { input: 'containerProxy', output: 'hostAccess', state: 'running', capability: 'proxy' },
  console: { input: 'instanceConsoleInput', output: 'instanceConsole', state: 'running', capability: 'console' },
  setlabels: { input: 'setLabelsInput', output: 'container' },
} as const satisfies Record<string, HandlerActionDef>;

/**
 * What an instance offers before a host that reports its own capabilities starts it, or on a host whose agent
 * reports none (the simulator): cattle's container actions; a virtual machine adds its console at create.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = ['execute', 'logs', 'proxy'];

/** Handler actions of a webhook delivery: `redeliver` makes it pending and due now, whatever its status. */
export const WEBHOOK_DELIVERY_HANDLER_ACTIONS = {
  redeliver: { input: null, output: 'webhookDelivery' },
} as const satisfies Record<string, HandlerActionDef>;

/** Handler actions per base type. */
const HANDLER_ACTIONS: Readonly<Record<string, Readonly<Record<string, HandlerActionDef>>>> = {
  instance: INSTANCE_HANDLER_ACTIONS,
  webhookDelivery: WEBHOOK_DELIVERY_HANDLER_ACTIONS,
};

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
    // A stored type no process moves (an audit entry) has no transitioning states.
    for (const p of Object.values(PROCESSES[baseType] ?? {}) as ProcessDef[]) {
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
  Object.entries(PROCESSES).map(([baseType, table]) => {
    const out = new Set<string>();
    for (const p of Object.values(table) as ProcessDef[]) {
      if (!p.wayOut) continue;
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
 * A handler action of a base type (the instance family's by default) by name (own properties only: the name comes
 * from a request).
 *
 * @example
 * handlerActionOf('logs')?.output // 'hostAccess'
 * handlerActionOf('redeliver', 'webhookDelivery')?.output // 'webhookDelivery'
 * handlerActionOf('constructor') // undefined
 */
export function handlerActionOf(name: string, baseType = 'instance'): HandlerActionDef | undefined {
  const table = Object.hasOwn(HANDLER_ACTIONS, baseType) ? HANDLER_ACTIONS[baseType] : undefined;
  return table && Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * The process that follows `p` when it completes, if one does (create → start unless `startOnCreate: false`,
 * stop → remove when asked with `remove: true`).
 *
 * @example
 * chainedAfter(processOf('instance', 'stop')!, {}, { remove: true }) // 'remove'
 */
export function chainedAfter(p: ProcessDef, fields: Record<string, unknown>, input: Record<string, unknown>): string | undefined {
  const c = p.chain;
  if (!c) return undefined;
  if (c.ifInput !== undefined && input[c.ifInput] !== true) return undefined;
  if (c.unlessFieldFalse !== undefined && fields[c.unlessFieldFalse] === false) return undefined;
  return c.next;
}

/**
 * How DELETE takes a resource of this type out when `remove` cannot start from its state: the process that chains
 * into removal, and the input that makes it (instances: `stop` with `remove: true`). `undefined`: no such way.
 *
 * @example
 * deleteVia('instance') // { action: 'stop', input: { remove: true } }
 */
export function deleteVia(baseType: string): { action: string; input: Record<string, unknown> } | undefined {
  const table = (PROCESSES as Record<string, Record<string, ProcessDef>>)[baseType] ?? {};
  for (const [action, p] of Object.entries(table)) {
    if (p.api || !p.chain?.byDelete || !p.chain.ifInput || !table[p.chain.next]?.wayOut) continue;
    return { action, input: { [p.chain.ifInput]: true } };
  }
  return undefined;
}

/**
 * The input that makes the action a resource is under end in its removal, when DELETE may ask that of it (a
 * stop, a restart, a migration: `{ remove: true }`); `undefined` when it may not.
 *
 * @example
 * deleteAmendment(restartingContainer) // { remove: true }
 */
export function deleteAmendment(res: { baseType: string; action?: { name: string } | null }): Record<string, unknown> | undefined {
  const chain = res.action ? processOf(res.baseType, res.action.name)?.chain : undefined;
  return chain?.byDelete && chain.ifInput ? { [chain.ifInput]: true } : undefined;
}

/**
 * On its way out: gone (`isGone`), or under an action that chains into a process that takes it out of service (a
 * stop asked to remove when it ends).
 *
 * @example
 * onItsWayOut(stoppingWithRemove) // true
 */
export function onItsWayOut(res: { baseType: string; state: string; fields: Record<string, unknown>; action?: { name: string; input: Record<string, unknown> } | null }): boolean {
  if (isGone(res)) return true;
  const p = res.action ? processOf(res.baseType, res.action.name) : undefined;
  const next = p && res.action ? chainedAfter(p, res.fields, res.action.input) : undefined;
  return next !== undefined && !!processOf(res.baseType, next)?.wayOut;
}

/**
 * The computed `transitioning*` fields of a resource (cattle `getTransitionFields`): `yes` in a transitioning
 * state of the table (with `In Progress` when no message is set), `error` after a failed process, else `no`.
 *
 * @example
 * transitioningFields(stopping) // { transitioning: 'yes', transitioningMessage: 'In Progress', transitioningProgress: null }
 */
export function transitioningFields(res: Resource): { transitioning: string; transitioningMessage: string | null; transitioningProgress: number | null } {
  if (transitioningStatesOf(res.baseType as ProcessBaseType).has(res.state)) {
    return {
      transitioning: 'yes',
      transitioningMessage: res.transitioningMessage ?? 'In Progress',
      transitioningProgress: res.transitioningProgress ?? null,
    };
  }
  if (res.transitioningError === 'error') {
    return { transitioning: 'error', transitioningMessage: res.transitioningMessage ?? null, transitioningProgress: null };
  }
  return { transitioning: 'no', transitioningMessage: null, transitioningProgress: null };
}
