/**
 * @module
 * Collection filters (`name=web`, `created_gt=...`, `name_like=w%`): the modifiers each field type offers
 * (spec §1.6), parsing them from a query string, and evaluating them against resources.
 */
import { ValidationError } from '../errors.js';
import type { FieldDef, ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/resource.js';
import { fieldValue } from './fields.js';

export type Modifier = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'prefix' | 'like' | 'notlike' | 'null' | 'notnull';

export interface Condition {
  field: string;
  modifier: Modifier;
  /** The value as the client sent it (echoed in the collection's `filters`). */
  value: string;
  /** The value converted to the field's type; `undefined` means "matches nothing" (unparsable reference). */
  typed?: unknown;
}

const NUMERIC: Modifier[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'null', 'notnull'];
const STRING: Modifier[] = ['eq', 'ne', 'prefix', 'like', 'notlike', 'null', 'notnull'];
const EQUALITY: Modifier[] = ['eq', 'ne', 'null', 'notnull'];

/**
 * The modifiers a field offers as a collection filter.
 *
 * @example
 * modifiersFor({ type: 'date' }) // ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'null', 'notnull']
 */
export function modifiersFor(def: FieldDef): Modifier[] {
  if (def.type === 'int' || def.type === 'date') return NUMERIC;
  if (def.type === 'string') return STRING;
  return EQUALITY;
}

/**
 * The filterable fields of a schema and their modifiers (its `collectionFilters`), in name order.
 *
 * @example
 * collectionFilters(schema('container')).name // ['eq', 'ne', 'prefix', 'like', 'notlike', 'null', 'notnull']
 */
export function collectionFilters(s: ResourceSchema): Record<string, Modifier[]> {
  const out: Record<string, Modifier[]> = { id: NUMERIC };
  for (const [name, def] of Object.entries(s.resourceFields)) if (def.filter) out[name] = modifiersFor(def);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Reads the filter conditions of a query. Unknown parameters and modifiers are ignored, as in Rancher;
 * a value that cannot be read as the field's type is a 422 naming the field.
 *
 * @example
 * parseFilters(schema('container'), { state: ['running'], name_prefix: ['web'] })
 */
export function parseFilters(s: ResourceSchema, params: Record<string, string[]>): Condition[] {
  const filters = collectionFilters(s);
  const out: Condition[] = [];
  for (const [key, values] of Object.entries(params)) {
    const i = key.lastIndexOf('_');
    let field = key;
    let modifier: Modifier = 'eq';
    if (!(key in filters) && i > 0) {
      field = key.slice(0, i);
      modifier = key.slice(i + 1) as Modifier;
    }
    if (!(field in filters) || !filters[field].includes(modifier)) continue;
    for (const value of values) {
      out.push({ field, modifier, value, typed: convert(s, field, modifier, value) });
    }
  }
  return out;
}

function convert(s: ResourceSchema, field: string, modifier: Modifier, value: string): unknown {
  if (modifier === 'null' || modifier === 'notnull') return null;
  if (field === 'id') {
    const m = /^1[a-z]+(\d+)$/.exec(value) ?? /^(\d+)$/.exec(value);
    return m ? Number(m[1]) : undefined;
  }
  const def = s.resourceFields[field];
  switch (def.type) {
    case 'int': {
      if (!/^-?\d+$/.test(value)) throw new ValidationError('InvalidFormat', field);
      return Number(value);
    }
    case 'date': {
      const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
      if (Number.isNaN(t)) throw new ValidationError('InvalidDateFormat', field);
      return t;
    }
    case 'boolean': {
      if (value !== 'true' && value !== 'false') throw new ValidationError('InvalidFormat', field);
      return value === 'true';
    }
    default:
      return value;
  }
}

const likeCache = new Map<string, RegExp>();
function likeRe(pattern: string): RegExp {
  let re = likeCache.get(pattern);
  if (!re) {
    const body = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
    re = new RegExp(`^${body}$`, 'is');
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(pattern, re);
  }
  return re;
}

/**
 * Whether a resource meets every condition (conditions are ANDed; SQL semantics for nulls).
 *
 * @example
 * matches(res, parseFilters(schema('container'), { name_like: ['web%'] }))
 */
export function matches(res: Resource, conds: Condition[]): boolean {
  for (const c of conds) {
    const v = c.field === 'id' ? res.num : fieldValue(res, c.field);
    if (c.modifier === 'null') {
      if (v !== null) return false;
      continue;
    }
    if (c.modifier === 'notnull') {
      if (v === null) return false;
      continue;
    }
    if (v === null || c.typed === undefined) return false;
    const t = c.typed as string | number | boolean;
    switch (c.modifier) {
      case 'eq':
        if (v !== t) return false;
        break;
      case 'ne':
        if (v === t) return false;
        break;
      case 'lt':
        if (!((v as number) < (t as number))) return false;
        break;
      case 'lte':
        if (!((v as number) <= (t as number))) return false;
        break;
      case 'gt':
        if (!((v as number) > (t as number))) return false;
        break;
      case 'gte':
        if (!((v as number) >= (t as number))) return false;
        break;
      case 'prefix':
        if (typeof v !== 'string' || !v.startsWith(String(t))) return false;
        break;
      case 'like':
        if (typeof v !== 'string' || !likeRe(String(t)).test(v)) return false;
        break;
      case 'notlike':
        if (typeof v !== 'string' || likeRe(String(t)).test(v)) return false;
        break;
    }
  }
  return true;
}
