/**
 * @module
 * Which actions a resource offers right now, computed from the process table exactly as cattle does:
 * a process action is offered iff `state` is one of its start states; a handler action iff its rule holds.
 */
import type { ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/item.js';
import { DEFAULT_CAPABILITIES, handlerActionOf, processOf } from './lifecycle.js';

/**
 * Names of the actions available on `res`, in the schema's (alphabetical) order.
 *
 * @example
 * availableActions(runningContainer, schema('container'))
 * // ['execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']
 */
export function availableActions(res: Resource, s: ResourceSchema): string[] {
  return Object.keys(s.resourceActions).filter((name) => isAvailable(res, name));
}

/**
 * Whether one action is available on `res` now.
 *
 * @example
 * isAvailable(stoppedContainer, 'start') // true
 */
export function isAvailable(res: Resource, name: string): boolean {
  const p = processOf(res.baseType, name);
  // cattle compares every process's start states with `state`, even for allocationState/healthState processes.
  if (p) return !p.api && p.from.includes(res.state);
  const h = handlerActionOf(name, res.baseType);
  if (!h) return false;
  if (h.state && res.state !== h.state) return false;
  if (h.states && !h.states.includes(res.state)) return false;
  if (h.capability) {
    const caps = Array.isArray(res.fields.capabilities) ? (res.fields.capabilities as unknown[]) : DEFAULT_CAPABILITIES;
    if (!caps.includes(h.capability)) return false;
  }
  return true;
}
