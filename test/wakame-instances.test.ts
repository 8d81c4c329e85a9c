/**
 * The Wakame-VDC instances API (11.12 and 12.03) over HTTP, on a stack whose workflows run on two sim hosts: the
 * transport (versions, suffixes, parameter encodings, errors), accounts, create's validation, lists, and every
 * operation through the workflows to its end state, with the same instance seen through `/v1`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wakameIdOf } from '../core/domain/wakame/ids.js';
import { Client } from './helpers/client.js';
import { fromYaml } from './helpers/dcmgr.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until } from './helpers/wait.js';

let t: TestStack;
/** The admin in the shared pool account (the default project, where the sim hosts are). */
let api: Client;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Sends a form-encoded body, as mussel and the Go client do. */
const form = (c: Client, method: string, path: string, body: string) => c.request(method, path, undefined, { headers: FORM, raw: body });

const BASIC = 'image_id=wmi-centos1d64&hypervisor=dummy&cpu_cores=1&memory_size=256';

async function create(body = BASIC, client = api): Promise<any> {
  const r = await form(client, 'POST', '/api/12.03/instances.json', body);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

async function stateOf(id: string, client = api): Promise<any> {
  return (await client.get(`/api/12.03/instances/${id}`)).body;
}

/** Waits until the instance shows `state` (and nothing is under way on `/v1`). */
async function settles(id: string, state: string, client = api): Promise<any> {
  let last: any;
  await until(async () => {
    last = await stateOf(id, client);
    if (last.state !== state) return false;
    const v1 = await t.admin.get(`/v1/virtualmachines?wakameId=${id}`);
    return v1.body.data?.[0]?.transitioning === 'no';
  }, 15_000);
  return last;
}

const dcmgrError = (r: { status: number; body: any }) => [r.status, r.body.error?.replace(/^Dcmgr::Endpoints::|^Drover::/, ''), r.body.code];

beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '2' }, simWorkMs: 5 });
  api = t.admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' });
}, 60_000);
afterAll(() => t.close());

describe('transport', () => {
  it('serves /api/12.03, /api/11.12 and /api (= 11.12), JSON by default, .json and .yml suffixes', async () => {
    const plain = await api.get('/api/12.03/instances');
    const json = await api.get('/api/12.03/instances.json');
    const yml = await api.get('/api/12.03/instances.yml');
    expect(plain.headers.get('content-type')).toMatch(/application\/json/);
    expect(json.body).toEqual(plain.body);
    expect(yml.headers.get('content-type')).toMatch(/yaml/);
    expect(yml.text).toMatch(/^---\n- :total: \d+\n/);
    expect(fromYaml(yml.text)).toEqual(json.body);
    expect(Object.keys(json.body[0]).sort()).toEqual(['limit', 'results', 'start', 'total']);

    const old = await api.get('/api/11.12/instances.json');
    const unversioned = await api.get('/api/instances');
    expect(Object.keys(old.body[0]).sort()).toEqual(['limit', 'owner_total', 'result', 'results', 'start']);
    expect(old.body[0].result).toEqual(old.body[0].results);
    expect(old.body[0].limit).toBeNull();
    expect(unversioned.body).toEqual(old.body);
  });

  it('reads the account from either spelling of the header (mussel sends X_VDC_ACCOUNT_UUID)', async () => {
    const vm = await create(BASIC, t.admin.with({ X_VDC_ACCOUNT_UUID: 'a-shpoolxx' }));
    expect(vm.account_id).toBe('a-shpoolxx');
  });

  it('takes form fields with nesting, a JSON body under one wrapper key, a YAML body, and JSON sent as a form', async () => {
    const nested = await create(`${BASIC}&vifs[eth0][network]=nw-demo1&vifs[eth0][index]=0&labels[0][name]=tier&labels[0][value]=web`);
    expect(nested.vif).toEqual([expect.objectContaining({ network_id: 'nw-demo1', index: 0 })]);
    expect(nested.labels).toEqual([expect.objectContaining({ name: 'tier', value: 'web', resource_uuid: nested.id })]);

    const body = { instance: { image_id: 'wmi-centos1d64', hypervisor: 'dummy', cpu_cores: 1, memory_size: 256, vifs: { eth0: { network: 'nw-demo1' } } } };
    const json = await api.request('POST', '/api/12.03/instances.json', undefined, { headers: { 'content-type': 'application/json' }, raw: JSON.stringify(body) });
    expect(json.status, json.text).toBe(200);
    // Plain `curl -d '{...}'` labels JSON as a form.
    const curlish = await form(api, 'POST', '/api/12.03/instances.json', JSON.stringify(body));
    expect(curlish.status, curlish.text).toBe(200);
    const yaml = await api.request('POST', '/api/12.03/instances.yml', undefined, {
      headers: { 'content-type': 'text/yaml' },
      raw: 'instance:\n  image_id: wmi-centos1d64\n  hypervisor: dummy\n  cpu_cores: 2\n  memory_size: 512\n',
    });
    expect(yaml.status, yaml.text).toBe(200);
    expect(fromYaml(yaml.text)).toMatchObject({ cpu_cores: 2, memory_size: 512, state: 'scheduling' });

    const unwrapped = await api.request('POST', '/api/12.03/instances.json', undefined, { headers: { 'content-type': 'application/json' }, raw: '{"image_id":"wmi-centos1d64","hypervisor":"dummy"}' });
    expect(dcmgrError(unwrapped)).toEqual([400, 'InvalidParameter', '143']);
  });

  it('takes vifs as a JSON string, as mussel sends a file, with a string index and a single security group', async () => {
    const vifs = encodeURIComponent('{"eth0":{"index":"0","network":"nw-demo1","security_groups":""}}\n');
    const vm = await create(`${BASIC}&vifs=${vifs}`);
    expect(vm.vif).toEqual([expect.objectContaining({ index: 0, network_id: 'nw-demo1', security_groups: [] })]);
  });

  it('answers every failure as {error, message, code}', async () => {
    const anonymous = await new Client(t.stack.url).get('/api/12.03/instances');
    expect(dcmgrError(anonymous)).toEqual([401, 'Unauthorized', '401']);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Basic/);
    expect(dcmgrError(await api.get('/api/12.03/nothing'))).toEqual([404, 'RouteNotFound', '404']);
    expect(dcmgrError(await api.get('/api/12.03/instances/i-zzzzzzzz'))).toEqual([404, 'UnknownUUIDResource', '100']);
    expect(dcmgrError(await api.get('/api/12.03/instances/wmi-centos1d64'))).toEqual([400, 'InvalidParameter', '143']);
    expect((await api.get('/api/12.03/instances/wmi-centos1d64')).body.message).toBe('Invalid UUID Syntax: wmi-centos1d64');
    expect(dcmgrError(await api.get('/api/12.03/instances?start=x'))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.get('/api/12.03/instances?sort_by=id;drop'))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.get('/api/12.03/instances?created_since=2020-01-02T00:00:00Z&created_until=2020-01-01T00:00:00Z'))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.get('/api/12.03/instances?state=sleeping'))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.get('/api/12.03/instances?host_node_id=nw-demo1'))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.get('/api/12.03/instances?service_type=gold'))).toEqual([400, 'InvalidParameter', '143']);
  });
});

describe('accounts', () => {
  it('creates an account the admin names on first use, as a project with that account id', async () => {
    const other = t.admin.with({ 'X-VDC-Account-UUID': 'a-newteam1' });
    const list = await other.get('/api/12.03/instances');
    expect(list.body).toEqual([{ total: 0, start: 0, limit: 250, results: [] }]);
    const projects = await t.admin.get('/v1/projects?name=a-newteam1');
    expect(projects.body.data).toHaveLength(1);
    // Named again (concurrently, too), it is the same project.
    await Promise.all([other.get('/api/12.03/instances'), other.get('/api/12.03/instances')]);
    expect((await t.admin.get('/v1/projects?name=a-newteam1')).body.data).toHaveLength(1);
  });

  it('refuses a malformed account, another account to a project key, and a disabled account', async () => {
    expect(dcmgrError(await t.admin.with({ 'X-VDC-Account-UUID': 'shpoolxx' }).get('/api/12.03/instances'))).toEqual([400, 'InvalidRequestCredentials', '103']);
    const { client, projectId } = await projectClient(t.admin, 'wk-team');
    const own = await client.get('/api/12.03/instances');
    expect(own.status).toBe(200);
    expect(dcmgrError(await client.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' }).get('/api/12.03/instances'))).toEqual([403, 'OperationNotPermitted', '105']);
    const mine = (await t.admin.get(`/v1/projects/${projectId}`)).body;
    const uuid = wakameIdOf('account', Number(projectId.slice(2)));
    expect((await client.with({ 'X-VDC-Account-UUID': uuid }).get('/api/12.03/instances')).status).toBe(200);
    expect(mine.id).toBe(projectId);
    await t.admin.post(`/v1/projects/${projectId}?action=deactivate`, {});
    expect(dcmgrError(await t.admin.with({ 'X-VDC-Account-UUID': uuid }).get('/api/12.03/instances'))).toEqual([403, 'DisabledAccount', '104']);
  });

  it('needs an account to create; 11.12 needs one for everything', async () => {
    expect(dcmgrError(await form(t.admin, 'POST', '/api/12.03/instances', BASIC))).toEqual([400, 'InvalidRequestCredentials', '103']);
    expect(dcmgrError(await t.admin.get('/api/11.12/instances'))).toEqual([400, 'InvalidRequestCredentials', '103']);
    // The admin without a header sees every account's instances on 12.03.
    const all = await t.admin.get('/api/12.03/instances');
    expect(all.status).toBe(200);
  });

  it('keeps accounts apart: another account id answers 404/100, never the instance', async () => {
    const vm = await create();
    const stranger = t.admin.with({ 'X-VDC-Account-UUID': 'a-stranger' });
    for (const r of [
      await stranger.get(`/api/12.03/instances/${vm.id}`),
      await stranger.del(`/api/12.03/instances/${vm.id}`),
      await stranger.put(`/api/12.03/instances/${vm.id}/reboot`),
      await stranger.get(`/api/11.12/instances/${vm.id}`),
    ]) {
      expect(dcmgrError(r)).toEqual([404, 'UnknownUUIDResource', '100']);
      expect(r.body.message).toBe(vm.id);
    }
    const list = await stranger.get('/api/12.03/instances');
    expect(list.body[0].results.map((i: any) => i.id)).not.toContain(vm.id);
  });
});

describe('create (12.03, W§1.3)', () => {
  const refused = async (body: string) => dcmgrError(await form(api, 'POST', '/api/12.03/instances', body));

  it('validates in dcmgr order, each failure with its code', async () => {
    expect(await refused('hypervisor=dummy&cpu_cores=1&memory_size=256')).toEqual([400, 'InvalidImageID', '137']);
    expect(await refused('image_id=wmi-nothere&hypervisor=dummy&cpu_cores=1&memory_size=256')).toEqual([400, 'InvalidImageID', '137']);
    expect(await refused('image_id=wmi-centos1d64&hypervisor=vmware&cpu_cores=1&memory_size=256')).toEqual([400, 'InvalidParameter', '143']);
    const kvm = await form(api, 'POST', '/api/12.03/instances', 'image_id=wmi-centos1d64&hypervisor=kvm&cpu_cores=1&memory_size=256');
    expect([kvm.status, kvm.body.message]).toEqual([400, 'Unknown/Inactive hypervisor:kvm']);
    for (const cpu of ['0', '129', 'x', '']) expect(await refused(`image_id=wmi-centos1d64&hypervisor=dummy&cpu_cores=${cpu}&memory_size=256`)).toEqual([400, 'InvalidParameter', '143']);
    for (const mem of ['127', '1000000', '1.5']) expect(await refused(`image_id=wmi-centos1d64&hypervisor=dummy&cpu_cores=1&memory_size=${mem}`)).toEqual([400, 'InvalidParameter', '143']);
    expect(await refused('image_id=wmi-centos1d64&hypervisor=dummy&cpu_cores=128&memory_size=999999')).toEqual([400, 'OutOfHostCapacity', '120']);
    expect(await refused(`${BASIC}&vifs=not-json`)).toEqual([400, 'InvalidParameter', '143']);
    expect(await refused(`${BASIC}&vifs[eth0][network]=nw-nothere`)).toEqual([404, 'UnknownNetwork', '129']);
    expect(await refused(`${BASIC}&vifs[eth0][network]=nw-demo1&vifs[eth0][security_groups][]=sg-nothere`)).toEqual([404, 'UnknownSecurityGroup', '133']);
    expect(await refused(`${BASIC}&vifs[eth0][ipv4_addr]=10.0.2.9`)).toEqual([400, 'InvalidParameter', '143']);
    expect(await refused(`${BASIC}&hostname=-bad`)).toEqual([400, 'InvalidParameter', '143']);
    expect(await refused(`${BASIC}&ssh_key_id=ssh-nothere`)).toEqual([404, 'UnknownSshKeyPair', '121']);
    expect(await refused(`${BASIC}&host_node_id=nw-demo1`)).toEqual([400, 'InvalidHostNodeID', '141']);
    expect(await refused(`${BASIC}&host_node_id=hn-zzzzzzzz`)).toEqual([404, 'UnknownHostNode', '114']);
    expect(await refused(`${BASIC}&volumes[0][size]=10G`)).toEqual([400, 'InvalidParameter', '143']);
    const quota = await api.request('POST', '/api/12.03/instances', undefined, {
      headers: { ...FORM, 'X-VDC-Account-Quota': '{"instance.count":0}' },
      raw: BASIC,
    });
    expect(dcmgrError(quota)).toEqual([400, 'ExceedQuotaLimit', '162']);
  });

  it('answers the new instance as dcmgr did: scheduling, status init, no host, its boot volume', async () => {
    const vm = await create(`${BASIC}&display_name=web1&ha_enabled=true&user_data=hello&service_type=std`);
    expect(vm).toMatchObject({
      account_id: 'a-shpoolxx', image_id: 'wmi-centos1d64', cpu_cores: 1, memory_size: 256, arch: 'x86_64',
      state: 'scheduling', status: 'init', host_node: null, display_name: 'web1', ha_enabled: 1, hypervisor: 'dummy',
      service_type: 'std', terminated_at: null, deleted_at: null, ssh_key_pair: null, labels: [],
      monitoring: { enabled: false, mail_address: [], items: {} },
    });
    expect(vm.id).toMatch(/^i-[0-9a-z]{8}$/);
    expect(vm.hostname).toBe(vm.id.slice(2));
    expect(vm.volume).toEqual([{ vol_id: vm.boot_volume_id, state: 'scheduling' }]);
    expect(vm.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.keys(vm).sort()).toEqual([
      'account_id', 'arch', 'boot_volume_id', 'cpu_cores', 'created_at', 'deleted_at', 'display_name', 'ha_enabled', 'host_node',
      'hostname', 'hypervisor', 'id', 'image_id', 'labels', 'memory_size', 'monitoring', 'service_type', 'ssh_key_pair', 'state',
      'status', 'terminated_at', 'updated_at', 'vif', 'volume',
    ]);
  });

  it('downcases the hostname, keeps it unique per account (400/126), and frees it when the instance terminates', async () => {
    const first = await create(`${BASIC}&hostname=Web-Unique`);
    expect(first.hostname).toBe('web-unique');
    expect(await refused(`${BASIC}&hostname=WEB-unique`)).toEqual([400, 'DuplicateHostname', '126']);
    await settles(first.id, 'running');
    await api.del(`/api/12.03/instances/${first.id}`);
    await settles(first.id, 'terminated');
    const again = await create(`${BASIC}&hostname=web-unique`);
    expect(again.hostname).toBe('web-unique');
  });
});

describe('lists (12.03 W§1.1, 11.12 seed 004)', () => {
  let ids: string[];
  beforeAll(async () => {
    // An account of its own, so the counts are its five; it has no hosts, so they are made stopped on /v1.
    await t.admin.with({ 'X-VDC-Account-UUID': 'a-pager' }).get('/api/12.03/instances');
    const projectId = (await t.admin.get('/v1/projects?name=a-pager')).body.data[0].id;
    ids = [];
    for (let i = 0; i < 5; i++) {
      const made = await t.admin.post(`/v1/projects/${projectId}/virtualmachines`, { name: `pager-${i}`, imageUuid: 'sim:x', startOnCreate: false });
      ids.push(made.body.wakameId);
    }
  });

  it('pages with start/limit across more than one page, id DESC, total counted before the limit', async () => {
    const pager = t.admin.with({ 'X-VDC-Account-UUID': 'a-pager' });
    const seen: string[] = [];
    for (let start = 0; start < 6; start += 2) {
      const page = (await pager.get(`/api/12.03/instances?start=${start}&limit=2`)).body[0];
      expect([page.total, page.start, page.limit]).toEqual([5, start, 2]);
      seen.push(...page.results.map((r: any) => r.id));
    }
    // dcmgr's default order, id DESC, is its table's key: newest first.
    expect(seen).toEqual([...ids].reverse());
    expect((await pager.get('/api/12.03/instances?limit=0')).body[0].limit).toBe(250);
    const asc = (await pager.get('/api/12.03/instances?sort_by=display_name.asc')).body[0].results.map((r: any) => r.display_name);
    expect(asc).toEqual(['pager-0', 'pager-1', 'pager-2', 'pager-3', 'pager-4']);
    const old = (await pager.get('/api/11.12/instances?start=1&limit=3')).body[0];
    expect([old.owner_total, old.start, old.limit, old.results.length]).toEqual([5, 1, 3, 3]);
    expect(Object.keys(old.results[0])).toContain('instance_spec_id');
  });

  it('filters by state (with alive and without_terminated), id prefix, host node, display name, time ranges, nil filters', async () => {
    const pager = t.admin.with({ 'X-VDC-Account-UUID': 'a-pager' });
    const total = async (q: string) => (await pager.get(`/api/12.03/instances?${q}`)).body[0].total;
    expect(await total(`id=${ids[0]}`)).toBe(1);
    expect(await total(`id=${ids[0].slice(2, 6)}`)).toBeGreaterThanOrEqual(1);
    expect(await total('display_name=pager-3')).toBe(1);
    expect(await total('created_since=2000-01-01T00:00:00Z')).toBe(5);
    expect(await total('created_until=2000-01-01T00:00:00Z')).toBe(0);
    expect(await total('filter=terminated_at.nil')).toBe(5);
    expect(await total('filter=terminated_at.not_nil')).toBe(0);
    expect(await total('state=alive')).toBe(5);
    expect(await total('state=terminated')).toBe(0);
    expect(await total('service_type=std')).toBe(5);
    // Made without a start: stopped, on no host.
    expect(await total('state=stopped')).toBe(5);
    expect(await total('state=halted')).toBe(0);
    expect(await total('state=without_terminated')).toBe(5);

    const vm = await create();
    const running = await settles(vm.id, 'running');
    const onHost = (await api.get(`/api/12.03/instances?host_node_id=${running.host_node}`)).body[0].results.map((r: any) => r.id);
    expect(onHost).toContain(vm.id);
    expect((await api.get(`/api/12.03/instances?state=running&id=${vm.id}`)).body[0].total).toBe(1);
  });
});

describe('operations through the workflows on sim hosts', () => {
  it('poweroff/poweron, reboot, stop/start, move and destroy reach their end states, seen the same on /v1', async () => {
    const vm = await create(`${BASIC}&vifs[eth0][network]=nw-demo1`);
    let cur = await settles(vm.id, 'running');
    expect(cur.status).toBe('online');
    expect(cur.vif[0].ipv4.address).toMatch(/^10\./);
    const v1 = async () => (await t.admin.get(`/v1/virtualmachines?wakameId=${vm.id}`)).body.data[0];
    expect(await v1()).toMatchObject({ state: 'running', wakameId: vm.id, wakameState: 'running' });

    expect((await api.put(`/api/12.03/instances/${vm.id}/poweroff`, { instance: { force: 'true' } })).body).toEqual({ instance_id: vm.id });
    cur = await settles(vm.id, 'halted');
    expect([cur.status, cur.host_node]).toEqual(['offline', expect.stringMatching(/^hn-/)]);
    expect(await v1()).toMatchObject({ state: 'stopped', wakameState: 'halted' });

    expect((await api.put(`/api/12.03/instances/${vm.id}/poweron`)).body).toEqual({ instance_id: vm.id });
    cur = await settles(vm.id, 'running');

    const v1Before = await v1();
    expect((await api.put(`/api/12.03/instances/${vm.id}/reboot`)).body).toEqual([vm.id]);
    await until(async () => (await v1()).startCount > v1Before.startCount && (await v1()).transitioning === 'no', 15_000);

    expect((await api.put(`/api/12.03/instances/${vm.id}/stop`)).body).toEqual([vm.id]);
    cur = await settles(vm.id, 'stopped');
    expect(cur.host_node).toBeNull();
    expect(cur.vif[0]).not.toHaveProperty('ipv4');
    expect(await v1()).toMatchObject({ state: 'stopped', wakameState: 'stopped', hostId: null });

    expect((await api.put(`/api/12.03/instances/${vm.id}/start`)).body).toEqual([vm.id]);
    cur = await settles(vm.id, 'running');
    const from = cur.host_node;

    const hosts = t.stack.simHosts.map((h) => wakameIdOf('host', Number(h.hostId.slice(2))));
    const to = hosts.find((h) => h !== from)!;
    expect(dcmgrError(await api.put(`/api/12.03/instances/${vm.id}/move`))).toEqual([400, 'InvalidParameter', '143']);
    expect(dcmgrError(await api.put(`/api/12.03/instances/${vm.id}/move`, { instance: { host_node_id: from } }))).toEqual([400, 'InvalidParameter', '143']);
    expect((await api.put(`/api/12.03/instances/${vm.id}/move`, { instance: { host_node_id: to } })).body).toEqual({ instance_id: vm.id });
    cur = await settles(vm.id, 'running');
    expect(cur.host_node).toBe(to);

    expect((await api.del(`/api/12.03/instances/${vm.id}`)).body).toEqual([vm.id]);
    cur = await settles(vm.id, 'terminated');
    expect(cur.terminated_at).toMatch(/Z$/);
    expect(cur.volume[0].state).toBe('deleted');
    expect(await v1()).toMatchObject({ state: 'removed', wakameState: 'terminated' });
    expect(dcmgrError(await api.del(`/api/12.03/instances/${vm.id}`))).toEqual([400, 'InvalidInstanceState', '125']);
  });

  it('a destroy while booting really ends in terminated (dcmgr #640)', async () => {
    // The sim host holds the boot until the destroy is in.
    const vm = await create(`${BASIC}&labels[sim.hang]=start`);
    await until(async () => (await stateOf(vm.id)).state === 'initializing', 15_000);
    expect((await api.del(`/api/12.03/instances/${vm.id}`)).status).toBe(200);
    const cur = await settles(vm.id, 'terminated');
    expect(cur.state).toBe('terminated');
  });

  it('a destroy during a reboot or a move is kept, and done when it ends', async () => {
    const vm = await create();
    await settles(vm.id, 'running');
    await api.put(`/api/12.03/instances/${vm.id}/reboot`);
    expect((await api.del(`/api/12.03/instances/${vm.id}`)).status).toBe(200);
    await settles(vm.id, 'terminated');
  });

  it('an instance made on /v1 is driven on /api, and one made on /api on /v1', async () => {
    const made = await t.admin.post('/v1/virtualmachines', { imageUuid: 'sim:v1', vcpu: 1, memoryMb: 128 });
    const wakameId = made.body.wakameId;
    expect(wakameId).toMatch(/^i-/);
    await settles(wakameId, 'running');
    expect((await api.put(`/api/12.03/instances/${wakameId}/poweroff`)).status).toBe(200);
    await settles(wakameId, 'halted');
    expect((await t.admin.get(`/v1/virtualmachines/${made.body.id}`)).body.state).toBe('stopped');

    const vm = await create();
    await settles(vm.id, 'running');
    const v1 = (await t.admin.get(`/v1/virtualmachines?wakameId=${vm.id}`)).body.data[0];
    expect((await t.admin.post(`/v1/virtualmachines/${v1.id}?action=stop`, {})).status).toBe(202);
    expect((await settles(vm.id, 'halted')).state).toBe('halted');
  });

  it('updates display_name and keeps labels through the labels sub-resource', async () => {
    const vm = await create();
    const updated = await api.put(`/api/12.03/instances/${vm.id}`, { instance: { display_name: 'renamed' } });
    expect(updated.body.display_name).toBe('renamed');
    expect((await t.admin.get(`/v1/virtualmachines?wakameId=${vm.id}`)).body.data[0].name).toBe('renamed');
    const added = await form(api, 'POST', `/api/12.03/instances/${vm.id}/labels`, 'name=role&value=db');
    expect(added.body).toMatchObject({ resource_uuid: vm.id, name: 'role', value: 'db', value_type: 1 });
    expect((await form(api, 'PUT', `/api/12.03/instances/${vm.id}/labels/role`, 'value=cache')).body.value).toBe('cache');
    expect((await api.get(`/api/12.03/instances/${vm.id}/labels/role`)).body.value).toBe('cache');
    expect((await api.get(`/api/12.03/instances/${vm.id}/labels`)).body.map((l: any) => l.name)).toContain('role');
    expect((await api.del(`/api/12.03/instances/${vm.id}/labels/role`)).body).toEqual(['role']);
    expect(dcmgrError(await api.get(`/api/12.03/instances/${vm.id}/labels/role`))).toEqual([404, 'UnknownUUIDResource', '100']);
  });

  it('answers what Drover does not offer clearly: backup, password, monitoring', async () => {
    const vm = await create();
    await settles(vm.id, 'running');
    expect(dcmgrError(await api.put(`/api/12.03/instances/${vm.id}/backup`))).toEqual([400, 'InvalidInstanceState', '125']);
    expect(dcmgrError(await api.get(`/api/12.03/instances/${vm.id}/password`))).toEqual([410, 'PasswordNotInDatabase', '201']);
    expect(dcmgrError(await api.get(`/api/12.03/instances/${vm.id}/monitoring`))).toEqual([501, 'NotSupported', '501']);
  });
});

describe('11.12 (seed 004)', () => {
  it('creates from image_id and instance_spec_id, shows the seed fields, destroys and reboots', async () => {
    const missing = await form(api, 'POST', '/api/11.12/instances', 'image_id=wmi-centos1d64');
    expect(dcmgrError(missing)).toEqual([400, 'InvalidInstanceSpec', '138']);
    expect(dcmgrError(await form(api, 'POST', '/api/11.12/instances', 'instance_spec_id=is-small'))).toEqual([400, 'InvalidImageID', '137']);
    const made = await form(api, 'POST', '/api/instances', 'image_id=wmi-centos1d64&instance_spec_id=is-small&network_id=nw-demo1&hostname=Old1');
    expect(made.status, made.text).toBe(200);
    expect(made.body).toMatchObject({ state: 'scheduling', status: 'offline', instance_spec_id: 'is-small', hostname: 'old1', ha_enabled: 0, cpu_cores: 1, memory_size: 256 });
    for (const field of ['cpu_cores', 'created_at', 'ha_enabled', 'hostname', 'id', 'image_id', 'instance_spec_id', 'memory_size', 'network', 'security_groups', 'ssh_key_pair', 'state', 'status', 'vif', 'volume']) {
      expect(made.body, field).toHaveProperty(field);
    }
    const id = made.body.id;
    await until(async () => (await api.get(`/api/11.12/instances/${id}`)).body.state === 'running', 15_000);
    const shown = (await api.get(`/api/instances/${id}`)).body;
    expect(shown.status).toBe('online');
    expect(shown.network).toEqual([{ network_name: 'nw-demo1', ipaddr: [expect.stringMatching(/^10\./)], dns_name: 'old1.shpoolxx.vdc.local', nat_network_name: null, nat_ipaddr: [], nat_dns_name: null }]);
    expect(shown.vif[0]).toMatchObject({ vif_id: expect.stringMatching(/^vif-/), ipv4: { address: shown.network[0].ipaddr[0], nat_address: null } });
    expect(shown.volume).toEqual([{ vol_id: expect.stringMatching(/^vol-/), guest_device_name: null, state: 'attached' }]);
    expect((await api.put(`/api/instances/${id}/reboot`)).body).toEqual([]);
    expect((await api.del(`/api/instances/${id}`)).body).toEqual([id]);
    await until(async () => (await api.get(`/api/11.12/instances/${id}`)).body.state === 'terminated', 15_000);
    // Recently terminated instances stay listed (alives and recently terminated).
    expect((await api.get('/api/11.12/instances')).body[0].results.map((r: any) => r.id)).toContain(id);
  });
});
