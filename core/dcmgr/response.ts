/**
 * @module
 * Writing a dcmgr answer: JSON by default or YAML for a `.yml` path, timestamps as dcmgr's `Time#to_json`
 * gives them (`2015-06-29T09:28:24Z`), and collections as the one-element array holding the page.
 */
import type { Context } from 'hono';
import { toPsychYaml } from './psych.js';
import { DcmgrError } from './errors.js';
import type { ApiVersion, Format } from './request.js';

/**
 * Sends `data` in the requested format.
 *
 * @example
 * return respond(c, ['i-4cnb8vd1'], 'yml');
 */
export function respond(c: Context, data: unknown, format: Format, status = 200): Response {
  if (format === 'yml') return c.body(toPsychYaml(data), status as 200, { 'content-type': 'text/yaml; charset=utf-8' });
  return c.body(JSON.stringify(data), status as 200, { 'content-type': 'application/json; charset=utf-8' });
}

/**
 * An epoch-ms time as dcmgr renders it (UTC, whole seconds), or `null`.
 *
 * @example
 * isoTime(1435570104000) // '2015-06-29T09:28:24Z'
 */
export function isoTime(ms: unknown): string | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The creation order of a presented resource (its Rancher number), kept beside the fields a client sees (a symbol:
 * neither JSON nor YAML writes it). dcmgr's default order, `id DESC`, is its table's key: newest first.
 *
 * @example
 * return { [CREATION_ORDER]: res.num, id: wakameIdOf('instance', res.num), ... };
 */
export const CREATION_ORDER = Symbol('creationOrder');

/** What a collection request may ask for (§0.3). */
export interface ListParams {
  start: number;
  /** `null`: everything (11.12 without `limit`). */
  limit: number | null;
  sort: { field: string; descending: boolean };
  /** `col.nil` / `col.not_nil` filters. */
  nullFilters: { field: string; isNull: boolean }[];
  /** `<x>_since` / `<x>_until` ranges over `<x>_at`, epoch ms. */
  ranges: { field: string; since?: number; until?: number }[];
}

/** dcmgr's page size when none (or 0) is asked for. */
export const DEFAULT_LIMIT = 250;

const digits = (name: string, v: unknown): number | undefined => {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v)) throw new DcmgrError('InvalidParameter', name);
  return Number(v);
};

const RANGE_FIELDS = ['created', 'terminated', 'deleted', 'updated'] as const;

/**
 * The paging, sorting and filtering parameters of a list request. Bad values are `InvalidParameter` (400/143).
 *
 * @example
 * listParams({ start: '250', limit: '10', sort_by: 'created_at.asc' }, '12.03')
 * // { start: 250, limit: 10, sort: { field: 'created_at', descending: false }, nullFilters: [], ranges: [] }
 */
export function listParams(params: Record<string, unknown>, version: ApiVersion): ListParams {
  const start = digits('start', params.start) ?? 0;
  const asked = digits('limit', params.limit);
  const limit = asked === undefined ? (version === '11.12' ? null : DEFAULT_LIMIT) : asked === 0 ? DEFAULT_LIMIT : asked;

  let sort = { field: 'id', descending: true };
  if (params.sort_by !== undefined && params.sort_by !== '') {
    // dcmgr crashed on a bare field (no direction): it sorts ascending here.
    const m = typeof params.sort_by === 'string' ? /^([a-z_]{1,64})(?:\.(asc|desc))?$/.exec(params.sort_by) : null;
    if (!m) throw new DcmgrError('InvalidParameter', 'sort_by');
    sort = { field: m[1], descending: m[2] === 'desc' };
  }

  const nullFilters: ListParams['nullFilters'] = [];
  const filters = params.filter === undefined ? [] : Array.isArray(params.filter) ? params.filter : [params.filter];
  for (const f of filters) {
    const m = typeof f === 'string' ? /^([a-z_]{1,64})\.(nil|not_nil)$/.exec(f) : null;
    if (!m) throw new DcmgrError('InvalidParameter', 'filter');
    nullFilters.push({ field: m[1], isNull: m[2] === 'nil' });
  }

  const ranges: ListParams['ranges'] = [];
  for (const name of RANGE_FIELDS) {
    const since = timeParam(params, `${name}_since`);
    const until = timeParam(params, `${name}_until`);
    if (since === undefined && until === undefined) continue;
    if (since !== undefined && until !== undefined && since >= until) {
      throw new DcmgrError('InvalidParameter', `${name}_since is larger than ${name}_until`);
    }
    ranges.push({ field: `${name}_at`, since, until });
  }
  return { start, limit, sort, nullFilters, ranges };
}

function timeParam(params: Record<string, unknown>, name: string): number | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new DcmgrError('InvalidParameter', `${name}: not an ISO8601 time`);
  return ms;
}

/**
 * One page of presented items, as dcmgr answers a collection: filtered, sorted, counted before the limit, then
 * cut. 11.12 names the count `owner_total` (and the list both `results` and, as seed 004 has it, `result`), 12.03
 * `total`.
 *
 * @example
 * pageOf(instances, listParams({}, '12.03'), '12.03') // [{ total: 3, start: 0, limit: 250, results: [...] }]
 */
export function pageOf(items: Record<string, unknown>[], p: ListParams, version: ApiVersion): Record<string, unknown>[] {
  let rows = items.filter((r) => p.nullFilters.every((f) => (r[f.field] == null) === f.isNull));
  rows = rows.filter((r) =>
    p.ranges.every((range) => {
      const at = typeof r[range.field] === 'string' ? Date.parse(r[range.field] as string) : NaN;
      if (Number.isNaN(at)) return false;
      return (range.since === undefined || at >= range.since) && (range.until === undefined || at < range.until);
    }),
  );
  if (rows.length && !(p.sort.field in rows[0])) throw new DcmgrError('InvalidParameter', `sort_by: no field ${p.sort.field}`);
  const { field, descending } = p.sort;
  // `id` is the order of creation, where the rows know it (derived and random ids are in no order of their own).
  const key = (r: Record<string | symbol, unknown>) => (field === 'id' && typeof r[CREATION_ORDER] === 'number' ? r[CREATION_ORDER] : r[field]);
  rows = [...rows].sort((a, b) => {
    const c = compare(key(a), key(b));
    return descending ? -c : c;
  });
  const results = p.limit === null ? rows.slice(p.start) : rows.slice(p.start, p.start + p.limit);
  if (version === '11.12') {
    // Seed 004 documents the list as `result`; dcmgr's 11.12 code sent `results`. Clients of either find theirs.
    return [{ owner_total: rows.length, start: p.start, limit: p.limit, results, result: results }];
  }
  return [{ total: rows.length, start: p.start, limit: p.limit, results }];
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a == null) return -1;
  if (b == null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
