/**
 * @module
 * Reads a resource's field the way clients see it, so filters, sorting and rendering agree on every value.
 */
import { SCHEMAS } from '../schema/schemas.js';
import type { Resource } from '../store/item.js';
import { isOnline } from './hosts.js';
import { wakameIdOf } from './wakame/ids.js';
import { wakameStateOf } from './wakame/instances.js';

/**
 * What a never-stored non-nullable field reads as: its schema default (`version: "0"`) or initial value.
 *
 * @example
 * unsetValue('container', 'version') // '0'
 */
export function unsetValue(type: string, name: string): unknown {
  const s = Object.hasOwn(SCHEMAS, type) ? SCHEMAS[type] : undefined;
  const def = s && Object.hasOwn(s.resourceFields, name) ? s.resourceFields[name] : undefined;
  return def?.nullable === false ? (def.default ?? def.initialValue ?? null) : null;
}

/**
 * The value of a schema field of a stored resource (dates as epoch ms; `null` when unset, or the schema's
 * default for a non-nullable field). Rendering, filters and sorting all read fields through here.
 *
 * @example
 * fieldValue(res, 'accountId') // '1a1'
 */
export function fieldValue(res: Resource, name: string): unknown {
  if (Object.hasOwn(COMPUTED, name)) return COMPUTED[name](res);
  const v = res.fields[name];
  return v === undefined || v === null ? unsetValue(res.type, name) : v;
}

/** Fields that are not read from `res.fields` as stored, and how each is read. */
const COMPUTED: Record<string, (res: Resource) => unknown> = {
  id: (res) => res.id,
  state: (res) => res.state,
  kind: (res) => res.type,
  created: (res) => res.created,
  accountId: (res) => (res.baseType === 'account' ? null : res.projectId),
  // Computed on every read from the agent's last request, so it turns `offline` without any write.
  wakameId: (res) => (res.baseType === 'instance' ? wakameIdOf('instance', res.num) : null),
  wakameState: (res) => (res.baseType === 'instance' ? wakameStateOf(res) : null),
  agentState: (res) => (res.baseType === 'host' ? (isOnline(res, Date.now()) ? 'online' : 'offline') : (res.fields.agentState ?? null)),
};

/**
 * Whether a field is read as stored (`res.fields`, or its unset value), so a caller may read it without `fieldValue`.
 *
 * @example
 * isStoredField('imageUuid') // true
 * isStoredField('accountId') // false
 */
export function isStoredField(name: string): boolean {
  return !Object.hasOwn(COMPUTED, name);
}
