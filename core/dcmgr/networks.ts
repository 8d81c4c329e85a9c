/**
 * @module
 * `/networks` (`nw-`): IPv4 networks instances' vifs join (spec W§2.3). The shared pool's (the seeded `nw-demo1`)
 * are seen by every account; all are made on Drover's one dc network, `dcn-public`.
 */
import type { Resource } from '../store/item.js';
import { dcNetworkOf, DC_NETWORKS, formatIpv4, hostBitsOf, inNetwork, NETWORK_MODES, parseIpv4, type DcNetwork } from '../domain/wakame/networks.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { instancesUsing } from './lookup.js';
import { boolParam, intParam, requiredString, serviceTypeParam, stringParam, stringParams } from './params.js';
import { createRecordRoute, deleteRecordRoute, notSupported, recordIdentity, recordReadRoutes, recordTimes, updateRecordRoute } from './record-routes.js';
import { listParams, pageOf } from './response.js';

/** How addresses are leased from a network: upwards or downwards from the last one (dcmgr `ip_assignment`). */
const IP_ASSIGNMENTS = ['asc', 'desc'];

/** dcmgr's default route metric for a new network. */
const DEFAULT_METRIC = 100;

/**
 * A network as dcmgr shows it: every column, its dc network as an object, and its services (none in Drover).
 * `bandwidth_mark` is the row's number, as dcmgr used its primary key.
 *
 * @example
 * await presentNetwork(ctx, network) // { id: 'nw-demo1', ipv4_network: '10.0.2.0', prefix: 24, dc_network: { id: 'dcn-public', ... }, ... }
 */
export async function presentNetwork(ctx: DcmgrContext, res: Resource): Promise<Record<string, unknown>> {
  const f = res.fields;
  const dcNetwork = typeof f.dc_network === 'string' ? dcNetworkOf(f.dc_network) : undefined;
  return {
    ...(await recordIdentity(ctx, res)),
    ipv4_network: f.ipv4_network,
    ipv4_gw: f.ipv4_gw ?? null,
    prefix: f.prefix,
    metric: f.metric ?? DEFAULT_METRIC,
    domain_name: f.domain_name ?? null,
    dns_server: null,
    dhcp_server: null,
    metadata_server: null,
    metadata_server_port: null,
    nat_network_id: null,
    network_mode: f.network_mode,
    bandwidth: null,
    ip_assignment: f.ip_assignment ?? 'asc',
    editable: f.editable === true,
    service_type: f.service_type ?? 'std',
    display_name: f.display_name ?? '',
    description: f.description ?? '',
    bandwidth_mark: res.num,
    network_services: [],
    dc_network: dcNetwork ? { ...dcNetwork, offering_network_modes: [...dcNetwork.offering_network_modes] } : null,
    ...recordTimes(res),
  };
}

function invalid(message: string): DcmgrError {
  return new DcmgrError('InvalidParameter', message);
}

/** An IPv4 address parameter as a number, or `InvalidParameter` naming it. */
function ipv4Param(name: string, text: string): number {
  const address = parseIpv4(text);
  if (address === null) throw invalid(`${name}: ${JSON.stringify(text.slice(0, 64))} is not an IPv4 address`);
  return address;
}

/**
 * The columns of a new network from `POST /networks`, checked as dcmgr's endpoint and model check them: a known dc
 * network offering the mode (404/163), an IPv4 `network` without host bits under a `prefix` of 1..31, a gateway
 * inside it; any other bad value is 400/143 naming the parameter.
 */
function newNetworkFields(params: Record<string, unknown>): Record<string, unknown> {
  const dcNetworkId = stringParam(params, 'dc_network') || DC_NETWORKS[0].id;
  const dcNetwork = dcNetworkOf(dcNetworkId);
  if (!dcNetwork || !dcNetwork.allow_new_networks) throw new DcmgrError('UnknownDcNetwork', dcNetworkId);
  const networkText = requiredString(params, 'network');
  const network = ipv4Param('network', networkText);
  const prefix = intParam(params, 'prefix', 1, 31);
  if (prefix === undefined) throw invalid('prefix: is required');
  const hostBits = hostBitsOf(network, prefix);
  if (hostBits !== 0) throw invalid(`network: ${networkText}/${prefix} has host bits set (did you mean ${formatIpv4(network - hostBits)}?)`);
  const mode = requiredString(params, 'network_mode');
  if (!(dcNetwork.offering_network_modes as readonly string[]).includes(mode)) {
    throw invalid(`network_mode: must be one of ${NETWORK_MODES.join(', ')}`);
  }
  const fields: Record<string, unknown> = {
    ipv4_network: networkText,
    prefix,
    network_mode: mode,
    dc_network: dcNetwork.id,
    ...stringParams(params, ['domain_name', 'display_name', 'description']),
  };
  const gw = stringParam(params, 'gw');
  if (gw) {
    if (!inNetwork(ipv4Param('gw', gw), network, prefix)) throw invalid(`gw: ${gw} is outside ${networkText}/${prefix}`);
    fields.ipv4_gw = gw;
  }
  const assignment = stringParam(params, 'ip_assignment');
  if (assignment) {
    if (!IP_ASSIGNMENTS.includes(assignment)) throw invalid(`ip_assignment: must be one of ${IP_ASSIGNMENTS.join(', ')}`);
    fields.ip_assignment = assignment;
  }
  const editable = boolParam(params, 'editable');
  if (editable !== undefined) fields.editable = editable;
  const metric = intParam(params, 'metric', 0, 2 ** 31 - 1);
  if (metric !== undefined) fields.metric = metric;
  const serviceType = serviceTypeParam(params);
  if (serviceType !== undefined) fields.service_type = serviceType;
  return fields;
}

/** Why the DHCP routes answer 501. */
const NO_LEASES = 'Drover does not lease addresses from networks: a vif shows the address its host reports';

/** A dc network as dcmgr shows one. */
function presentDcNetwork(d: DcNetwork): Record<string, unknown> {
  return { ...d, uuid: d.id, offering_network_modes: [...d.offering_network_modes], description: '', vlan_lease_id: null };
}

export const NETWORK_ROUTES: DcmgrRoute[] = [
  ...recordReadRoutes('networks', 'network', presentNetwork, ['display_name', 'service_type']),
  createRecordRoute('networks', 'network', newNetworkFields, presentNetwork),
  updateRecordRoute('networks', 'network', (params) => stringParams(params, ['display_name', 'description', 'domain_name']), presentNetwork),
  deleteRecordRoute('networks', 'network', instancesUsing),
  ...['networks/:id/dhcp_ranges/add', 'networks/:id/dhcp_ranges/remove', 'networks/:id/dhcp/reserve', 'networks/:id/dhcp/release'].map((path) =>
    notSupported('PUT', path, NO_LEASES),
  ),
  notSupported('GET', 'networks/:id/dhcp_ranges', NO_LEASES),
  // The dc networks new networks are made on (the Go client lists them).
  { method: 'GET', path: 'dc_networks', handle: async (ctx) => pageOf(DC_NETWORKS.map(presentDcNetwork), listParams(ctx.params, ctx.version), ctx.version) },
  {
    method: 'GET',
    path: 'dc_networks/:id',
    async handle(ctx) {
      const found = dcNetworkOf(ctx.path.id);
      if (!found) throw new DcmgrError('UnknownUUIDResource', ctx.path.id);
      return presentDcNetwork(found);
    },
  },
];
