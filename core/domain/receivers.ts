/**
 * @module
 * Receivers: a secret URL that runs an action on the instances of its project whose labels include its selector,
 * through the same lifecycle as any request, with the receiver as the caller (so the audit trail names it). `start`,
 * `stop` and `restart` begin that process where the instance's state offers it; `recreate` creates a copy of each
 * instance from its create fields and deletes the old one.
 */
import { ConflictError } from '../errors.js';
import { isAvailable } from '../process/actions.js';
import { isGone } from '../process/lifecycle.js';
import { schema } from '../schema/registry.js';
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { DroverService, Scope } from './service.js';

/** What a receiver did to one matching instance. */
export interface ReceiverOutcome {
  instanceId: string;
  /** `started`, `stopped`, `restarted`, `recreated`, or `skipped` when the state does not offer the action. */
  result: string;
  /** The copy a `recreate` made. */
  newInstanceId?: string;
  /** Why an instance was skipped. */
  reason?: string;
}

const DONE: Record<string, string> = { start: 'started', stop: 'stopped', restart: 'restarted', recreate: 'recreated' };

/** Fields a copy does not take from the instance it replaces: they are its own, or only mean something once. */
const NOT_COPIED = new Set(['count', 'instanceLinks', 'networkIds']);

/**
 * Whether an instance's labels include every entry of the selector.
 *
 * @example
 * matchesSelector(web, { app: 'web' }) // true
 */
export function matchesSelector(instance: Resource, selector: Record<string, string>): boolean {
  const labels = (instance.fields.labels ?? {}) as Record<string, unknown>;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Runs a receiver's action on every live instance of its project that its selector matches.
 *
 * @example
 * const outcomes = await runReceiver(service, receiver); // [{ instanceId: '1i5', result: 'restarted' }]
 */
export async function runReceiver(service: DroverService, receiver: Resource): Promise<ReceiverOutcome[]> {
  const action = String(receiver.fields.action);
  const selector = (receiver.fields.selector ?? {}) as Record<string, string>;
  // The receiver acts in its project as itself: the audit trail and each action's `caller` name it.
  const scope: Scope = { principal: { role: 'project', callerId: receiver.id, projectId: receiver.projectId }, projectId: receiver.projectId };
  const out: ReceiverOutcome[] = [];
  for await (const page of service.store.queryIndex({ index: 'byProject', partition: partitions.byProject(receiver.projectId, 'instance') })) {
    for (const instance of page) {
      if (isGone(instance) || !matchesSelector(instance, selector)) continue;
      out.push(await act(service, scope, instance, action));
    }
  }
  return out;
}

async function act(service: DroverService, scope: Scope, instance: Resource, action: string): Promise<ReceiverOutcome> {
  const s = schema(instance.type);
  if (action === 'recreate') {
    const input: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(s.resourceFields)) {
      const v = instance.fields[name];
      if (def.create && !NOT_COPIED.has(name) && v !== undefined && v !== null) input[name] = structuredClone(v);
    }
    const [copy] = await service.create(scope, s, input);
    await service.remove(scope, s, instance);
    return { instanceId: instance.id, result: DONE.recreate, newInstanceId: copy.id };
  }
  const skipped = (state: string) => ({ instanceId: instance.id, result: 'skipped', reason: `state ${state} does not offer ${action}` });
  if (!isAvailable(instance, action)) return skipped(instance.state);
  try {
    await service.beginProcess(scope, instance, action, {});
  } catch (e) {
    // Another request moved it first: this call leaves it to that one.
    if (e instanceof ConflictError) return skipped((await service.store.get(instance.id))?.state ?? instance.state);
    throw e;
  }
  return { instanceId: instance.id, result: DONE[action] };
}
