/**
 * @module
 * `/host_nodes` (`hn-`): the hosts `/v1/hosts` shows, as dcmgr's host nodes (spec W§2.2). They are read-only
 * here: a host joins by registering its agent and leaves through `/v1/hosts`.
 */
import { isGone } from '../process/lifecycle.js';
import type { Resource } from '../store/item.js';
import { capacityOf, hypervisorOf, isOnline } from '../domain/hosts.js';
import { bodyOf, wakameIdOf } from '../domain/wakame/ids.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { checkIdSyntax, resourceOfDerivedId, resourcesIn } from './lookup.js';
import { filterParam } from './params.js';
import { listPage, notSupported } from './record-routes.js';
import { CREATION_ORDER, isoTime } from './response.js';

/** Why host nodes are not written through `/api`. */
const READ_ONLY =
  'Host nodes are not managed through the Wakame API: a host joins by registering its agent (npm run agent), and leaves through /v1/hosts';

/**
 * The host a host node id names, if the caller sees it (its project's hosts; the admin without an account sees
 * every host) and it is not removed; `undefined` otherwise, also for an id that is not a host node id.
 *
 * @example
 * const host = await hostOfNodeId(ctx, ctx.params.host_node_id as string);
 * if (!host) throw new DcmgrError('UnknownHostNode', ctx.params.host_node_id as string);
 */
export async function hostOfNodeId(ctx: DcmgrContext, hostNodeId: string): Promise<Resource | undefined> {
  const host = await resourceOfDerivedId(ctx, 'host', 'host', hostNodeId);
  return host && !isGone(host) ? host : undefined;
}

/**
 * A host as dcmgr shows a host node: its agent's name as `node_id` (`hva.<hostname>`), its hypervisor label, its
 * capacity as the offering, and `status` from the agent's liveness.
 *
 * @example
 * presentHostNode(host, Date.now()) // { id: 'hn-…', node_id: 'hva.sim-1', hypervisor: 'dummy', status: 'online', ... }
 */
export function presentHostNode(host: Resource, now: number): Record<string, unknown> {
  const id = wakameIdOf('host', host.num);
  const hostname = typeof host.fields.hostname === 'string' && host.fields.hostname ? host.fields.hostname : host.id;
  const capacity = capacityOf(host);
  return {
    [CREATION_ORDER]: host.num,
    id,
    uuid: id,
    node_id: `hva.${hostname}`,
    arch: 'x86_64',
    hypervisor: hypervisorOf(host),
    display_name: hostname,
    offering_cpu_cores: capacity.vcpu,
    offering_memory_size: capacity.memoryMb,
    offering_disk_space_mb: 0,
    scheduling_enabled: host.state === 'active',
    created_at: isoTime(host.created),
    updated_at: isoTime(host.updated),
    status: isOnline(host, now) ? 'online' : 'offline',
  };
}

/** `GET /host_nodes`: `id` matches a prefix of the id's body, as dcmgr's `uuid LIKE 'x%'`. */
async function listHostNodes(ctx: DcmgrContext): Promise<unknown> {
  const idPrefix = filterParam(ctx.params, 'id');
  const bodyPrefix = idPrefix === undefined ? '' : (bodyOf('host', idPrefix) ?? idPrefix);
  const filters = ['node_id', 'display_name', 'arch', 'hypervisor', 'status', ['cpu_cores', 'offering_cpu_cores'], ['memory_size', 'offering_memory_size']] as const;
  return listPage(ctx, filters, async () => {
    const now = Date.now();
    const hosts = (await resourcesIn(ctx, 'host', ctx.scope.projectId)).filter((h) => !isGone(h));
    return hosts.map((h) => presentHostNode(h, now)).filter((n) => (n.id as string).startsWith(`hn-${bodyPrefix}`));
  });
}

export const HOST_NODE_ROUTES: DcmgrRoute[] = [
  { method: 'GET', path: 'host_nodes', handle: listHostNodes },
  {
    method: 'GET',
    path: 'host_nodes/:id',
    async handle(ctx) {
      checkIdSyntax('host', ctx.path.id);
      const host = await hostOfNodeId(ctx, ctx.path.id);
      if (!host) throw new DcmgrError('UnknownUUIDResource', ctx.path.id);
      return presentHostNode(host, Date.now());
    },
  },
  notSupported('POST', 'host_nodes', READ_ONLY),
  notSupported('PUT', 'host_nodes/:id', READ_ONLY),
  notSupported('DELETE', 'host_nodes/:id', READ_ONLY),
  notSupported('PUT', 'host_nodes/:id/evacuate', `${READ_ONLY}; to empty a host, stop or migrate its instances through /v1`),
];
