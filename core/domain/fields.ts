/**
 * @module
 * Reads a resource's field the way clients see it, so filters, sorting and rendering agree on every value.
 */
import type { Resource } from '../store/resource.js';

/**
 * The value of a schema field of a stored resource (dates as epoch ms; `null` when unset).
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
    default: {
      const v = res.fields[name];
      return v === undefined ? null : v;
    }
  }
}
