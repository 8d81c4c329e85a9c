/**
 * @module
 * The shapes the resource modules share: a list answered as one filtered page, the head and times of a record's
 * presentation, the read and delete routes of a kind of record, and the routes Drover answers `NotSupported`.
 */
import type { Resource } from '../store/item.js';
import type { RecordKind } from '../domain/wakame/records.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { accountIdOf, findRecord, newRecordProject, recordsOf } from './lookup.js';
import { filterParam, serviceTypeParam } from './params.js';
import type { ApiVersion } from './request.js';
import { CREATION_ORDER, isoTime, listParams, pageOf } from './response.js';

/** A list filter: a parameter that names the field it matches, or `[parameter, field]` when they differ. */
export type EqualityFilter = string | readonly [param: string, field: string];

/**
 * One page of presented rows, as dcmgr answers a list: the paging parameters checked first, then the rows kept
 * whose field equals each filter parameter the request gives (compared as text), then paged.
 *
 * @example
 * return listPage(ctx, ['display_name', 'service_type'], async () => Promise.all(groups.map((g) => presentSecurityGroup(ctx, g))));
 */
export async function listPage(
  ctx: DcmgrContext,
  filters: readonly EqualityFilter[],
  rows: () => Promise<Record<string, unknown>[]>,
): Promise<Record<string, unknown>[]> {
  const paging = listParams(ctx.params, ctx.version);
  const wanted = filters.flatMap((filter) => {
    const [param, field] = typeof filter === 'string' ? [filter, filter] : filter;
    const value = param === 'service_type' ? serviceTypeParam(ctx.params) : filterParam(ctx.params, param);
    return value === undefined ? [] : [[field, value] as const];
  });
  const matching = (await rows()).filter((row) => wanted.every(([name, value]) => row[name] != null && String(row[name]) === value));
  return pageOf(matching, paging, ctx.version);
}

/** dcmgr's meta states of a `state` filter: anything not deleted, and everything (recently deleted included). */
const META_STATES: Record<string, (state: string) => boolean> = {
  alive: (s) => s !== 'deleted',
  alive_with_deleted: () => true,
};

/**
 * The `state` filter of an image or volume list as a test of a presented state: one of `states`, or a meta state
 * (`alive`, `alive_with_deleted`); `absent` is what no filter means. Anything else is `InvalidParameter`.
 *
 * @example
 * const inState = stateFilter(ctx.params, ['available', 'deleted'], 'alive');
 * inState('deleted') // false when no state was asked for
 */
export function stateFilter(params: Record<string, unknown>, states: readonly string[], absent: keyof typeof META_STATES): (state: string) => boolean {
  const asked = filterParam(params, 'state') ?? absent;
  if (states.includes(asked)) return (s) => s === asked;
  if (Object.hasOwn(META_STATES, asked)) return META_STATES[asked];
  throw new DcmgrError('InvalidParameter', `state: must be one of ${[...states, ...Object.keys(META_STATES)].join(', ')}`);
}

/**
 * The head of every record's presentation: its canonical id twice (dcmgr's `id` and `uuid`) and its account, with
 * its creation order for lists.
 *
 * @example
 * return { ...(await recordIdentity(ctx, sg)), description: sg.fields.description ?? '' };
 */
export async function recordIdentity(
  ctx: DcmgrContext,
  res: Resource,
): Promise<{ [CREATION_ORDER]: number; id: string; uuid: string; account_id: string }> {
  return { [CREATION_ORDER]: res.num, id: res.id, uuid: res.id, account_id: await accountIdOf(ctx, res.projectId) };
}

/**
 * A record's `created_at` and `updated_at`, as dcmgr renders times.
 *
 * @example
 * recordTimes(sg) // { created_at: '2015-06-29T09:28:24Z', updated_at: '2015-06-29T09:28:24Z' }
 */
export function recordTimes(res: Resource): { created_at: string | null; updated_at: string | null } {
  return { created_at: isoTime(res.created), updated_at: isoTime(res.updated) };
}

/** Presents one record for a Wakame client. */
export type RecordPresenter = (ctx: DcmgrContext, res: Resource) => Promise<Record<string, unknown>>;

/**
 * `GET <path>` (what the caller sees, filtered and paged) and `GET <path>/:id` for a kind of record.
 *
 * @example
 * export const NETWORK_ROUTES = [...recordReadRoutes('networks', 'network', presentNetwork, ['display_name', 'service_type'])];
 */
export function recordReadRoutes(
  path: string,
  kind: RecordKind,
  present: RecordPresenter,
  filters: readonly EqualityFilter[],
  versions?: readonly ApiVersion[],
): DcmgrRoute[] {
  return [
    {
      method: 'GET',
      path,
      versions,
      handle: (ctx) =>
        listPage(ctx, filters, async () => {
          const records = await recordsOf(ctx).list(kind, ctx.scope.projectId);
          return Promise.all(records.map((r) => present(ctx, r)));
        }),
    },
    {
      method: 'GET',
      path: `${path}/:id`,
      versions,
      handle: async (ctx) => present(ctx, await findRecord(ctx, kind, ctx.path.id)),
    },
  ];
}

/**
 * `POST <path>`: a new record of the caller's (or, for the admin, the account it names) with the fields `fieldsOf`
 * reads from the parameters (it throws dcmgr's error for bad ones), presented.
 *
 * @example
 * createRecordRoute('networks', 'network', newNetworkFields, presentNetwork)
 */
export function createRecordRoute(
  path: string,
  kind: RecordKind,
  fieldsOf: (params: Record<string, unknown>) => Record<string, unknown>,
  present: RecordPresenter,
): DcmgrRoute {
  return {
    method: 'POST',
    path,
    async handle(ctx) {
      const fields = fieldsOf(ctx.params);
      return present(ctx, await recordsOf(ctx).create(kind, { projectId: newRecordProject(ctx), fields }));
    },
  };
}

/**
 * `PUT <path>/:id`: changes the caller's own record with what `changesOf` reads from the parameters, and answers
 * `present` of the updated record.
 *
 * @example
 * updateRecordRoute('images', 'image', (p) => stringParams(p, ['display_name', 'description']), presentImage)
 */
export function updateRecordRoute(
  path: string,
  kind: RecordKind,
  changesOf: (params: Record<string, unknown>) => Record<string, unknown>,
  present: (ctx: DcmgrContext, res: Resource) => Promise<unknown> | unknown,
): DcmgrRoute {
  return {
    method: 'PUT',
    path: `${path}/:id`,
    async handle(ctx) {
      const res = await findRecord(ctx, kind, ctx.path.id, 'write');
      return present(ctx, await recordsOf(ctx).update(res, changesOf(ctx.params)));
    },
  };
}

/**
 * `DELETE <path>/:id`: deletes the caller's own record as dcmgr does (softly) and answers `[id]`, unless
 * `usersOf` names what still uses it; `refusal` makes the error for that (by default 403/105 naming the users).
 *
 * @example
 * deleteRecordRoute('networks', 'network', instancesUsing)
 */
export function deleteRecordRoute(
  path: string,
  kind: RecordKind,
  usersOf: (ctx: DcmgrContext, res: Resource) => Promise<string[]>,
  refusal: (id: string, users: string[]) => DcmgrError = (id, users) => new DcmgrError('OperationNotPermitted', `${id} is used by ${users.join(', ')}`),
): DcmgrRoute {
  return {
    method: 'DELETE',
    path: `${path}/:id`,
    async handle(ctx) {
      const res = await findRecord(ctx, kind, ctx.path.id, 'write');
      const users = await usersOf(ctx, res);
      if (users.length) throw refusal(res.id, users);
      await recordsOf(ctx).remove(res);
      return [res.id];
    },
  };
}

/**
 * A route dcmgr had that Drover answers with `NotSupported` (501) and why.
 *
 * @example
 * notSupported('POST', 'images', 'Images are registered by the operator, not through the API')
 */
export function notSupported(method: DcmgrRoute['method'], path: string, message: string): DcmgrRoute {
  return {
    method,
    path,
    async handle() {
      throw new DcmgrError('NotSupported', message);
    },
  };
}
