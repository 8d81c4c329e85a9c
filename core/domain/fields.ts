/**
 * @module
 * Reads a resource's field the way clients see it, so filters, sorting and rendering agree on every value.
 */
import { SCHEMAS } from '../schema/schemas.js';
import type { Resource } from '../store/item.js';
import { isOnline } from './hosts.js';

/** What a never-stored non-nullable field reads as: its schema default (`version: "0"`) or initial value. */
function unsetValue(type: string, name: string): unknown {
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
  switch (name) {
    case 'id':
      return res.id;
    case 'state':
      return res.state;
    case 'kind':
      return res.type;
    case 'created':
      return res.created;
    case 'accountId':
      return res.baseType === 'account' ? null : res.projectId;
    case 'agentState':
      // Computed on every read from the agent's last request, so it turns `offline` without any write.
      if (res.baseType === 'host') return isOnline(res, Date.now()) ? 'online' : 'offline';
      return res.fields.agentState ?? null;
    default: {
      const v = res.fields[name];
      return v === undefined || v === null ? unsetValue(res.type, name) : v;
    }
  }
}
