/**
 * @module
 * dcmgr's instances endpoints, 11.12 (seed 004) and 12.03 (W§1): the same instances `/v1` shows, found by their
 * Wakame ids, created from Wakame parameters, and moved through the process table's actions, each operation gated
 * by the Wakame state it is allowed from (W§3.3).
 */
import { ConflictError } from '../errors.js';
import { capacityOf, freeOf, hostIdOf, hypervisorOf, isOnline, requirementOf } from '../domain/hosts.js';
import type { Account } from '../domain/wakame/accounts.js';
import { bodyOf, numOfWakameId, wakameIdOf } from '../domain/wakame/ids.js';
import {
  WAKAME_OPERATIONS,
  WAKAME_STATES,
  wakameStateOf,
  wakameStatusOf,
  type WakameOperation,
  type WakameOperationName,
  type WakameState,
} from '../domain/wakame/instances.js';
import { vifsOf as storedVifsOf, type StoredVif } from '../domain/wakame/references.js';
import { schema } from '../schema/registry.js';
import { hostnameClaims } from '../store/claims.js';
import type { Resource } from '../store/item.js';
import { formatId } from '../ids.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { hostOfNodeId } from './host-nodes.js';
import { labelsParam, presentLabels } from './labels.js';
import { accountIdOf, checkIdSyntax, oncePerRequest, recordsOf, resourceOfDerivedId, resourcesIn } from './lookup.js';
import { filterParam, intParam, serviceTypeParam, stringParam } from './params.js';
import type { ApiVersion } from './request.js';
import { CREATION_ORDER, isoTime, listParams, pageOf } from './response.js';
import { bootVolumeState, volumesOf } from './volumes.js';

/** How long a terminated instance stays in 11.12 lists (dcmgr `recent_terminated_instance_period`). */
const RECENTLY_TERMINATED_MS = 900_000;

/** Hypervisors dcmgr knows (wv:dcmgr/lib/dcmgr/constants/host_node.rb). */
export const HYPERVISORS = ['kvm', 'lxc', 'openvz', 'esxi', 'dummy'] as const;

/** What the presenters read besides the instance, each looked up once per request. */
const hostOf = (ctx: DcmgrContext, id: string | null) =>
  id ? oncePerRequest(ctx, `host:${id}`, () => ctx.service.store.get(id)) : Promise.resolve(undefined);
const recordOf = (ctx: DcmgrContext, kind: 'sshKeyPair' | 'network', id: string) =>
  oncePerRequest(ctx, `record:${id}`, () => recordsOf(ctx).get(kind, id, null));

/**
 * The instance a Wakame id names, if the caller's account may see it: a malformed id is 400/143, anything else
 * that is not the caller's instance 404/100 with the id as the message.
 *
 * @example
 * const vm = await loadInstance(ctx, 'i-4cnb8vd1');
 */
export async function loadInstance(ctx: DcmgrContext, id: string): Promise<Resource> {
  checkIdSyntax('instance', id);
  const res = await resourceOfDerivedId(ctx, 'instance', 'instance', id);
  if (!res) throw new DcmgrError('UnknownUUIDResource', id);
  return res;
}

/** The vifs an instance has, in index order. */
function vifsOf(res: Resource): StoredVif[] {
  return [...storedVifsOf(res)].sort((a, b) => a.index - b.index);
}

/** The address of a vif while the instance holds a lease: the first vif carries the address its host reported. */
function addressOf(res: Resource, vif: StoredVif, state: WakameState): string | null {
  const ip = res.fields.primaryIpAddress;
  if (vif !== vifsOf(res)[0] || typeof ip !== 'string' || !ip) return null;
  return state === 'stopped' || state === 'terminated' ? null : ip;
}

/** When the instance was terminated: its removal, or the failure that ended it (W§5.1). */
function terminatedAt(res: Resource): number | null {
  const removed = res.fields.removed;
  if (typeof removed === 'number') return removed;
  return wakameStateOf(res) === 'terminated' ? res.updated : null;
}

/**
 * An instance as 12.03 presents it (W§1.2).
 *
 * @example
 * await present1203(lookups, vm) // { id: 'i-…', account_id: 'a-shpoolxx', state: 'running', ... }
 */
async function present1203(ctx: DcmgrContext, res: Resource, now: number): Promise<Record<string, unknown>> {
  const id = wakameIdOf('instance', res.num);
  const state = wakameStateOf(res);
  const hostId = hostIdOf(res);
  const host = await hostOf(ctx, hostId);
  const need = requirementOf(res);
  const keyId = typeof res.fields.sshKeyPairId === 'string' ? res.fields.sshKeyPairId : null;
  const key = keyId ? await recordOf(ctx, 'sshKeyPair', keyId) : undefined;
  const terminated = isoTime(terminatedAt(res));
  const vol = wakameIdOf('volume', res.num);
  return {
    [CREATION_ORDER]: res.num,
    id,
    account_id: await accountIdOf(ctx, res.projectId),
    host_node: host ? wakameIdOf('host', host.num) : null,
    cpu_cores: need.vcpu,
    memory_size: need.memoryMb,
    arch: 'x86_64',
    image_id: res.fields.wakameImageId ?? null,
    created_at: isoTime(res.created),
    updated_at: isoTime(res.updated),
    terminated_at: terminated,
    deleted_at: terminated,
    state,
    status: wakameStatusOf(res, host, now),
    ssh_key_pair: keyId ? { uuid: keyId, display_name: key?.fields.display_name ?? '' } : null,
    volume: [{ vol_id: vol, state: bootVolumeState(res) }],
    vif: vifsOf(res).map((v) => {
      const address = addressOf(res, v, state);
      return {
        vif_id: vifIdOf(res, v),
        network_id: v.network_id,
        index: v.index,
        ...(address ? { ipv4: { address, nat_address: null } } : {}),
        security_groups: v.security_groups,
      };
    }),
    hostname: res.fields.hostname ?? bodyOf('instance', id),
    ha_enabled: res.fields.haEnabled ? 1 : 0,
    hypervisor: res.fields.hypervisor ?? (host ? hypervisorOf(host) : null),
    display_name: res.fields.name ?? '',
    service_type: res.fields.serviceType ?? 'std',
    monitoring: res.fields.monitoring ?? { enabled: false, mail_address: [], items: {} },
    labels: presentLabels(res, id),
    boot_volume_id: vol,
  };
}

/**
 * An instance as 11.12 presents it (seed 004, `Instance#to_api_document`).
 *
 * @example
 * await present1112(lookups, vm) // { id: 'i-…', instance_spec_id: 'is-small', network: [...], ... }
 */
async function present1112(ctx: DcmgrContext, res: Resource, now: number): Promise<Record<string, unknown>> {
  const id = wakameIdOf('instance', res.num);
  const state = wakameStateOf(res);
  const host = await hostOf(ctx, hostIdOf(res));
  const need = requirementOf(res);
  const hostname = (res.fields.hostname as string | undefined) ?? bodyOf('instance', id);
  const accountBody = (await accountIdOf(ctx, res.projectId)).replace(/^a-/, '');
  const network = [];
  for (const v of vifsOf(res)) {
    const address = addressOf(res, v, state);
    if (!address) continue;
    const nw = v.network_id ? await recordOf(ctx, 'network', v.network_id) : undefined;
    const domain = nw?.fields.domain_name;
    network.push({
      network_name: v.network_id,
      ipaddr: [address],
      dns_name: typeof domain === 'string' && domain ? `${hostname}.${accountBody}.${domain}` : null,
      nat_network_name: null,
      nat_ipaddr: [],
      nat_dns_name: null,
    });
  }
  const status = wakameStatusOf(res, host, now);
  return {
    [CREATION_ORDER]: res.num,
    id,
    host_node: host ? wakameIdOf('host', host.num) : null,
    cpu_cores: need.vcpu,
    memory_size: need.memoryMb,
    arch: 'x86_64',
    image_id: res.fields.wakameImageId ?? null,
    instance_spec_id: res.fields.instanceSpecId ?? null,
    created_at: isoTime(res.created),
    state,
    // 11.12 knew only online and offline (seed 004: a new instance is offline).
    status: status === 'init' ? 'offline' : status,
    ssh_key_pair: res.fields.sshKeyPairId ?? null,
    network,
    security_groups: [...new Set(vifsOf(res).flatMap((v) => v.security_groups))],
    volume: [{ vol_id: wakameIdOf('volume', res.num), guest_device_name: null, state: bootVolumeState(res) }],
    vif: vifsOf(res).map((v) => {
      const address = addressOf(res, v, state);
      return { vif_id: vifIdOf(res, v), network_id: v.network_id, ...(address ? { ipv4: { address, nat_address: null } } : {}) };
    }),
    hostname,
    ha_enabled: res.fields.haEnabled ? 1 : 0,
  };
}

const vifIdOf = (res: Resource, v: StoredVif) => wakameIdOf('vif', res.num * 32 + v.index);

const PRESENT: Record<ApiVersion, (ctx: DcmgrContext, res: Resource, now: number) => Promise<Record<string, unknown>>> = {
  '11.12': present1112,
  '12.03': present1203,
};

/**
 * The instance presented in the request's version.
 *
 * @example
 * return presentInstance(ctx, vm);
 */
export function presentInstance(ctx: DcmgrContext, res: Resource, now = Date.now()): Promise<Record<string, unknown>> {
  return PRESENT[ctx.version](ctx, res, now);
}

// ---- list ----

/** `state` filter values: a Wakame state, or one of dcmgr's groups (W§1.1). */
const STATE_GROUPS: Record<string, (s: WakameState, r: Resource, now: number) => boolean> = {
  alive: (s) => s !== 'terminated',
  alive_with_terminated: (s, r, now) => s !== 'terminated' || (terminatedAt(r) ?? 0) > now - RECENTLY_TERMINATED_MS,
  without_terminated: (s) => s === 'running' || s === 'stopped' || s === 'halted',
};

async function listInstances(ctx: DcmgrContext): Promise<unknown> {
  const paging = listParams(ctx.params, ctx.version);
  const now = Date.now();
  const filters: ((r: Resource) => boolean)[] =
    ctx.version === '11.12' ? [(r) => STATE_GROUPS.alive_with_terminated(wakameStateOf(r), r, now)] : listFilters(ctx.params, now);
  const matches = (await resourcesIn(ctx, 'instance', ctx.scope.projectId)).filter((r) => filters.every((f) => f(r)));
  const presented = await Promise.all(matches.map((r) => presentInstance(ctx, r, now)));
  return pageOf(presented, paging, ctx.version);
}

/** The 12.03 list filters of W§1.1; a value dcmgr would refuse is 400/143. */
function listFilters(p: Record<string, unknown>, now: number): ((r: Resource) => boolean)[] {
  const out: ((r: Resource) => boolean)[] = [];
  const str = (name: string) => filterParam(p, name);
  const state = str('state');
  if (state !== undefined) {
    const group = Object.hasOwn(STATE_GROUPS, state) ? STATE_GROUPS[state] : undefined;
    if (!group && !(WAKAME_STATES as readonly string[]).includes(state)) throw new DcmgrError('InvalidParameter', 'state');
    out.push((r) => (group ? group(wakameStateOf(r), r, now) : wakameStateOf(r) === state));
  }
  const id = str('id');
  if (id !== undefined) {
    const prefix = id.replace(/^i-/, '');
    out.push((r) => wakameIdOf('instance', r.num).slice(2).startsWith(prefix));
  }
  const hostNode = str('host_node_id');
  if (hostNode !== undefined) {
    const hostNum = numOfWakameId('host', hostNode);
    if (bodyOf('host', hostNode) === null) throw new DcmgrError('InvalidParameter', 'host_node_id');
    const hostId = hostNum === null ? null : formatId('host', hostNum);
    out.push((r) => hostIdOf(r) === hostId);
  }
  const serviceType = serviceTypeParam(p);
  if (serviceType !== undefined) out.push((r) => (r.fields.serviceType ?? 'std') === serviceType);
  const displayName = str('display_name');
  if (displayName !== undefined) out.push((r) => (r.fields.name ?? '') === displayName);
  return out;
}

// ---- create ----

/** A required integer parameter within bounds (400/143 naming it when absent or out of bounds). */
function requiredInt(p: Record<string, unknown>, name: string, min: number, max: number): number {
  const n = intParam(p, name, min, max);
  if (n === undefined) throw new DcmgrError('InvalidParameter', `${name}: is required`);
  return n;
}

/** A text parameter no longer than `maxLength` (what the instance's fields hold). */
function strParam(p: Record<string, unknown>, name: string, maxLength: number): string | undefined {
  const v = stringParam(p, name);
  if (v !== undefined && v.length > maxLength) throw new DcmgrError('InvalidParameter', `${name}: at most ${maxLength} characters`);
  return v;
}

/** `vifs` as dcmgr takes it: a hash, or a JSON string of one (mussel sends a file's content). */
async function readVifs(ctx: DcmgrContext, raw: unknown, legacyGroups: string[]): Promise<StoredVif[]> {
  let vifs = raw ?? {};
  if (typeof vifs === 'string') {
    try {
      vifs = vifs.trim() === '' ? {} : JSON.parse(vifs);
    } catch {
      throw new DcmgrError('InvalidParameter', 'vifs: not a JSON object');
    }
  }
  if (typeof vifs !== 'object' || vifs === null || Array.isArray(vifs)) throw new DcmgrError('InvalidParameter', 'vifs');
  const entries = Object.entries(vifs as Record<string, unknown>);
  if (entries.length > 8) throw new DcmgrError('InvalidParameter', 'vifs: at most 8 vifs');
  const out: StoredVif[] = [];
  for (const [position, [name, spec]] of entries.entries()) {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new DcmgrError('InvalidParameter', `vifs: ${name} is not a hash`);
    const v = spec as Record<string, unknown>;
    for (const unsupported of ['ipv4_addr', 'nat_network', 'nat_ipv4_addr', 'mac_addr']) {
      if (v[unsupported] !== undefined && v[unsupported] !== '') {
        throw new DcmgrError('InvalidParameter', `vifs: ${unsupported} is not supported: addresses come from the host`);
      }
    }
    const index = v.index === undefined ? position : Number(v.index);
    if (!Number.isInteger(index) || index < 0 || index > 31 || out.some((o) => o.index === index)) {
      throw new DcmgrError('InvalidParameter', `vifs: ${name} has a bad or repeated index`);
    }
    let network_id: string | null = null;
    if (v.network !== undefined && v.network !== '') {
      if (typeof v.network !== 'string' || !(await recordsOf(ctx).get('network', v.network, ctx.account?.projectId ?? null))) {
        throw new DcmgrError('UnknownNetwork', String(v.network));
      }
      network_id = v.network;
    }
    const groups = v.security_groups === undefined || v.security_groups === '' ? legacyGroups : v.security_groups;
    out.push({ name, index, network_id, security_groups: await readGroups(ctx, groups) });
  }
  return out;
}

async function readGroups(ctx: DcmgrContext, raw: unknown): Promise<string[]> {
  const list = typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : Array.isArray(raw) ? raw : null;
  if (!list || list.length > 16 || list.some((g) => typeof g !== 'string')) throw new DcmgrError('InvalidParameter', 'security_groups');
  for (const g of list as string[]) {
    if (!(await recordsOf(ctx).get('securityGroup', g, ctx.account?.projectId ?? null))) throw new DcmgrError('UnknownSecurityGroup', g);
  }
  return [...new Set(list as string[])];
}

/** The hosts of the account that run a hypervisor and are up (dcmgr's "online, scheduling enabled"). */
async function liveHosts(ctx: DcmgrContext, projectId: string): Promise<Resource[]> {
  const now = Date.now();
  return (await resourcesIn(ctx, 'host', projectId)).filter((h) => h.state === 'active' && isOnline(h, now));
}

const free = (h: Resource) => freeOf(capacityOf(h));

/** The host a `host_node_id` names in the caller's account: 400/141 when malformed, 404/114 when none. */
async function namedHost(ctx: DcmgrContext, id: string): Promise<Resource> {
  if (bodyOf('host', id) === null) throw new DcmgrError('InvalidHostNodeID', id.slice(0, 64));
  const host = await hostOfNodeId(ctx, id);
  if (!host) throw new DcmgrError('UnknownHostNode', id);
  return host;
}

/** What a create asks for, validated in dcmgr's order (W§1.3; 11.12: the spec gives the size). */
interface CreateRequest {
  image: Resource;
  hypervisor: string;
  cpuCores: number;
  memorySize: number;
  instanceSpecId?: string;
}

async function createInstance(ctx: DcmgrContext): Promise<unknown> {
  const p = ctx.params;
  const account = ctx.account;
  // dcmgr crashed here without an account (W§0.1): say what is missing instead.
  if (!account) throw new DcmgrError('InvalidRequestCredentials', 'An instance belongs to an account: send the X-VDC-Account-UUID header');
  const req = ctx.version === '11.12' ? await request1112(ctx, account) : await request1203(ctx, account);

  const hosts = (await liveHosts(ctx, account.projectId)).filter((h) => hypervisorOf(h) === req.hypervisor);
  if (ctx.version === '12.03' && hosts.length === 0) throw new DcmgrError('InvalidParameter', `Unknown/Inactive hypervisor:${req.hypervisor}`);
  const total = hosts.reduce((t, h) => ({ vcpu: t.vcpu + free(h).vcpu, memoryMb: t.memoryMb + free(h).memoryMb }), { vcpu: 0, memoryMb: 0 });
  if (total.vcpu < req.cpuCores || total.memoryMb < req.memorySize) {
    throw new DcmgrError('OutOfHostCapacity', `No capacity for ${req.cpuCores} cores and ${req.memorySize} MB`);
  }
  const legacyGroups = p.security_groups === undefined ? [] : await readGroups(ctx, p.security_groups);
  const vifs =
    ctx.version === '11.12' && typeof p.network_id === 'string' && p.network_id
      ? await readVifs(ctx, { eth0: { network: p.network_id } }, legacyGroups)
      : await readVifs(ctx, p.vifs, legacyGroups);

  const hostnameAsked = strParam(p, 'hostname', 255)?.toLowerCase();
  if (hostnameAsked !== undefined && !/^[0-9a-z][0-9a-z-]{0,31}$/.test(hostnameAsked)) {
    throw new DcmgrError('InvalidParameter', 'hostname: 1 to 32 of [0-9a-z-], starting with a letter or digit');
  }
  const sshKeyId = strParam(p, 'ssh_key_id', 64);
  if (sshKeyId && !(await recordsOf(ctx).get('sshKeyPair', sshKeyId, account.projectId))) throw new DcmgrError('UnknownSshKeyPair', sshKeyId);

  const hostNodeId = [p.host_node_id, p.host_id, p.host_pool_id].find((v) => typeof v === 'string' && v !== '') as string | undefined;
  let host: Resource | undefined;
  if (hostNodeId) {
    host = await namedHost(ctx, hostNodeId);
    if (host.state !== 'active' || !isOnline(host, Date.now())) throw new DcmgrError('InvalidHostNodeID', `${hostNodeId} is offline`);
    if (hypervisorOf(host) !== req.hypervisor) throw new DcmgrError('IncompatibleHostNode', `${hostNodeId} runs ${hypervisorOf(host)}`);
    if (free(host).vcpu < req.cpuCores || free(host).memoryMb < req.memorySize) throw new DcmgrError('OutOfHostCapacity', hostNodeId);
  }
  if (p.volumes !== undefined && p.volumes !== '' && Object.keys(p.volumes as object).length > 0) {
    throw new DcmgrError('InvalidParameter', 'volumes: only the boot volume from the image is supported');
  }
  const serviceType = serviceTypeParam(p) ?? (req.image.fields.service_type as string | undefined) ?? 'std';
  const quotaWeight = p.quota_weight === undefined || p.quota_weight === '' ? 0 : Number(p.quota_weight);
  if (!Number.isFinite(quotaWeight) || quotaWeight < 0) throw new DcmgrError('InvalidParameter', 'quota_weight');
  await checkQuota(ctx, account, quotaWeight);
  const monitoring = p.monitoring as Record<string, unknown> | undefined;
  const mail = monitoring?.mail_address;

  const displayName = strParam(p, 'display_name', 255) ?? '';
  const userData = strParam(p, 'user_data', 65_535) ?? '';
  const labels = labelsParam(p) ?? {};
  const claims = hostnameClaims(ctx.service.store);
  const [created] = await ctx.service.create(
    ctx.scope,
    schema('virtualMachine'),
    {
      name: displayName,
      imageUuid: req.image.fields.imageUuid ?? `sim:${req.image.id}`,
      vcpu: req.cpuCores,
      memoryMb: req.memorySize,
      ...(userData ? { userdata: userData } : {}),
      ...(host ? { requestedHostId: host.id } : {}),
      labels,
    },
    {
      internal: {
        wakameImageId: req.image.id,
        hypervisor: req.hypervisor,
        vifs,
        haEnabled: p.ha_enabled === 'true' || p.ha_enabled === '1' || p.ha_enabled === true,
        serviceType,
        quotaWeight,
        monitoring: {
          enabled: monitoring?.enabled === 'true' || monitoring?.enabled === true,
          mail_address: Array.isArray(mail) ? mail.map(String) : typeof mail === 'string' && mail ? [mail] : [],
          items: {},
        },
        ...(sshKeyId ? { sshKeyPairId: sshKeyId } : {}),
        ...(req.instanceSpecId ? { instanceSpecId: req.instanceSpecId } : {}),
      },
      // The hostname defaults to the id's body, so it is settled once the id is known, and leased before the
      // instance exists: two creates asking for one name cannot both get it.
      prepare: async (draft) => {
        const hostname = hostnameAsked ?? wakameIdOf('instance', draft.num).slice(2);
        draft.fields.hostname = hostname;
        await leaseHostname(ctx, claims, draft.projectId, hostname, draft.id);
      },
    },
  );
  return presentInstance(ctx, created);
}

async function leaseHostname(ctx: DcmgrContext, claims: ReturnType<typeof hostnameClaims>, projectId: string, hostname: string, id: string) {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await claims.claim([projectId, hostname], id)) return;
    const holder = await claims.holder(projectId, hostname);
    if (holder === undefined) continue; // released meanwhile
    const current = await ctx.service.store.get(holder);
    // A terminated instance gives its hostname back (dcmgr frees `hostname_leases` on terminate).
    if (current && wakameStateOf(current) !== 'terminated') throw new DcmgrError('DuplicateHostname', hostname);
    if (await claims.claim([projectId, hostname], id, holder)) return;
  }
  throw new DcmgrError('DuplicateHostname', hostname);
}

/** The available image `image_id` names (400/137 otherwise: dcmgr's first check in both versions). */
async function imageParam(ctx: DcmgrContext, account: Account): Promise<Resource> {
  const imageId = filterParam(ctx.params, 'image_id') ?? '';
  const image = imageId ? await recordsOf(ctx).get('image', imageId, account.projectId) : undefined;
  if (!image || image.state !== 'available') throw new DcmgrError('InvalidImageID', imageId || 'image_id');
  return image;
}

async function request1203(ctx: DcmgrContext, account: Account): Promise<CreateRequest> {
  const p = ctx.params;
  const image = await imageParam(ctx, account);
  const hypervisor = typeof p.hypervisor === 'string' ? p.hypervisor : '';
  if (!(HYPERVISORS as readonly string[]).includes(hypervisor)) throw new DcmgrError('InvalidParameter', 'hypervisor');
  const cpuCores = requiredInt(p, 'cpu_cores', 1, 128);
  const memorySize = requiredInt(p, 'memory_size', 128, 999_999);
  return { image, hypervisor, cpuCores, memorySize };
}

async function request1112(ctx: DcmgrContext, account: Account): Promise<CreateRequest> {
  const p = ctx.params;
  const image = await imageParam(ctx, account);
  const specId = typeof p.instance_spec_id === 'string' ? p.instance_spec_id : '';
  const spec = specId ? await recordsOf(ctx).get('instanceSpec', specId, account.projectId) : undefined;
  if (!spec) throw new DcmgrError('InvalidInstanceSpec', specId || 'instance_spec_id');
  return {
    image,
    hypervisor: String(spec.fields.hypervisor),
    cpuCores: Number(spec.fields.cpu_cores),
    memorySize: Number(spec.fields.memory_size),
    instanceSpecId: spec.id,
  };
}

/** `X-VDC-Account-Quota` (W§0.1): `instance.count` and `instance.quota_weight` over the account's alive instances. */
async function checkQuota(ctx: DcmgrContext, account: Account, weight: number): Promise<void> {
  const raw = ctx.quotaHeader;
  if (!raw) return;
  let quota: Record<string, unknown>;
  try {
    quota = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new DcmgrError('InvalidParameter', 'X-VDC-Account-Quota is not a JSON object');
  }
  const count = quota['instance.count'];
  const maxWeight = quota['instance.quota_weight'];
  if (typeof count !== 'number' && typeof maxWeight !== 'number') return;
  const alive = (await resourcesIn(ctx, 'instance', account.projectId)).filter((r) => wakameStateOf(r) !== 'terminated');
  const used = alive.reduce((sum, r) => sum + Number(r.fields.quotaWeight ?? 0), 0);
  if (typeof count === 'number' && alive.length + 1 > count) throw new DcmgrError('ExceedQuotaLimit', `instance.count: ${count}`);
  if (typeof maxWeight === 'number' && used + weight > maxWeight) throw new DcmgrError('ExceedQuotaLimit', `instance.quota_weight: ${maxWeight}`);
}

// ---- operations ----

/**
 * Runs a Wakame operation on an instance: 400/125 with the Wakame state when W§3.3 does not allow it, else the
 * process the operation begins (or DELETE's way out).
 *
 * @example
 * await operate(ctx, vm, 'poweroff', { timeout: 0 });
 */
export async function operate(ctx: DcmgrContext, res: Resource, name: WakameOperationName, input: Record<string, unknown> = {}): Promise<Resource> {
  const op: WakameOperation = WAKAME_OPERATIONS[name];
  let cur = res;
  for (let attempt = 0; ; attempt++) {
    const state = wakameStateOf(cur);
    if (!(op.from as readonly string[]).includes(state)) throw new DcmgrError('InvalidInstanceState', state);
    if (op.unsupported) throw new DcmgrError('NotSupported', op.unsupported);
    if (op.underWay === state) return cur;
    // DELETE has its own way past an action under way (it waits, or asks that action to end in removal).
    if (op.delete) return ctx.service.remove(ctx.scope, schema(cur.type), cur);
    try {
      return await ctx.service.beginProcess(ctx.scope, cur, op.process!, input);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      // Wakame shows no state for a reboot or an update under way, so a client sees `running` and asks again at
      // once; dcmgr's agent ran its jobs one after another. Give the action under way a moment to finish.
      const fresh = await ctx.service.store.get(cur.id);
      if (!fresh) throw new DcmgrError('UnknownUUIDResource', idOf(cur));
      if (attempt >= OPERATION_RETRIES) {
        const busy = fresh.action ? ` (${fresh.action.name} under way; try again)` : '';
        throw new DcmgrError('InvalidInstanceState', `${wakameStateOf(fresh)}${busy}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** attempt)));
      cur = fresh;
    }
  }
}

/** How often an operation refused by an action under way is tried again (about 5 s in all). */
const OPERATION_RETRIES = 12;

const idOf = (res: Resource) => wakameIdOf('instance', res.num);

function forceOf(p: Record<string, unknown>): boolean {
  if (p.force === undefined || p.force === '') return true;
  if (p.force === 'true' || p.force === true) return true;
  if (p.force === 'false' || p.force === false) return false;
  throw new DcmgrError('InvalidParameter', 'force');
}

/** How long a soft poweroff waits for the guest before the host stops it (seconds). */
const SOFT_POWEROFF_TIMEOUT_SECONDS = 60;

async function moveInstance(ctx: DcmgrContext, res: Resource) {
  const target = ctx.params.host_node_id;
  // dcmgr raised (500) without a host; say what is missing.
  if (typeof target !== 'string' || !target) throw new DcmgrError('InvalidParameter', 'host_node_id is required');
  const state = wakameStateOf(res);
  if (!(WAKAME_OPERATIONS.move.from as readonly string[]).includes(state)) throw new DcmgrError('InvalidInstanceState', state);
  const host = await namedHost(ctx, target);
  if (host.id === hostIdOf(res)) throw new DcmgrError('InvalidParameter', `host_node_id: ${target} is the host the instance is on`);
  if (host.state !== 'active' || !isOnline(host, Date.now())) throw new DcmgrError('InvalidHostNodeID', `${target} is offline`);
  const hypervisor = res.fields.hypervisor;
  if (typeof hypervisor === 'string' && hypervisorOf(host) !== hypervisor) throw new DcmgrError('IncompatibleHostNode', `${target} runs ${hypervisorOf(host)}`);
  await operate(ctx, res, 'move', { hostId: host.id });
  return { instance_id: idOf(res) };
}

async function updateInstance(ctx: DcmgrContext, res: Resource) {
  const p = ctx.params;
  const input: Record<string, unknown> = {};
  const internal: Record<string, unknown> = {};
  const displayName = strParam(p, 'display_name', 255);
  if (displayName !== undefined) input.name = displayName;
  const sshKeyId = strParam(p, 'ssh_key_id', 64);
  if (sshKeyId !== undefined) {
    if (sshKeyId && !(await recordsOf(ctx).get('sshKeyPair', sshKeyId, res.projectId))) throw new DcmgrError('UnknownSshKeyPair', sshKeyId);
    internal.sshKeyPairId = sshKeyId || null;
  }
  if (p.security_groups !== undefined) {
    const groups = await readGroups(ctx, p.security_groups);
    internal.vifs = vifsOf(res).map((v) => ({ ...v, security_groups: groups }));
  }
  const monitoring = p.monitoring as Record<string, unknown> | undefined;
  if (monitoring !== undefined) {
    if (typeof monitoring !== 'object' || monitoring === null) throw new DcmgrError('InvalidParameter', 'monitoring');
    const cur = (res.fields.monitoring ?? { enabled: false, mail_address: [], items: {} }) as Record<string, unknown>;
    const mail = monitoring.mail_address;
    internal.monitoring = {
      ...cur,
      ...(monitoring.enabled !== undefined ? { enabled: monitoring.enabled === 'true' || monitoring.enabled === true } : {}),
      ...(mail !== undefined ? { mail_address: Array.isArray(mail) ? mail.map(String) : mail ? [String(mail)] : [] } : {}),
    };
  }
  const updated = await ctx.service.update(ctx.scope, schema(res.type), res, input, { internal });
  return presentInstance(ctx, updated);
}

// ---- labels ----

/** One label of an instance, as the labels sub-resource shows it. */
function labelNamed(res: Resource, name: string): Record<string, unknown> {
  const label = presentLabels(res, idOf(res)).find((l) => l.name === name);
  if (!label) throw new DcmgrError('UnknownUUIDResource', name);
  return label;
}

function labelsMap(res: Resource): Record<string, string> {
  return { ...((res.fields.labels ?? {}) as Record<string, string>) };
}

/** A copy of the instance's labels that has `name` (404/100 when it does not). */
function existingLabels(res: Resource, name: string): Record<string, string> {
  const labels = labelsMap(res);
  if (!Object.hasOwn(labels, name)) throw new DcmgrError('UnknownUUIDResource', name);
  return labels;
}

async function setLabels(ctx: DcmgrContext, res: Resource, labels: Record<string, string>): Promise<Resource> {
  const out = await ctx.service.action(ctx.scope, schema(res.type), res, 'setlabels', { labels });
  return out.resource ?? res;
}

function labelParams(ctx: DcmgrContext, needName: boolean): { name: string; value: string } {
  const name = ctx.path.name ?? ctx.params.name;
  const value = ctx.params.value;
  if (needName && (typeof name !== 'string' || !name)) throw new DcmgrError('InvalidParameter', 'name');
  if (value !== undefined && typeof value !== 'string') throw new DcmgrError('InvalidParameter', 'value');
  return { name: String(name ?? ''), value: (value as string | undefined) ?? '' };
}

// ---- routes ----

const withInstance =
  (fn: (ctx: DcmgrContext, res: Resource) => Promise<unknown>) =>
  async (ctx: DcmgrContext): Promise<unknown> =>
    fn(ctx, await loadInstance(ctx, ctx.path.id));

const idList = (res: Resource) => [idOf(res)];
const notSupported = (what: string) => async (): Promise<never> => {
  throw new DcmgrError('NotSupported', `${what} is not supported by Drover`);
};

/** Every instances endpoint, both versions. */
export const INSTANCE_ROUTES: readonly DcmgrRoute[] = [
  { method: 'GET', path: 'instances', handle: listInstances },
  { method: 'POST', path: 'instances', handle: createInstance },
  { method: 'GET', path: 'instances/:id', handle: withInstance((ctx, res) => presentInstance(ctx, res)) },
  { method: 'PUT', path: 'instances/:id', versions: ['12.03'], handle: withInstance(updateInstance) },
  { method: 'DELETE', path: 'instances/:id', handle: withInstance(async (ctx, res) => idList(await operate(ctx, res, 'destroy'))) },
  {
    method: 'PUT',
    path: 'instances/:id/reboot',
    // Seed 004: 11.12 answers a reboot with an empty list.
    handle: withInstance(async (ctx, res) => (await operate(ctx, res, 'reboot'), ctx.version === '11.12' ? [] : idList(res))),
  },
  { method: 'PUT', path: 'instances/:id/stop', handle: withInstance(async (ctx, res) => idList(await operate(ctx, res, 'stop'))) },
  { method: 'PUT', path: 'instances/:id/start', handle: withInstance(async (ctx, res) => idList(await operate(ctx, res, 'start'))) },
  {
    method: 'PUT',
    path: 'instances/:id/poweroff',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => {
      const timeout = forceOf(ctx.params) ? 0 : SOFT_POWEROFF_TIMEOUT_SECONDS;
      await operate(ctx, res, 'poweroff', { timeout });
      return { instance_id: idOf(res) };
    }),
  },
  {
    method: 'PUT',
    path: 'instances/:id/poweron',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => (await operate(ctx, res, 'poweron'), { instance_id: idOf(res) })),
  },
  { method: 'PUT', path: 'instances/:id/move', versions: ['12.03'], handle: withInstance(moveInstance) },
  {
    method: 'PUT',
    path: 'instances/:id/backup',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => operate(ctx, res, 'backup')),
  },
  {
    method: 'GET',
    path: 'instances/:id/password',
    versions: ['12.03'],
    // Drover stores no generated passwords (dcmgr kept them only for Windows images).
    handle: withInstance(async (_ctx, res) => {
      throw new DcmgrError('PasswordNotInDatabase', idOf(res));
    }),
  },
  { method: 'DELETE', path: 'instances/:id/password', versions: ['12.03'], handle: withInstance(async () => ({})) },
  { method: 'GET', path: 'instances/:id/monitoring', versions: ['12.03'], handle: notSupported('Instance monitoring') },
  { method: 'POST', path: 'instances/:id/monitoring', versions: ['12.03'], handle: notSupported('Instance monitoring') },
  { method: 'GET', path: 'instances/:id/monitoring/:item', versions: ['12.03'], handle: notSupported('Instance monitoring') },
  { method: 'PUT', path: 'instances/:id/monitoring/:item', versions: ['12.03'], handle: notSupported('Instance monitoring') },
  { method: 'DELETE', path: 'instances/:id/monitoring/:item', versions: ['12.03'], handle: notSupported('Instance monitoring') },
  { method: 'GET', path: 'instances/:id/volumes', versions: ['12.03'], handle: withInstance((ctx, res) => volumesOf(ctx, res)) },
  { method: 'PUT', path: 'instances/:id/volumes/:vol/backup', versions: ['12.03'], handle: notSupported('Volume backup') },
  {
    method: 'GET',
    path: 'instances/:id/labels',
    versions: ['12.03'],
    handle: withInstance(async (_ctx, res) => presentLabels(res, idOf(res))),
  },
  {
    method: 'GET',
    path: 'instances/:id/labels/:name',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => labelNamed(res, ctx.path.name)),
  },
  {
    method: 'POST',
    path: 'instances/:id/labels',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => {
      const { name, value } = labelParams(ctx, true);
      const after = await setLabels(ctx, res, { ...labelsMap(res), [name]: value });
      return labelNamed(after, name);
    }),
  },
  {
    method: 'PUT',
    path: 'instances/:id/labels/:name',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => {
      const { name, value } = labelParams(ctx, true);
      const labels = existingLabels(res, name);
      const after = await setLabels(ctx, res, { ...labels, [name]: value });
      return labelNamed(after, name);
    }),
  },
  {
    method: 'DELETE',
    path: 'instances/:id/labels/:name',
    versions: ['12.03'],
    handle: withInstance(async (ctx, res) => {
      const labels = existingLabels(res, ctx.path.name);
      delete labels[ctx.path.name];
      await setLabels(ctx, res, labels);
      return [ctx.path.name];
    }),
  },
];
