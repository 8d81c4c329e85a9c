/**
 * @module
 * Finding what a dcmgr request names, as dcmgr's `find_by_uuid` does (wrong prefix 400/143, missing or another
 * account's 404/100), and what the resource modules look up besides: the caller's records, the `/v1` resources
 * behind derived ids, account ids, and the alive instances that still use a record.
 */
import { NotFoundError } from '../errors.js';
import { formatId } from '../ids.js';
import { schema } from '../schema/registry.js';
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import { bodyOf, numOfWakameId, wakameIdOf, type WakameKind } from '../domain/wakame/ids.js';
import { wakameStateOf } from '../domain/wakame/instances.js';
import { WakameRecords, type RecordKind } from '../domain/wakame/records.js';
import { refersTo } from '../domain/wakame/references.js';
import type { DcmgrContext } from './app.js';
import { DcmgrError } from './errors.js';
import { serviceTypeParam } from './params.js';

/**
 * The Wakame-only records, as the caller's request reads and writes them.
 *
 * @example
 * const sgs = await recordsOf(ctx).list('securityGroup', ctx.scope.projectId);
 */
export function recordsOf(ctx: DcmgrContext): WakameRecords {
  return new WakameRecords(ctx.service.store, ctx.service.deps.defaultProjectId);
}

/**
 * The project a record the caller creates belongs to: its account's, or for the admin without an account the
 * shared pool's (dcmgr crashed there; the default project is where `/v1` puts the admin's creates too).
 *
 * @example
 * await recordsOf(ctx).create('securityGroup', { projectId: newRecordProject(ctx), fields });
 */
export function newRecordProject(ctx: DcmgrContext): string {
  return ctx.scope.projectId ?? ctx.service.deps.defaultProjectId;
}

/**
 * Checks an id's syntax for its kind (`sg-` and word characters), as dcmgr does before looking it up.
 *
 * @example
 * checkIdSyntax('securityGroup', 'nw-demo1') // throws InvalidParameter "Invalid UUID Syntax: nw-demo1"
 */
export function checkIdSyntax(kind: WakameKind, id: string): void {
  if (bodyOf(kind, id) === null) throw new DcmgrError('InvalidParameter', `Invalid UUID Syntax: ${id}`);
}

/**
 * A record named in a request path, as the caller may use it: `read` finds what it sees (its own, the shared
 * pool's shared ones, public images), and a `service_type` parameter that does not match hides it, as in dcmgr;
 * `write` needs the caller's own record (the admin without an account writes any), else 403/105.
 *
 * @example
 * const sg = await findRecord(ctx, 'securityGroup', ctx.path.id, 'write');
 */
export async function findRecord(ctx: DcmgrContext, kind: RecordKind, id: string, access: 'read' | 'write' = 'read'): Promise<Resource> {
  checkIdSyntax(kind, id);
  const res = await recordsOf(ctx).get(kind, id, ctx.scope.projectId);
  if (!res) throw new DcmgrError('UnknownUUIDResource', id);
  if (access === 'read') {
    const serviceType = serviceTypeParam(ctx.params);
    if (serviceType !== undefined && serviceType !== (res.fields.service_type ?? 'std')) throw new DcmgrError('UnknownUUIDResource', id);
  } else if (ctx.scope.projectId !== null && res.projectId !== ctx.scope.projectId) {
    throw new DcmgrError('OperationNotPermitted', `${id} belongs to account ${await accountIdOf(ctx, res.projectId)}, which alone may change it`);
  }
  return res;
}

/**
 * The `/v1` resource behind a derived Wakame id (`hn-…` → host, `vol-…` → its instance), if the caller sees it
 * (its project's; the admin without an account sees all); `undefined` for any other id.
 *
 * @example
 * await resourceOfDerivedId(ctx, 'volume', 'instance', 'vol-1x2y3z4w') // the instance whose boot volume it is
 */
export async function resourceOfDerivedId(
  ctx: DcmgrContext,
  idKind: WakameKind,
  baseType: 'host' | 'instance',
  wakameId: string,
): Promise<Resource | undefined> {
  const num = numOfWakameId(idKind, wakameId);
  if (num === null) return undefined;
  try {
    return await ctx.service.load(ctx.scope, schema(baseType), formatId(baseType, num));
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** Values already looked up for a request, by key: a page of records mostly shares a few projects and images. */
const lookedUpByRequest = new WeakMap<DcmgrContext, Map<string, Promise<unknown>>>();

/**
 * A value looked up at most once per request.
 *
 * @example
 * const image = await oncePerRequest(ctx, `image:${id}`, () => ctx.service.store.get(id));
 */
export function oncePerRequest<T>(ctx: DcmgrContext, key: string, lookUp: () => Promise<T>): Promise<T> {
  let known = lookedUpByRequest.get(ctx);
  if (!known) lookedUpByRequest.set(ctx, (known = new Map()));
  let value = known.get(key);
  if (!value) known.set(key, (value = lookUp()));
  return value as Promise<T>;
}

/**
 * The account id (`a-…`) of a project, looked up once per request.
 *
 * @example
 * await accountIdOf(ctx, res.projectId) // 'a-shpoolxx'
 */
export function accountIdOf(ctx: DcmgrContext, projectId: string): Promise<string> {
  return oncePerRequest(ctx, `account:${projectId}`, () => ctx.accounts.uuidOfProject(projectId));
}

/**
 * Resources of a base type in a project (`null`: in every project), in id order.
 *
 * @example
 * await resourcesIn(ctx, 'host', ctx.scope.projectId)
 */
export async function resourcesIn(ctx: DcmgrContext, baseType: 'instance' | 'host', projectId: string | null): Promise<Resource[]> {
  const partition = projectId === null ? partitions.byKind(baseType) : partitions.byProject(projectId, baseType);
  const out: Resource[] = [];
  for await (const page of ctx.service.store.queryIndex({ index: projectId === null ? 'byKind' : 'byProject', partition })) out.push(...page);
  return out;
}

/**
 * The alive (not terminated) instances that refer to a record, by Wakame id: what keeps a network, security group
 * or ssh key pair from being deleted. A shared-pool record may be used from every account.
 *
 * @example
 * const users = await instancesUsing(ctx, sg); // ['i-4cnb8vd1']
 */
export async function instancesUsing(ctx: DcmgrContext, record: Resource): Promise<string[]> {
  const projectId = record.projectId === ctx.service.deps.defaultProjectId ? null : record.projectId;
  const instances = await resourcesIn(ctx, 'instance', projectId);
  return instances.filter((i) => wakameStateOf(i) !== 'terminated' && refersTo(i, record.id)).map((i) => wakameIdOf('instance', i.num));
}
