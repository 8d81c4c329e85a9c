/**
 * @module
 * Collection filters (`name=web`, `created_gt=...`, `name_like=w%`): the modifiers each field type offers
 * (spec §1.6), parsing them from a query string, and evaluating them against resources.
 */
import { ValidationError } from '../errors.js';
import { parseId } from '../ids.js';
import type { FieldDef, ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/item.js';
import { fieldValue } from './fields.js';
import { LikePattern } from './like.js';

export type Modifier = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'prefix' | 'like' | 'notlike' | 'null' | 'notnull';

export interface Condition {
  field: string;
  modifier: Modifier;
  /** The value as the client sent it (echoed in the collection's `filters`). */
  value: string;
  /** The value converted to the field's type (an unparsable `id` is -1, as in cattle; `null` for null/notnull). */
  typed?: unknown;
  /**
   * For dates: the precision of the value in ms. A date given to the second (`2016-03-28T17:05:12Z`, as
   * resources render it) compares against stored times truncated to the second, as MySQL DATETIME does;
   * epoch milliseconds (`createdTS`) and ISO times with milliseconds compare exactly.
   */
  granularity?: number;
}

/** Longest filter value (no stored string is longer, bar `userdata`, which is not a filter). */
export const MAX_FILTER_VALUE_LENGTH = 1024;

/** Most filter conditions in one request. */
export const MAX_CONDITIONS = 32;

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
export function collectionFilters(s: ResourceSchema): Readonly<Record<string, readonly Modifier[]>> {
  let cached = filterCache.get(s);
  if (!cached) {
    const out: Record<string, Modifier[]> = { id: NUMERIC };
    for (const [name, def] of Object.entries(s.resourceFields)) if (def.filter) out[name] = modifiersFor(def);
    cached = Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
    filterCache.set(s, cached);
  }
  return cached;
}

/** Schemas are static; every list request and schema render asks, so each is derived once. */
const filterCache = new WeakMap<ResourceSchema, Readonly<Record<string, readonly Modifier[]>>>();

/**
 * Reads the filter conditions of a query. Unknown parameters and modifiers are ignored, as in Rancher;
 * a value that cannot be read as the field's type is a 422 naming the field.
 *
 * @example
 * parseFilters(schema('container'), new URLSearchParams('state=running&name_prefix=web'))
 * parseFilters(schema('container'), { state: ['running'], name_prefix: ['web'] })
 */
export function parseFilters(s: ResourceSchema, params: URLSearchParams | Record<string, string[]>): Condition[] {
  const filters = collectionFilters(s);
  const out: Condition[] = [];
  // Group repeated parameters in first-seen order (a Map: any key, `__proto__` included, is just a key).
  const grouped = new Map<string, string[]>();
  const pairs = params instanceof URLSearchParams ? params : Object.entries(params).flatMap(([k, vs]) => vs.map((v) => [k, v] as const));
  for (const [k, v] of pairs) {
    const list = grouped.get(k);
    if (list) list.push(v);
    else grouped.set(k, [v]);
  }
  for (const [key, values] of grouped) {
    const i = key.lastIndexOf('_');
    let field = key;
    let modifier: Modifier = 'eq';
    // Own keys only: `constructor`, `__proto__` and friends are not filters.
    if (!Object.hasOwn(filters, key) && i > 0) {
      field = key.slice(0, i);
      modifier = key.slice(i + 1) as Modifier;
    }
    if (!Object.hasOwn(filters, field) || !filters[field].includes(modifier)) continue;
    for (const value of values) {
      // Every condition is checked against every row read: bound what one request can ask for.
      if (value.length > MAX_FILTER_VALUE_LENGTH) throw new ValidationError('MaxLengthExceeded', field);
      if (out.length >= MAX_CONDITIONS) throw new ValidationError('MaxLimitExceeded', field);
      const cond: Condition = { field, modifier, value, typed: convert(s, field, modifier, value) };
      if (s.resourceFields[field]?.type === 'date' && modifier !== 'null' && modifier !== 'notnull') {
        cond.granularity = ISO_DATE.test(value) && !value.includes('.') ? 1000 : 1;
      }
      out.push(cond);
    }
  }
  return out;
}

/** ISO 8601 date or date-time; a `+` offset may arrive as a space (an unencoded `+` in a query string). */
const ISO_DATE = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?)([Zz]|[+\- ]\d\d:?\d\d)?)?$/;

/** Epoch ms for a date filter value (epoch milliseconds or ISO 8601; no zone means UTC), or NaN. */
function parseDate(value: string): number {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const m = ISO_DATE.exec(value);
  if (!m) return NaN;
  const [, day, time = '00:00:00', zone] = m;
  let z = (zone ?? 'Z').toUpperCase();
  if (z.startsWith(' ')) z = `+${z.slice(1)}`;
  if (/^[+-]\d{4}$/.test(z)) z = `${z.slice(0, 3)}:${z.slice(3)}`;
  const t = Date.parse(`${day}T${time}${z}`);
  // Date.parse rolls some impossible dates over (2016-02-30); refuse those.
  return Number.isNaN(t) || !sameDay(t, day, z) ? NaN : t;
}

function sameDay(t: number, day: string, zone: string): boolean {
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return new Date(t + offset).toISOString().slice(0, 10) === day;
}

function convert(s: ResourceSchema, field: string, modifier: Modifier, value: string): unknown {
  if (modifier === 'null' || modifier === 'notnull') return null;
  if (field === 'id') {
    // A formatted id of this type or a plain number; anything else is id -1, as in cattle (so `id=x`
    // matches nothing and `id_ne=x` everything).
    const n = /^\d{1,15}$/.test(value) ? Number(value) : s.baseType ? parseId(s.baseType, value) : null;
    return n ?? -1;
  }
  const def = s.resourceFields[field];
  switch (def.type) {
    case 'int': {
      const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new ValidationError('InvalidFormat', field);
      return n;
    }
    case 'date': {
      const t = parseDate(value);
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

const likeCache = new Map<string, LikePattern>();
function likePattern(pattern: string): LikePattern {
  let p = likeCache.get(pattern);
  if (!p) {
    p = LikePattern.compile(pattern);
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(pattern, p);
  }
  return p;
}

/**
 * The value a filter or sort sees for a field: what the resource renders, except that `id` compares by number.
 *
 * @example
 * listedValue(res, 'id') // 5 for 1i5
 */
export function listedValue(res: Resource, field: string): unknown {
  return field === 'id' ? res.num : fieldValue(res, field);
}

/**
 * Whether a resource meets every condition (conditions are ANDed; SQL semantics for nulls).
 *
 * @example
 * matches(res, parseFilters(schema('container'), { name_like: ['web%'] }))
 */
export function matches(res: Resource, conds: Condition[]): boolean {
  for (const c of conds) {
    let v = listedValue(res, c.field);
    if (c.granularity && c.granularity > 1 && typeof v === 'number') v = Math.floor(v / c.granularity) * c.granularity;
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
        // cattle's prefix is LIKE 'v%' under a case-insensitive collation, like `like` here
        if (typeof v !== 'string' || v.slice(0, String(t).length).toLowerCase() !== String(t).toLowerCase()) return false;
        break;
      case 'like':
        if (typeof v !== 'string' || !likePattern(String(t)).test(v)) return false;
        break;
      case 'notlike':
        if (typeof v !== 'string' || likePattern(String(t)).test(v)) return false;
        break;
    }
  }
  return true;
}
