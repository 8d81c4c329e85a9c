/**
 * The Wakame resources instance create references, through `/api/12.03` (and `/api/11.12` for instance specs) over
 * real HTTP: images, networks, security groups, ssh key pairs, volumes and instance specs (spec W§2). Their shapes
 * key for key, JSON and YAML answers, form and JSON bodies, every error code they answer with, paging and each
 * list filter, account isolation (an account the admin names, a project key), and the seeded records.
 *
 * Instances made through the Wakame API keep their vifs and ssh key pair in their fields; until that API exists,
 * the tests give a `/v1` container those fields directly in the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseId } from '../core/ids.js';
import type { Resource } from '../core/store/item.js';
import { WakameAccounts } from '../core/domain/wakame/accounts.js';
import { wakameIdOf } from '../core/domain/wakame/ids.js';
import { WakameRecords } from '../core/domain/wakame/records.js';
import { SEED_RECORDS, seedWakame } from '../core/domain/wakame/seed.js';
import type { Client } from './helpers/client.js';
import { expectDcmgrError, fromYaml, sendForm } from './helpers/dcmgr.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

const API = '/api/12.03';

/** Keys of each presented resource, in the order of spec W§2's examples. */
const IMAGE_KEYS = ['id', 'uuid', 'account_id', 'boot_dev_type', 'arch', 'description', 'is_public', 'state', 'features', 'file_format', 'root_device', 'is_cacheable', 'instance_model_name', 'parent_image_id', 'service_type', 'display_name', 'backup_object_id', 'deleted_at', 'volumes', 'vifs', 'os_type', 'created_at', 'updated_at', 'labels'];
const NETWORK_KEYS = ['id', 'uuid', 'account_id', 'ipv4_network', 'ipv4_gw', 'prefix', 'metric', 'domain_name', 'dns_server', 'dhcp_server', 'metadata_server', 'metadata_server_port', 'nat_network_id', 'network_mode', 'bandwidth', 'ip_assignment', 'editable', 'service_type', 'display_name', 'description', 'bandwidth_mark', 'network_services', 'dc_network', 'created_at', 'updated_at'];
const SECURITY_GROUP_KEYS = ['id', 'uuid', 'account_id', 'description', 'display_name', 'rule', 'rules', 'service_type', 'created_at', 'updated_at', 'labels'];
const SSH_KEY_PAIR_KEYS = ['id', 'uuid', 'account_id', 'finger_print', 'public_key', 'description', 'display_name', 'service_type', 'deleted_at', 'created_at', 'updated_at', 'labels'];
const VOLUME_KEYS = ['id', 'uuid', 'account_id', 'state', 'size', 'instance_id', 'boot_dev', 'guest_device_name', 'service_type', 'display_name', 'backup_object_id', 'volume_type', 'deleted_at', 'attached_at', 'detached_at', 'created_at', 'updated_at', 'store_type', 'volume_device', 'labels'];
const INSTANCE_SPEC_KEYS = ['id', 'uuid', 'account_id', 'hypervisor', 'arch', 'cpu_cores', 'memory_size', 'quota_weight', 'vifs', 'drives', 'created_at', 'updated_at'];

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const MD5_FINGERPRINT = /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/;
const ED25519_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBMJJ7BR91cQrY4H6T139+7t3cJsuxzYaVkgPFzUIck/ me@laptop';
const ED25519_FINGERPRINT = 'e5:40:64:cf:3c:7c:59:bc:a2:83:2a:93:e4:c4:ba:66';

let t: TestStack;
/** The admin acting in the shared pool, and in a second account it names (created on first use). */
let pool: Client;
let other: Client;
/** The admin without an account: every account's records. */
let admin: Client;
/** A project key, acting in its own account without a header. */
let team: Client;
let teamAccount: string;

beforeAll(async () => {
  t = await startTestStack();
  admin = t.admin;
  pool = admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' });
  other = admin.with({ 'X-VDC-Account-UUID': 'a-other' });
  // The admin's first request naming a-other creates the account.
  expect((await other.get(`${API}/images`)).status).toBe(200);
  const p = await projectClient(admin, 'wakame-team');
  team = p.client;
  teamAccount = wakameIdOf('account', parseId('account', p.projectId)!);
});
afterAll(() => t?.close());

// ---- helpers -------------------------------------------------------------------------------------------

/** GETs a dcmgr path and expects 200. */
async function show(client: Client, path: string): Promise<any> {
  const r = await client.get(`${API}${path}`);
  expect(r.status, r.text.slice(0, 300)).toBe(200);
  return r.body;
}

/** The one page of a dcmgr list (`[{total, start, limit, results}]`). */
async function page(client: Client, path: string): Promise<{ total: number; start: number; limit: number; results: any[] }> {
  const body = await show(client, path);
  expect(body).toHaveLength(1);
  return body[0];
}

/** The ids a list answers with. */
async function idsOf(client: Client, path: string): Promise<string[]> {
  return (await page(client, path)).results.map((r) => r.id);
}

/** POSTs form fields to a collection and expects 200 (dcmgr answers every success with 200). */
async function createForm(client: Client, collection: string, params: Record<string, unknown>): Promise<any> {
  const r = await sendForm(client, 'POST', `${API}/${collection}`, params);
  expect(r.status, r.text.slice(0, 300)).toBe(200);
  return r.body;
}

/** A `/v1` container of the client's project, settled running. */
async function newInstance(client: Client): Promise<Resource> {
  const r = await client.post('/v1/containers', { imageUuid: 'sim:web' });
  expect(r.status, r.text.slice(0, 300)).toBe(201);
  await waitFor(client, `/v1/containers/${r.body.id}`, (c) => c.state === 'running');
  return (await t.stack.store.get(r.body.id))!;
}

/** Gives an instance the references an instance made through the Wakame API keeps: its vifs and ssh key pair. */
async function refer(instance: Resource, refs: { network?: string; securityGroups?: string[]; sshKeyPair?: string }): Promise<void> {
  const vifs = [{ index: 0, network_id: refs.network ?? null, security_groups: refs.securityGroups ?? [] }];
  await t.stack.store.mutate(instance.id, (cur) => ({ ...cur, fields: { ...cur.fields, vifs, sshKeyPairId: refs.sshKeyPair } }));
}

/** Removes a `/v1` container and waits until it is removed (Wakame: terminated). */
async function terminate(client: Client, instance: Resource): Promise<void> {
  const r = await client.del(`/v1/containers/${instance.id}`);
  expect(r.status, r.text.slice(0, 300)).toBe(200);
  await waitFor(client, `/v1/containers/${instance.id}`, (c) => c.state === 'removed');
}

/** An image stored directly (the API has no image create), in an account's project. */
async function storedImage(account: string, fields: Record<string, unknown>): Promise<Resource> {
  const found = await new WakameAccounts(t.stack.service).find(account);
  const records = new WakameRecords(t.stack.store, t.stack.drover.defaultProjectId);
  return records.create('image', { projectId: found!.projectId, fields: { service_type: 'std', ...fields } });
}

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

// ---- transport -----------------------------------------------------------------------------------------

describe('transport', () => {
  it('answers JSON without a suffix or with .json, and YAML with Ruby symbol keys with .yml', async () => {
    const json = await show(pool, '/images/wmi-centos1d64');
    expect(await show(pool, '/images/wmi-centos1d64.json')).toEqual(json);
    const yml = await pool.get(`${API}/images/wmi-centos1d64.yml`);
    expect(yml.status).toBe(200);
    expect(yml.headers.get('content-type')).toMatch(/yaml/);
    expect(yml.text).toMatch(/^:id: wmi-centos1d64$/m);
    expect(fromYaml(yml.text)).toEqual(json);
    const list = await pool.get(`${API}/networks.yml`);
    expect(list.text).toMatch(/^- :total: /m);
    expect(fromYaml(list.text)).toEqual(await show(pool, '/networks'));
  });

  it('renders errors in the requested format too', async () => {
    const r = await pool.get(`${API}/security_groups/sg-nothere.yml`);
    expect(r.status).toBe(404);
    expect(fromYaml(r.text)).toEqual({ error: 'Dcmgr::Endpoints::UnknownUUIDResource', message: 'sg-nothere', code: '100' });
  });

  it('takes a JSON body whose one top-level key wraps the parameters, as well as form fields', async () => {
    const json = await pool.post(`${API}/security_groups`, { security_group: { display_name: 'from-json', rule: 'tcp:22,22,ip4:0.0.0.0/0' } });
    expect(json.status, json.text).toBe(200);
    expect(json.body).toMatchObject({ display_name: 'from-json', rules: [{ ip_protocol: 'tcp', ip_fport: 22 }] });
    const form = await createForm(pool, 'security_groups', { display_name: 'from-form', rule: 'udp:53,53,ip4:10.0.0.0/8' });
    expect(form).toMatchObject({ display_name: 'from-form', rules: [{ ip_protocol: 'udp', ip_source: '10.0.0.0/8' }] });
  });
});

// ---- images ----------------------------------------------------------------------------------------------

describe('images', () => {
  it('shows the seeded image with the keys of spec W§2.1, and not the Rancher image it runs', async () => {
    const image = await show(pool, '/images/wmi-centos1d64');
    expect(Object.keys(image)).toEqual(IMAGE_KEYS);
    expect(image).toMatchObject({
      id: 'wmi-centos1d64',
      uuid: 'wmi-centos1d64',
      account_id: 'a-shpoolxx',
      boot_dev_type: 2,
      arch: 'x86_64',
      is_public: true,
      state: 'available',
      features: {},
      file_format: 'raw',
      root_device: 'label:root',
      is_cacheable: false,
      parent_image_id: null,
      service_type: 'std',
      display_name: 'centos1d64',
      backup_object_id: 'bo-centos1d64',
      deleted_at: null,
      volumes: [],
      vifs: [],
      os_type: 'linux',
      labels: [],
    });
    expect(image.created_at).toMatch(ISO_TIME);
    expect(JSON.stringify(image)).not.toContain('sim:centos1d64');
  });

  it('shows a public image of the shared pool to every account, and a private one only to its own', async () => {
    const secret = await storedImage('a-other', { display_name: 'secret', is_public: false });
    for (const client of [other, team, admin]) {
      expect((await show(client, '/images/wmi-centos1d64')).id).toBe('wmi-centos1d64');
      expect(await idsOf(client, '/images')).toContain('wmi-centos1d64');
    }
    expect((await show(other, `/images/${secret.id}`)).display_name).toBe('secret');
    expect(await idsOf(admin, '/images')).toContain(secret.id);
    expectDcmgrError(await team.get(`${API}/images/${secret.id}`), 404, 'UnknownUUIDResource', '100', secret.id);
    expectDcmgrError(await pool.get(`${API}/images/${secret.id}`), 404, 'UnknownUUIDResource', '100', secret.id);
    expect(await idsOf(team, '/images')).not.toContain(secret.id);
  });

  it('filters by is_public (true/false/1/0), service_type, state and creation time', async () => {
    const priv = await storedImage('a-other', { display_name: 'private', is_public: false, service_type: 'lb' });
    const sees = async (query: string) => idsOf(other, `/images?${query}`);
    for (const yes of ['true', '1']) {
      expect(await sees(`is_public=${yes}`)).toContain('wmi-centos1d64');
      expect(await sees(`is_public=${yes}`)).not.toContain(priv.id);
    }
    for (const no of ['false', '0']) {
      expect(await sees(`is_public=${no}`)).toContain(priv.id);
      expect(await sees(`is_public=${no}`)).not.toContain('wmi-centos1d64');
    }
    // mussel's query without --is-public starts with an empty pair.
    expect(await sees('&service_type=lb&state=available')).toEqual([priv.id]);
    expect(await sees('service_type=std')).not.toContain(priv.id);
    expect(await sees(`created_since=${minutesFromNow(-5)}`)).toContain(priv.id);
    expect(await sees(`created_since=${minutesFromNow(5)}`)).toEqual([]);
    expect(await sees(`created_until=${minutesFromNow(5)}`)).toContain('wmi-centos1d64');
    expectDcmgrError(await other.get(`${API}/images?is_public=yes`), 400, 'InvalidParameter', '143', /^is_public: /);
    expectDcmgrError(await other.get(`${API}/images?service_type=xl`), 400, 'InvalidParameter', '143', /^service_type: /);
    expectDcmgrError(await other.get(`${API}/images?state=running`), 400, 'InvalidParameter', '143', /^state: /);
    const inverted = `created_since=${minutesFromNow(5)}&created_until=${minutesFromNow(-5)}`;
    expectDcmgrError(await other.get(`${API}/images?${inverted}`), 400, 'InvalidParameter', '143', 'created_since is larger than created_until');
  });

  it('updates display_name and description of its own image, and refuses another account', async () => {
    const mine = await storedImage('a-other', { display_name: 'before', description: '' });
    const r = await sendForm(other, 'PUT', `${API}/images/${mine.id}.yml`, { display_name: 'after', description: 'renamed' });
    expect(r.status).toBe(200);
    expect(fromYaml(r.text)).toMatchObject({ id: mine.id, display_name: 'after', description: 'renamed' });
    expect((await show(other, `/images/${mine.id}`)).display_name).toBe('after');
    const shared = await sendForm(other, 'PUT', `${API}/images/wmi-centos1d64`, { display_name: 'mine now' });
    expectDcmgrError(shared, 403, 'OperationNotPermitted', '105', 'wmi-centos1d64 belongs to account a-shpoolxx, which alone may change it');
    expect((await show(other, '/images/wmi-centos1d64')).display_name).toBe('centos1d64');
  });

  it('deletes an image softly: gone from show and the default list, listed with state=deleted and its deletion time', async () => {
    const doomed = await storedImage('a-other', { display_name: 'doomed' });
    const r = await other.del(`${API}/images/${doomed.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([doomed.id]);
    expectDcmgrError(await other.get(`${API}/images/${doomed.id}`), 404, 'UnknownUUIDResource', '100', doomed.id);
    expect(await idsOf(other, '/images')).not.toContain(doomed.id);
    expect(await idsOf(other, '/images?state=alive')).not.toContain(doomed.id);
    const deleted = (await page(other, '/images?state=deleted')).results.find((i) => i.id === doomed.id);
    expect(deleted).toMatchObject({ state: 'deleted' });
    expect(deleted.deleted_at).toMatch(ISO_TIME);
    expect(await idsOf(other, '/images?state=alive_with_deleted')).toEqual(expect.arrayContaining([doomed.id, 'wmi-centos1d64']));
    expect(await idsOf(other, `/images?state=deleted&deleted_since=${minutesFromNow(-5)}`)).toContain(doomed.id);
    expect(await idsOf(other, `/images?state=deleted&deleted_until=${minutesFromNow(-5)}`)).not.toContain(doomed.id);
  });

  it('answers NotSupported to image creation and copy, which need what Drover has not', async () => {
    expectDcmgrError(await pool.request('POST', `${API}/images`), 501, 'NotSupported', '501', /not registered through the API/);
    expectDcmgrError(await pool.request('PUT', `${API}/images/wmi-centos1d64/copy_to`), 501, 'NotSupported', '501', /backup storages/);
  });

  it('checks the id: a wrong prefix is 400/143, an unknown one or another service_type 404/100', async () => {
    expectDcmgrError(await pool.get(`${API}/images/nw-demo1`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: nw-demo1');
    expectDcmgrError(await pool.del(`${API}/images/i-12345678`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: i-12345678');
    expectDcmgrError(await pool.get(`${API}/images/wmi-nothere`), 404, 'UnknownUUIDResource', '100', 'wmi-nothere');
    expectDcmgrError(await pool.get(`${API}/images/wmi-centos1d64?service_type=lb`), 404, 'UnknownUUIDResource', '100', 'wmi-centos1d64');
  });
});

// ---- networks ----------------------------------------------------------------------------------------------

describe('networks', () => {
  it('shows the seeded nw-demo1 as spec W§2.3 does, to every account', async () => {
    const network = await show(pool, '/networks/nw-demo1');
    expect(Object.keys(network)).toEqual(NETWORK_KEYS);
    expect(network).toMatchObject({
      id: 'nw-demo1',
      uuid: 'nw-demo1',
      account_id: 'a-shpoolxx',
      ipv4_network: '10.0.2.0',
      ipv4_gw: '10.0.2.2',
      prefix: 24,
      metric: 100,
      domain_name: 'vdc.local',
      dns_server: null,
      nat_network_id: null,
      network_mode: 'securitygroup',
      ip_assignment: 'asc',
      editable: false,
      service_type: 'std',
      display_name: 'demo1',
      description: '',
      network_services: [],
      dc_network: { id: 'dcn-public', name: 'public', offering_network_modes: ['securitygroup', 'passthrough', 'l2overlay'], allow_new_networks: true },
    });
    expect(network.bandwidth_mark).toEqual(expect.any(Number));
    for (const client of [other, team]) {
      expect((await show(client, '/networks/nw-demo1')).id).toBe('nw-demo1');
      expect(await idsOf(client, '/networks')).toContain('nw-demo1');
    }
  });

  it('creates a network from form fields, every optional one set', async () => {
    const r = await sendForm(team, 'POST', `${API}/networks.yml`, {
      dc_network: 'dcn-public',
      network: '192.168.10.0',
      prefix: '24',
      network_mode: 'passthrough',
      gw: '192.168.10.1',
      domain_name: 'team.local',
      ip_assignment: 'desc',
      editable: 'true',
      metric: '50',
      display_name: 'team-net',
      description: 'for the team',
      service_type: 'std',
    });
    expect(r.status, r.text).toBe(200);
    const created = fromYaml(r.text);
    expect(created.id).toMatch(/^nw-[0-9a-z]{8}$/);
    const shown = await show(team, `/networks/${created.id}`);
    expect(shown).toEqual(created);
    expect(shown).toMatchObject({
      account_id: teamAccount,
      ipv4_network: '192.168.10.0',
      ipv4_gw: '192.168.10.1',
      prefix: 24,
      network_mode: 'passthrough',
      domain_name: 'team.local',
      ip_assignment: 'desc',
      editable: true,
      metric: 50,
      display_name: 'team-net',
      description: 'for the team',
      dc_network: { id: 'dcn-public' },
    });
  });

  it('creates a network from a JSON body with defaults for what it leaves out', async () => {
    const r = await other.post(`${API}/networks`, { network: { network: '10.9.0.0', prefix: 16, network_mode: 'l2overlay' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ account_id: 'a-other', ipv4_network: '10.9.0.0', prefix: 16, ipv4_gw: null, metric: 100, ip_assignment: 'asc', editable: false, display_name: '', dc_network: { id: 'dcn-public' } });
  });

  it('refuses bad values with InvalidParameter naming the parameter, and an unknown dc network with 404/163', async () => {
    const valid = { network: '10.1.0.0', prefix: '24', network_mode: 'securitygroup' };
    const refused = async (params: Record<string, unknown>) => sendForm(other, 'POST', `${API}/networks`, { ...valid, ...params });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ network: undefined }, /^network: is required$/],
      [{ network: '10.1.0' }, /^network: "10.1.0" is not an IPv4 address$/],
      [{ network: '10.1.0.5' }, /^network: 10\.1\.0\.5\/24 has host bits set \(did you mean 10\.1\.0\.0\?\)$/],
      [{ prefix: undefined }, /^prefix: is required$/],
      [{ prefix: '0' }, /^prefix: must be an integer in 1\.\.31/],
      [{ prefix: '32' }, /^prefix: must be an integer in 1\.\.31/],
      [{ prefix: 'x' }, /^prefix: /],
      [{ network_mode: undefined }, /^network_mode: is required$/],
      [{ network_mode: 'bridged' }, /^network_mode: must be one of securitygroup, passthrough, l2overlay$/],
      [{ gw: '10.2.0.1' }, /^gw: 10\.2\.0\.1 is outside 10\.1\.0\.0\/24$/],
      [{ gw: 'gateway' }, /^gw: "gateway" is not an IPv4 address$/],
      [{ ip_assignment: 'random' }, /^ip_assignment: /],
      [{ editable: 'maybe' }, /^editable: /],
      [{ metric: '-1' }, /^metric: /],
      [{ service_type: 'xl' }, /^service_type: /],
      [{ display_name: ['a', 'b'] }, /^display_name: must be a single text value$/],
    ];
    for (const [params, message] of cases) expectDcmgrError(await refused(params), 400, 'InvalidParameter', '143', message);
    expectDcmgrError(await refused({ dc_network: 'dcn-private' }), 404, 'UnknownDcNetwork', '163', 'dcn-private');
  });

  it('filters by display_name, service_type and creation time', async () => {
    const lb = await createForm(other, 'networks', { network: '10.3.0.0', prefix: '24', network_mode: 'securitygroup', display_name: 'lb-net', service_type: 'lb' });
    expect(await idsOf(other, '/networks?display_name=lb-net')).toEqual([lb.id]);
    expect(await idsOf(other, '/networks?service_type=lb')).toEqual([lb.id]);
    expect(await idsOf(other, '/networks?service_type=std')).not.toContain(lb.id);
    expect(await idsOf(other, `/networks?created_since=${minutesFromNow(-5)}`)).toContain(lb.id);
    expect(await idsOf(other, `/networks?created_until=${minutesFromNow(-5)}`)).not.toContain(lb.id);
  });

  it('deletes a network no alive instance uses; another account may not delete the shared one', async () => {
    const network = await createForm(other, 'networks', { network: '10.4.0.0', prefix: '24', network_mode: 'securitygroup' });
    const r = await other.del(`${API}/networks/${network.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([network.id]);
    expectDcmgrError(await other.get(`${API}/networks/${network.id}`), 404, 'UnknownUUIDResource', '100', network.id);
    expect(await idsOf(other, '/networks')).not.toContain(network.id);
    expectDcmgrError(await other.del(`${API}/networks/nw-demo1`), 403, 'OperationNotPermitted', '105', /^nw-demo1 belongs to account a-shpoolxx/);
    expectDcmgrError(await other.del(`${API}/networks/sg-demo1`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: sg-demo1');
  });

  it("refuses to delete a network an alive instance's vif is on, also from another account, until it is terminated", async () => {
    const shared = await createForm(pool, 'networks', { network: '10.5.0.0', prefix: '24', network_mode: 'securitygroup' });
    const instance = await newInstance(team);
    await refer(instance, { network: shared.id });
    const refused = await pool.del(`${API}/networks/${shared.id}`);
    expectDcmgrError(refused, 403, 'OperationNotPermitted', '105', `${shared.id} is used by ${wakameIdOf('instance', instance.num)}`);
    await terminate(team, instance);
    expect((await pool.del(`${API}/networks/${shared.id}`)).body).toEqual([shared.id]);
  });

  it('renames a network its account owns; DHCP routes answer 501 (no leases); the dc network is listed and shown', async () => {
    const network = await createForm(other, 'networks', { network: '10.6.0.0', prefix: '24', network_mode: 'securitygroup' });
    const renamed = await sendForm(other, 'PUT', `${API}/networks/${network.id}`, { display_name: 'backend', description: 'db tier' });
    expect([renamed.status, renamed.body.display_name, renamed.body.description]).toEqual([200, 'backend', 'db tier']);
    expectDcmgrError(await sendForm(other, 'PUT', `${API}/networks/nw-demo1`, { display_name: 'x' }), 403, 'OperationNotPermitted', '105', /^nw-demo1 belongs/);
    for (const path of ['dhcp_ranges/add', 'dhcp_ranges/remove', 'dhcp/reserve', 'dhcp/release']) {
      expectDcmgrError(await other.put(`${API}/networks/${network.id}/${path}`), 501, 'NotSupported', '501', /does not lease addresses/);
    }
    const dcs = await other.get(`${API}/dc_networks`);
    expect(dcs.body).toEqual([{ total: 1, start: 0, limit: 250, results: [expect.objectContaining({ id: 'dcn-public', name: 'public', allow_new_networks: true })] }]);
    expect((await other.get(`${API}/dc_networks/dcn-public.json`)).body.offering_network_modes).toEqual(['securitygroup', 'passthrough', 'l2overlay']);
    expectDcmgrError(await other.get(`${API}/dc_networks/dcn-nothere`), 404, 'UnknownUUIDResource', '100', 'dcn-nothere');
  });
});

// ---- security groups --------------------------------------------------------------------------------------

describe('security groups', () => {
  it('creates a group from form fields with rule text and labels, showing the parsed rules', async () => {
    const group = await createForm(team, 'security_groups', {
      rule: '# web\ntcp:22,22,ip4:0.0.0.0/0\nicmp:-1,-1,ip4:0.0.0.0/0\ntcp:80,80,sg-abcd1234',
      description: 'web servers',
      display_name: 'web',
      labels: { role: 'frontend' },
    });
    expect(Object.keys(group)).toEqual(SECURITY_GROUP_KEYS);
    expect(group).toMatchObject({ id: expect.stringMatching(/^sg-[0-9a-z]{8}$/), account_id: teamAccount, description: 'web servers', display_name: 'web', service_type: 'std' });
    expect(group.uuid).toBe(group.id);
    expect(group.rules).toEqual([
      { ip_protocol: 'tcp', ip_fport: 22, ip_tport: 22, protocol: 'ip4', ip_source: '0.0.0.0/0' },
      { ip_protocol: 'icmp', icmp_type: -1, icmp_code: -1, protocol: 'ip4', ip_source: '0.0.0.0/0' },
      { ip_protocol: 'tcp', ip_fport: 80, ip_tport: 80, protocol: null, ip_source: 'sg-abcd1234' },
    ]);
    expect(group.labels).toEqual([{ resource_uuid: group.id, name: 'role', value_type: 1, value: 'frontend', created_at: group.created_at, updated_at: group.updated_at }]);
    expect(await show(team, `/security_groups/${group.id}`)).toEqual(group);
  });

  it('takes labels as labels[n][name]/labels[n][value] and labels[][name]/labels[][value] pairs too, and refuses a blank one', async () => {
    const indexed = await createForm(team, 'security_groups', { labels: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }] });
    expect(indexed.labels.map((l: any) => [l.name, l.value])).toEqual([['a', '1'], ['b', '2']]);
    const raw = 'labels[][name]=c&labels[][value]=3&labels[][name]=d&labels[][value]=4';
    const pairs = await team.request('POST', `${API}/security_groups`, undefined, { raw, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(pairs.body.labels.map((l: any) => [l.name, l.value])).toEqual([['c', '3'], ['d', '4']]);
    const blank = await sendForm(team, 'POST', `${API}/security_groups`, { labels: { role: ' ' } });
    expectDcmgrError(blank, 400, 'InvalidParameter', '143', /blank or overlong value parameter from labels\[role\]/);
  });

  it("refuses a rule that does not parse with 400/142 and the parser's message", async () => {
    const r = await sendForm(team, 'POST', `${API}/security_groups`, { rule: 'tcp:22,22,ip4:0.0.0.0/0\ntcp:0,22,ip4:0.0.0.0/0' });
    expectDcmgrError(r, 400, 'InvalidSecurityGroupRule', '142', 'Invalid rule on line 2: "tcp:0,22,ip4:0.0.0.0/0": port must be 1..65535, not "0"');
    expectDcmgrError(await sendForm(team, 'POST', `${API}/security_groups`, { service_type: 'xl' }), 400, 'InvalidParameter', '143', /^service_type: /);
  });

  it('updates the same fields and answers with the group; a bad rule leaves it as it was', async () => {
    const group = await createForm(team, 'security_groups', { rule: 'tcp:22,22,ip4:0.0.0.0/0', display_name: 'old' });
    const r = await sendForm(team, 'PUT', `${API}/security_groups/${group.id}`, { rule: 'udp:53,53,ip4:0.0.0.0/0', display_name: 'new', description: 'dns', service_type: 'lb' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: group.id, display_name: 'new', description: 'dns', service_type: 'lb', rule: 'udp:53,53,ip4:0.0.0.0/0', rules: [{ ip_protocol: 'udp' }] });
    const bad = await sendForm(team, 'PUT', `${API}/security_groups/${group.id}`, { rule: 'tcp:1,2' });
    expectDcmgrError(bad, 400, 'InvalidSecurityGroupRule', '142', /^Invalid rule on line 1: /);
    expect((await show(team, `/security_groups/${group.id}`)).rule).toBe('udp:53,53,ip4:0.0.0.0/0');
  });

  it('filters by service_type and display_name', async () => {
    const lb = await createForm(team, 'security_groups', { display_name: 'balancer', service_type: 'lb' });
    expect(await idsOf(team, '/security_groups?service_type=lb&display_name=balancer')).toEqual([lb.id]);
    expect(await idsOf(team, '/security_groups?display_name=balancer&service_type=std')).toEqual([]);
    expect(await idsOf(team, '/security_groups?service_type=std')).not.toContain(lb.id);
    expectDcmgrError(await team.get(`${API}/security_groups?service_type=xl`), 400, 'InvalidParameter', '143', /^service_type: /);
  });

  it('keeps accounts apart: another account or key sees 404/100 for the id and never lists it', async () => {
    const group = await createForm(team, 'security_groups', { display_name: 'private' });
    for (const client of [other, pool]) {
      expectDcmgrError(await client.get(`${API}/security_groups/${group.id}`), 404, 'UnknownUUIDResource', '100', group.id);
      expectDcmgrError(await sendForm(client, 'PUT', `${API}/security_groups/${group.id}`, { display_name: 'x' }), 404, 'UnknownUUIDResource', '100', group.id);
      expectDcmgrError(await client.del(`${API}/security_groups/${group.id}`), 404, 'UnknownUUIDResource', '100', group.id);
      expect(await idsOf(client, '/security_groups')).not.toContain(group.id);
    }
    const theirs = await createForm(other, 'security_groups', { display_name: 'theirs' });
    expectDcmgrError(await team.get(`${API}/security_groups/${theirs.id}`), 404, 'UnknownUUIDResource', '100', theirs.id);
    expect(await idsOf(team, '/security_groups')).not.toContain(theirs.id);
    // The admin without an account sees both; the key may not act in another account.
    expect(await idsOf(admin, '/security_groups')).toEqual(expect.arrayContaining([group.id, theirs.id]));
    const foreign = team.with({ 'X-VDC-Account-UUID': 'a-other' });
    expectDcmgrError(await foreign.get(`${API}/security_groups/${theirs.id}`), 403, 'OperationNotPermitted', '105');
  });

  it('deletes a group, unless an alive instance is in it or another group names it in a rule', async () => {
    const group = await createForm(team, 'security_groups', { display_name: 'db' });
    const referrer = await createForm(team, 'security_groups', { rule: `tcp:5432,5432,${group.id}` });
    const instance = await newInstance(team);
    await refer(instance, { securityGroups: [group.id] });
    const both = `${group.id} is used by ${wakameIdOf('instance', instance.num)}, ${referrer.id}`;
    expectDcmgrError(await team.del(`${API}/security_groups/${group.id}`), 403, 'OperationNotPermitted', '105', both);
    await terminate(team, instance);
    expectDcmgrError(await team.del(`${API}/security_groups/${group.id}`), 403, 'OperationNotPermitted', '105', `${group.id} is used by ${referrer.id}`);
    await sendForm(team, 'PUT', `${API}/security_groups/${referrer.id}`, { rule: '' });
    const r = await team.del(`${API}/security_groups/${group.id}.yml`);
    expect(r.status).toBe(200);
    expect(fromYaml(r.text)).toEqual([group.id]);
    expectDcmgrError(await team.get(`${API}/security_groups/${group.id}`), 404, 'UnknownUUIDResource', '100', group.id);
    expectDcmgrError(await team.get(`${API}/security_groups/ssh-${group.id.slice(3)}`), 400, 'InvalidParameter', '143');
  });
});

// ---- ssh key pairs -----------------------------------------------------------------------------------------

describe('ssh key pairs', () => {
  it('generates a pair when no public key is given: the private key comes once, in the create answer', async () => {
    const created = await createForm(team, 'ssh_key_pairs', { display_name: 'generated', description: 'made here', download_once: 'true' });
    expect(Object.keys(created)).toEqual([...SSH_KEY_PAIR_KEYS, 'private_key']);
    expect(created).toMatchObject({ account_id: teamAccount, display_name: 'generated', description: 'made here', service_type: 'std', deleted_at: null, labels: [] });
    expect(created.private_key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(created.public_key).toMatch(new RegExp(`^ssh-rsa AAAA\\S+ ${created.id}$`));
    expect(created.finger_print).toMatch(MD5_FINGERPRINT);
    const shown = await show(team, `/ssh_key_pairs/${created.id}`);
    expect(Object.keys(shown)).toEqual(SSH_KEY_PAIR_KEYS);
    const { private_key: _once, ...stored } = created;
    expect(shown).toEqual(stored);
    const listed = (await page(team, '/ssh_key_pairs')).results.find((k) => k.id === created.id);
    expect(listed).toEqual(stored);
  });

  it('registers a given public key with its MD5 fingerprint, from a JSON body', async () => {
    const r = await team.post(`${API}/ssh_key_pairs`, { ssh_key_pair: { public_key: `${ED25519_PUBLIC_KEY}\n`, display_name: 'laptop' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ public_key: ED25519_PUBLIC_KEY, finger_print: ED25519_FINGERPRINT, display_name: 'laptop' });
    expect(r.body).not.toHaveProperty('private_key');
  });

  it('refuses a public key that is not one with 400/173', async () => {
    const r = await sendForm(team, 'POST', `${API}/ssh_key_pairs`, { public_key: 'ssh-rsa not-base64!' });
    expectDcmgrError(r, 400, 'InvalidSshPublicKey', '173', /^Invalid SSH public key: /);
  });

  it('updates display_name and description, answering with the id only', async () => {
    const key = await createForm(team, 'ssh_key_pairs', { public_key: ED25519_PUBLIC_KEY });
    const r = await sendForm(team, 'PUT', `${API}/ssh_key_pairs/${key.id}`, { display_name: 'renamed', description: 'new text' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([key.id]);
    expect(await show(team, `/ssh_key_pairs/${key.id}`)).toMatchObject({ display_name: 'renamed', description: 'new text' });
    // mussel's update sends no body at all.
    expect((await team.request('PUT', `${API}/ssh_key_pairs/${key.id}.yml`)).text).toBe(`---\n- ${key.id}\n`);
  });

  it('lists alive pairs only, filtered by display_name, service_type and time', async () => {
    const kept = await createForm(team, 'ssh_key_pairs', { public_key: ED25519_PUBLIC_KEY, display_name: 'kept', service_type: 'lb' });
    const gone = await createForm(team, 'ssh_key_pairs', { public_key: ED25519_PUBLIC_KEY, display_name: 'gone' });
    expect((await team.del(`${API}/ssh_key_pairs/${gone.id}`)).body).toEqual([gone.id]);
    const ids = await idsOf(team, '/ssh_key_pairs');
    expect(ids).toContain(kept.id);
    expect(ids).not.toContain(gone.id);
    expect(await idsOf(team, '/ssh_key_pairs?display_name=kept')).toEqual([kept.id]);
    expect(await idsOf(team, '/ssh_key_pairs?service_type=lb')).toEqual([kept.id]);
    expect(await idsOf(team, `/ssh_key_pairs?display_name=kept&created_since=${minutesFromNow(5)}`)).toEqual([]);
    expect(await idsOf(team, `/ssh_key_pairs?display_name=kept&created_until=${minutesFromNow(5)}`)).toEqual([kept.id]);
    expectDcmgrError(await team.get(`${API}/ssh_key_pairs/${gone.id}`), 404, 'UnknownUUIDResource', '100', gone.id);
  });

  it('refuses to delete a pair an alive instance uses with 400/158, unless forced', async () => {
    const key = await createForm(team, 'ssh_key_pairs', { public_key: ED25519_PUBLIC_KEY });
    const instance = await newInstance(team);
    await refer(instance, { sshKeyPair: key.id });
    const refused = await team.del(`${API}/ssh_key_pairs/${key.id}`);
    expectDcmgrError(refused, 400, 'ExistsRegisteredInstance', '158', `${key.id} is used by ${wakameIdOf('instance', instance.num)}; delete with force=true to delete it anyway`);
    expectDcmgrError(await team.del(`${API}/ssh_key_pairs/${key.id}?force=false`), 400, 'ExistsRegisteredInstance', '158');
    expect((await team.del(`${API}/ssh_key_pairs/${key.id}?force=true`)).body).toEqual([key.id]);
    expectDcmgrError(await team.get(`${API}/ssh_key_pairs/${key.id}`), 404, 'UnknownUUIDResource', '100', key.id);
  });

  it("keeps another account's pair hidden", async () => {
    const key = await createForm(other, 'ssh_key_pairs', { public_key: ED25519_PUBLIC_KEY });
    expectDcmgrError(await team.get(`${API}/ssh_key_pairs/${key.id}`), 404, 'UnknownUUIDResource', '100', key.id);
    expectDcmgrError(await team.del(`${API}/ssh_key_pairs/${key.id}?force=true`), 404, 'UnknownUUIDResource', '100', key.id);
    expect(await idsOf(team, '/ssh_key_pairs')).not.toContain(key.id);
    expectDcmgrError(await team.get(`${API}/ssh_key_pairs/sg-12345678`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: sg-12345678');
  });
});

// ---- volumes ------------------------------------------------------------------------------------------------

describe('volumes', () => {
  it("shows each instance's boot volume, attached while it runs and deleted once it is terminated", async () => {
    const instance = await newInstance(team);
    const volumeId = wakameIdOf('volume', instance.num);
    const volume = await show(team, `/volumes/${volumeId}`);
    expect(Object.keys(volume)).toEqual(VOLUME_KEYS);
    expect(volume).toMatchObject({
      id: volumeId,
      uuid: volumeId,
      account_id: teamAccount,
      state: 'attached',
      size: 0,
      instance_id: wakameIdOf('instance', instance.num),
      boot_dev: 1,
      store_type: 'local',
      deleted_at: null,
      labels: [],
    });
    expect(volume.attached_at).toMatch(ISO_TIME);
    expect(await idsOf(team, '/volumes?state=attached')).toContain(volumeId);
    expect(await idsOf(team, '/volumes?state=alive')).toContain(volumeId);
    expect(await idsOf(team, '/volumes?state=deleted')).not.toContain(volumeId);
    await terminate(team, instance);
    expect(await show(team, `/volumes/${volumeId}`)).toMatchObject({ state: 'deleted', deleted_at: expect.stringMatching(ISO_TIME) });
    expect(await idsOf(team, '/volumes?state=deleted')).toContain(volumeId);
    expect(await idsOf(team, '/volumes?state=alive')).not.toContain(volumeId);
    expect(await idsOf(team, '/volumes?state=alive_with_deleted')).toContain(volumeId);
    expect(await idsOf(team, '/volumes')).toContain(volumeId);
  });

  it("keeps another account's volumes hidden, and checks the state filter and the id", async () => {
    const instance = await newInstance(team);
    const volumeId = wakameIdOf('volume', instance.num);
    expectDcmgrError(await other.get(`${API}/volumes/${volumeId}`), 404, 'UnknownUUIDResource', '100', volumeId);
    expect(await idsOf(other, '/volumes')).not.toContain(volumeId);
    expect(await idsOf(admin, '/volumes')).toContain(volumeId);
    expectDcmgrError(await team.get(`${API}/volumes?state=busy`), 400, 'InvalidParameter', '143', /^state: /);
    expectDcmgrError(await team.get(`${API}/volumes/i-12345678`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: i-12345678');
    expectDcmgrError(await team.get(`${API}/volumes/vol-nothere`), 404, 'UnknownUUIDResource', '100', 'vol-nothere');
  });

  it('answers NotSupported to every volume write: only boot volumes exist', async () => {
    const writes: [string, string][] = [
      ['POST', '/volumes'],
      ['PUT', '/volumes/vol-12345678/attach'],
      ['PUT', '/volumes/vol-12345678/detach'],
      ['PUT', '/volumes/vol-12345678/backup'],
      ['DELETE', '/volumes/vol-12345678'],
    ];
    for (const [method, path] of writes) {
      expectDcmgrError(await team.request(method, `${API}${path}`), 501, 'NotSupported', '501', /^Drover has only the boot volume of each instance/);
    }
  });
});

// ---- instance specs (11.12) ------------------------------------------------------------------------------

describe('instance specs (11.12)', () => {
  it("lists the shared pool's specs to every account, 11.12-style, and shows one", async () => {
    for (const client of [pool, other, team]) {
      const body = (await client.get('/api/11.12/instance_specs')).body;
      expect(body).toEqual([{ owner_total: 3, start: 0, limit: null, results: expect.any(Array), result: body[0].results }]);
      expect(body[0].results.map((s: any) => s.id).sort()).toEqual(['is-large', 'is-medium', 'is-small']);
    }
    const small = (await other.get('/api/11.12/instance_specs/is-small')).body;
    expect(Object.keys(small)).toEqual(INSTANCE_SPEC_KEYS);
    expect(small).toMatchObject({ id: 'is-small', uuid: 'is-small', account_id: 'a-shpoolxx', hypervisor: 'dummy', arch: 'x86_64', cpu_cores: 1, memory_size: 256, quota_weight: 1 });
    expect((await other.get('/api/instance_specs/is-large')).body).toMatchObject({ cpu_cores: 4, memory_size: 4096 });
  });

  it('is not in 12.03, and checks the id', async () => {
    expectDcmgrError(await pool.get(`${API}/instance_specs`), 404, 'RouteNotFound', '404');
    expectDcmgrError(await pool.get('/api/11.12/instance_specs/wmi-small'), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: wmi-small');
    expectDcmgrError(await pool.get('/api/11.12/instance_specs/is-huge'), 404, 'UnknownUUIDResource', '100', 'is-huge');
  });
});

// ---- paging and seeding -------------------------------------------------------------------------------------

describe('paging', () => {
  it('pages with start and limit over more than one page, id descending unless sort_by says otherwise', async () => {
    const pager = admin.with({ 'X-VDC-Account-UUID': 'a-pager' });
    for (let i = 1; i <= 5; i++) await createForm(pager, 'security_groups', { display_name: `g${i}` });
    const all = await page(pager, '/security_groups');
    expect(all).toMatchObject({ total: 5, start: 0, limit: 250 });
    const ids = all.results.map((g) => g.id);
    // dcmgr's id DESC is its table's key: newest first.
    expect(all.results.map((g) => g.display_name)).toEqual(['g5', 'g4', 'g3', 'g2', 'g1']);
    const pages = await Promise.all([0, 2, 4].map((start) => page(pager, `/security_groups?start=${start}&limit=2`)));
    expect(pages.map((p) => [p.total, p.start, p.limit, p.results.length])).toEqual([[5, 0, 2, 2], [5, 2, 2, 2], [5, 4, 2, 1]]);
    expect(pages.flatMap((p) => p.results.map((g) => g.id))).toEqual(ids);
    const byName = await page(pager, '/security_groups?sort_by=display_name.asc&limit=3');
    expect(byName.results.map((g) => g.display_name)).toEqual(['g1', 'g2', 'g3']);
    expectDcmgrError(await pager.get(`${API}/security_groups?start=-1`), 400, 'InvalidParameter', '143', 'start');
    expectDcmgrError(await pager.get(`${API}/security_groups?limit=many`), 400, 'InvalidParameter', '143', 'limit');
  });
});

describe('seeding', () => {
  it('is idempotent: seeding the running stage again adds nothing', async () => {
    const before = await idsOf(admin, '/images?state=alive_with_deleted');
    await seedWakame(t.stack.store, t.stack.drover.defaultProjectId);
    await seedWakame(t.stack.store, t.stack.drover.defaultProjectId);
    expect(await idsOf(admin, '/images?state=alive_with_deleted')).toEqual(before);
    expect((await page(admin, '/images')).results.filter((i) => i.id === 'wmi-centos1d64')).toHaveLength(1);
    const records = new WakameRecords(t.stack.store, t.stack.drover.defaultProjectId);
    for (const seeded of SEED_RECORDS) expect(await records.get(seeded.kind, seeded.id, null)).toMatchObject({ id: seeded.id, projectId: t.stack.drover.defaultProjectId });
  });
});
