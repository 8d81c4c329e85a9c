/**
 * @module
 * Lists resources for a collection: picks the index partition from the scope and filters, walks it in id
 * order (or sorts the matches by another field), and pages with keyset markers, so rows inserted while a
 * client pages are never returned twice and existing rows are never skipped.
 */
import { familyOf } from '../schema/registry.js';
import type { ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { IndexQuery, Store } from '../store/store.js';
import { decodeCursor, encodeCursor, queryHash, type CursorKey } from './cursor.js';
import { listedValue, matches, type Condition } from './filters.js';

export interface ListRequest {
  schema: ResourceSchema;
  /** Project to list; `null` lists every project (admin). */
  projectId: string | null;
  conditions: Condition[];
  /** Sort field; absent means id order. */
  sort?: string;
  descending?: boolean;
  /** Page size; `null` returns everything. */
  limit: number | null;
  marker?: string;
  /** Key that signs markers. */
  secret: string;
  /** Most rows read for one page in id order (default `MAX_EXAMINED`). */
  maxExamined?: number;
  /** Seconds a removed resource stays listed (cattle `api.show.removed.for.seconds`). */
  showRemovedSeconds?: number;
  now?: number;
}

export interface ListResult {
  data: Resource[];
  partial: boolean;
  nextMarker: string | null;
}

/** Most rows one page request reads in id order before it answers with what it found (and a marker). */
export const MAX_EXAMINED = 10_000;

/** cattle's default criteria: removed rows are listed only briefly, unless the query asks about `removed`. */
function listedNow(r: Resource, now: number, showRemovedMs: number): boolean {
  const removed = r.fields.removed;
  if (typeof removed !== 'number') return true;
  const removeTime = r.fields.removeTime;
  return removed >= now - showRemovedMs && (typeof removeTime !== 'number' || removeTime > now);
}

function pickIndex(req: ListRequest, baseType: string): IndexQuery {
  const eq = (field: string) => {
    const hits = req.conditions.filter((c) => c.field === field && c.modifier === 'eq');
    return hits.length === 1 && typeof hits[0].typed === 'string' ? hits[0].typed : undefined;
  };
  const state = eq('state');
  if (req.projectId && state) return { index: 'byState', partition: partitions.byState(req.projectId, baseType, state) };
  const host = eq('hostId');
  if (host) return { index: 'byHost', partition: partitions.byHost(host, baseType) };
  if (req.projectId) return { index: 'byProject', partition: partitions.byProject(req.projectId, baseType) };
  return { index: 'byKind', partition: partitions.byKind(baseType) };
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1; // nulls first, as MySQL sorts them
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * One page of a collection.
 *
 * @example
 * const page = await listResources(store, { schema: schema('container'), projectId: '1a1',
 *   conditions: [], limit: 100, secret });
 */
export async function listResources(store: Store, req: ListRequest): Promise<ListResult> {
  const baseType = req.schema.baseType!;
  const types = new Set(familyOf(req.schema.id).map((s) => s.id));
  // A collection of a base type (instances) lists its children; a concrete one only its own kind.
  if (req.schema.id !== 'instance') types.clear(), types.add(req.schema.id);
  const now = req.now ?? Date.now();
  const showRemovedMs = (req.showRemovedSeconds ?? 300) * 1000;
  const asksAboutRemoved = req.conditions.some((c) => c.field === 'removed' || c.field === 'removeTime');
  const accept = (r: Resource) =>
    types.has(r.type) &&
    (req.projectId === null || r.projectId === req.projectId) &&
    (asksAboutRemoved || listedNow(r, now, showRemovedMs)) &&
    matches(r, req.conditions);

  const hash = queryHash({
    t: req.schema.id,
    p: req.projectId,
    c: req.conditions.map((c) => [c.field, c.modifier, c.value]).sort(),
    s: req.sort ?? null,
    d: !!req.descending,
  });
  const after = req.marker ? decodeCursor(req.secret, hash, req.marker) : undefined;
  const want = req.limit === null ? Infinity : req.limit + 1;
  const index = pickIndex(req, baseType);
  const out: Resource[] = [];

  /** Set when a page stopped at the examined-row budget: where the next page resumes. */
  let resumeAfter: Resource | undefined;
  if (!req.sort) {
    const pageSize = Number.isFinite(want) ? Math.min(Math.max(want, 25), 1000) : 1000;
    let examined = 0;
    scan: for await (const page of store.queryIndex({ ...index, after: after?.[1], descending: req.descending, pageSize })) {
      for (const r of page) {
        examined++;
        if (accept(r)) {
          out.push(r);
          if (out.length >= want) break scan;
        }
        // A filter that matches little must not read a whole table in one request: return what was found,
        // with a marker after the last row read (a page may be short; clients follow `next` until it is null).
        if (req.limit !== null && examined >= (req.maxExamined ?? MAX_EXAMINED)) {
          resumeAfter = r;
          break scan;
        }
      }
    }
  } else {
    // Sorting by a non-key field reads the whole partition; markers stay keyset (value, id).
    const all: Resource[] = [];
    for await (const page of store.queryIndex({ ...index, pageSize: 1000 })) for (const r of page) if (accept(r)) all.push(r);
    const dir = req.descending ? -1 : 1;
    const key = (r: Resource): CursorKey => [listedValue(r, req.sort!), r.num];
    const cmp = (a: CursorKey, b: CursorKey) => dir * (compareValues(a[0], b[0]) || a[1] - b[1]);
    all.sort((a, b) => cmp(key(a), key(b)));
    for (const r of all) {
      if (after && cmp(key(r), after) <= 0) continue;
      out.push(r);
      if (out.length >= want) break;
    }
  }

  const full = req.limit !== null && out.length > req.limit;
  const data = full ? out.slice(0, req.limit!) : out;
  const last = resumeAfter ?? (full ? data[data.length - 1] : undefined);
  const partial = !!last;
  const nextMarker = last ? encodeCursor(req.secret, hash, [req.sort ? listedValue(last, req.sort) : last.num, last.num]) : null;
  return { data, partial, nextMarker };
}
