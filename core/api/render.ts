/**
 * @module
 * Rancher v1 JSON: resources (`id, type, links, actions`, then fields in name order, nulls written, `*TS`
 * for dates), collections, schemas and error resources (spec §1.5–1.9).
 */
import { randomUUID } from 'node:crypto';
import type { ApiError } from '../errors.js';
import { fieldValue, isStoredField, unsetValue } from '../domain/fields.js';
import { collectionFilters, type Condition } from '../domain/filters.js';
import { availableActions } from '../process/actions.js';
import { transitioningFields } from '../process/lifecycle.js';
import { familyOf, schema, schemaFor, type Role } from '../schema/registry.js';
import type { FieldDef, ResourceSchema } from '../schema/types.js';
import type { StoredEvent } from '../store/events.js';
import type { Resource } from '../store/item.js';
import type { UrlBuilder } from './urls.js';

type Json = Record<string, unknown>;

/** `yyyy-MM-dd'T'HH:mm:ss'Z'`, as cattle writes dates. */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A resource as Rancher renders it.
 *
 * @example
 * c.json(renderResource(res, urls, 'project'))
 */
export function renderResource(res: Resource, urls: UrlBuilder, role: Role = 'admin'): Json {
  const plan = renderPlan(res.type, role);
  const links: Json = { self: urls.resource(res) };
  for (const l of plan.links) {
    // A reference link appears only when its field is set (cattle).
    if (l.field !== undefined && fieldValue(res, l.field) === null) continue;
    links[l.name] = urls.link(res, l.name);
  }
  const actions: Json = {};
  for (const name of availableActions(res, plan.schema)) actions[name] = urls.action(res, name);

  const out: Json = { id: res.id, type: res.type, links, actions };
  const transitioning = transitioningFields(res);
  // Keys in sorted order, worked out once per schema; a date's `TS` key only when the date is set.
  for (const key of plan.order) {
    switch (key.kind) {
      case 'baseType':
        out.baseType = plan.baseType;
        break;
      case 'transitioning':
        out[key.name] = transitioning[key.name as keyof typeof transitioning];
        break;
      case 'field':
        out[key.name] = fieldValue(res, key.name);
        break;
      case 'stored': {
        const v = res.fields[key.name];
        out[key.name] = v === undefined || v === null ? key.unset : v;
        break;
      }
      case 'date': {
        const v = fieldValue(res, key.name);
        out[key.name] = typeof v === 'number' ? formatDate(v) : null;
        break;
      }
      case 'dateTS': {
        const v = fieldValue(res, key.of);
        if (typeof v === 'number') out[key.name] = v;
        break;
      }
    }
  }
  return out;
}

/**
 * A `resource.change` event as its receivers get it, on the stream and in webhook bodies alike: Rancher's event
 * shape, the resource rendered for the receiver's role.
 *
 * @example
 * ws.send(JSON.stringify(toWireEvent(event, urls, 'project')))
 */
export function toWireEvent(e: StoredEvent, urls: UrlBuilder, role: Role): Json {
  return {
    id: e.id,
    name: e.name,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    previousState: e.previousState,
    actionId: e.actionId,
    version: e.version,
    time: new Date(e.time).toISOString(),
    data: { resource: renderResource(e.resource, urls, role) },
  };
}

/** One key of a rendered resource, and where its value comes from. */
type RenderKey =
  | { name: 'baseType'; kind: 'baseType' }
  | { name: string; kind: 'transitioning' | 'field' | 'date' }
  /** A field read as stored, `unset` when it never was (what `fieldValue` does, without its lookups per row). */
  | { name: string; kind: 'stored'; unset: unknown }
  | { name: string; kind: 'dateTS'; of: string };

/** What rendering a type for a role needs, worked out once: rendering a page of 100 repeats it 100 times. */
interface RenderPlan {
  schema: ResourceSchema;
  /** The schema parent (container → instance, virtualMachine → container), as in Rancher 1.2+. */
  baseType: string;
  /** Links the role may follow; `field`: shown only when that reference field is set. */
  links: { name: string; field?: string }[];
  /** Every key the fields may produce, sorted by name. */
  order: RenderKey[];
}

const plans = new Map<string, RenderPlan>();

function renderPlan(type: string, role: Role): RenderPlan {
  const cacheKey = `${role}/${type}`;
  let plan = plans.get(cacheKey);
  if (plan) return plan;
  const s = schema(type);
  const keys: RenderKey[] = [
    { name: 'baseType', kind: 'baseType' },
    ...['transitioning', 'transitioningMessage', 'transitioningProgress'].map((name) => ({ name, kind: 'transitioning' as const })),
  ];
  const taken = new Set(keys.map((k) => k.name));
  for (const [name, def] of Object.entries(s.resourceFields)) {
    if (def.output === false || taken.has(name)) continue;
    taken.add(name);
    if (def.type !== 'date') keys.push(isStoredField(name) ? { name, kind: 'stored', unset: unsetValue(type, name) } : { name, kind: 'field' });
    else keys.push({ name, kind: 'date' }, { name: `${name}TS`, kind: 'dateTS', of: name });
  }
  const links = Object.entries(s.links)
    // No link leads where the role cannot go.
    .filter(([, l]) => schemaFor(l.type, role))
    .map(([name, l]) => (l.kind === 'reference' ? { name, field: l.field } : { name }));
  plan = { schema: s, baseType: s.parent ?? s.id, links, order: keys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  plans.set(cacheKey, plan);
  return plan;
}

export interface CollectionView {
  schema: ResourceSchema;
  data: Json[];
  /** The request URL (for `self`, sort links and `next`). */
  requestUrl: URL;
  conditions?: Condition[];
  sort?: { name: string; descending: boolean };
  pagination?: { limit: number; partial: boolean; nextMarker: string | null } | null;
  /** The plain collection (no filters, sort or pagination), as for a create with `count`. */
  plain?: boolean;
}

/**
 * The current request URL with some query parameters changed: `null` deletes a parameter, a string replaces
 * it in place (or appends it). Parameters listed in `append` are always deleted and then added at the end,
 * as cattle builds sort links (`<current URL minus sort/order>&sort=<name>`).
 */
function withParams(url: URL, set: Record<string, string | null>, append: Record<string, string> = {}): string {
  const u = new URL(url.href);
  for (const [k, v] of Object.entries(set)) {
    if (v === null) u.searchParams.delete(k);
    else u.searchParams.set(k, v);
  }
  for (const [k, v] of Object.entries(append)) {
    u.searchParams.delete(k);
    u.searchParams.append(k, v);
  }
  return u.href;
}

/**
 * A collection as Rancher renders it (`createTypes`, `sortLinks`, `pagination`, `sort`, `filters`).
 * `self` is the request URL without its query; sort, reverse and next links keep the query. All of them
 * start from the same base as every other generated URL (`X-Forwarded-*` honoured by the `UrlBuilder`).
 *
 * @example
 * c.json(renderCollection({ schema: s, data, requestUrl: url, urls, pagination }, urls))
 */
export function renderCollection(v: CollectionView, urls: UrlBuilder): Json {
  const s = v.schema;
  const current = new URL(`${urls.origin}${v.requestUrl.pathname}${v.requestUrl.search}`);
  const self = `${urls.origin}${v.requestUrl.pathname.replace(/\/+$/, '')}`.toLowerCase();
  const createTypes: Json = {};
  const family = familyOf(s.id);
  if (family.length > 1) {
    for (const f of [...family].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (f.collectionMethods.includes('POST')) createTypes[f.id] = urls.collection(f);
    }
  }
  const filterDefs = s.baseType ? collectionFilters(s) : {};
  const sortLinks: Json = {};
  const filters: Json = {};
  for (const name of Object.keys(filterDefs)) {
    if (!v.plain) sortLinks[name] = withParams(current, { order: null, marker: null }, { sort: name });
    const used = (v.conditions ?? []).filter((c) => c.field === name);
    filters[name] = used.length ? used.map((c) => ({ modifier: c.modifier, value: c.value })) : null;
  }
  const p = v.pagination;
  return {
    type: 'collection',
    resourceType: s.id,
    links: { self },
    createTypes,
    actions: {},
    data: v.data,
    sortLinks,
    pagination: p
      ? {
          first: null,
          previous: null,
          next: p.nextMarker ? withParams(current, { marker: p.nextMarker }) : null,
          limit: p.limit,
          total: null,
          partial: p.partial,
        }
      : null,
    sort: v.sort
      ? {
          name: v.sort.name,
          order: v.sort.descending ? 'desc' : 'asc',
          reverse: withParams(current, { order: v.sort.descending ? 'asc' : 'desc', marker: null }),
        }
      : null,
    filters: v.plain ? {} : filters,
    createDefaults: {},
  };
}

function renderField(def: FieldDef): Json {
  const out: Json = { type: def.type, description: def.description ?? null, create: !!def.create, update: !!def.update };
  if (def.nullable) out.nullable = true;
  if (def.required) out.required = true;
  if (def.unique) out.unique = true;
  out.readOnCreateOnly = !!def.readOnCreateOnly;
  // Key order as in cattle's dump: limits, then options, then the default (spec §1.7).
  for (const k of ['minLength', 'maxLength', 'maxItems', 'min', 'max', 'options', 'validChars', 'invalidChars', 'default'] as const) {
    if (def[k] !== undefined) out[k] = def[k];
  }
  return out;
}

/**
 * A schema resource (spec §1.7).
 *
 * @example
 * renderSchema(schema('container'), urls).links.collection // '.../v1/containers'
 */
export function renderSchema(s: ResourceSchema, urls: UrlBuilder): Json {
  const links: Json = { self: urls.schema(s.id) };
  if (s.baseType) links.collection = urls.collection(s);
  const resourceFields: Json = {};
  for (const [name, def] of Object.entries(s.resourceFields)) resourceFields[name] = renderField(def);
  const filters = s.baseType ? collectionFilters(s) : {};
  return {
    id: s.id,
    type: 'schema',
    links,
    actions: {},
    pluralName: s.pluralName,
    resourceFields,
    collectionFilters: Object.fromEntries(Object.entries(filters).map(([k, m]) => [k, { modifiers: m }])),
    includeableLinks: Object.keys(s.links).map((l) => l.toLowerCase()),
    resourceActions: s.resourceActions,
    collectionActions: {},
    collectionFields: {},
    collectionMethods: s.collectionMethods,
    resourceMethods: s.resourceMethods,
  };
}

/**
 * The output of a handler action (`hostAccess`, `instanceConsole`): no id, links or actions.
 *
 * @example
 * renderOutput('hostAccess', { url, token })
 */
export function renderOutput(type: string, values: Json): Json {
  const out: Json = { id: null, type, links: {}, actions: {} };
  for (const k of Object.keys(values).sort()) out[k] = values[k];
  return out;
}

/**
 * The Rancher error resource.
 *
 * @example
 * renderError(new ApiError(422, 'MissingRequired', { fieldName: 'imageUuid' }))
 */
export function renderError(e: ApiError): Json {
  const out: Json = {
    id: randomUUID(),
    type: 'error',
    links: {},
    actions: {},
    status: e.status,
    code: e.code,
    message: e.publicMessage,
    detail: e.detail,
    baseType: 'error',
  };
  if (e.fieldName !== undefined) out.fieldName = e.fieldName;
  return out;
}
