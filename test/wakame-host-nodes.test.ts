/**
 * `/api/12.03/host_nodes` over real HTTP on a stack with two sim hosts: the hosts `/v1/hosts` shows, as dcmgr's
 * host nodes (spec W§2.2), their filters, who sees them, liveness as `status`, and the writes Drover leaves to the
 * agent and `/v1/hosts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseId } from '../core/ids.js';
import { wakameIdOf } from '../core/domain/wakame/ids.js';
import type { Client } from './helpers/client.js';
import { expectDcmgrError, fromYaml } from './helpers/dcmgr.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

const API = '/api/12.03';
const HOST_NODE_KEYS = ['id', 'uuid', 'node_id', 'arch', 'hypervisor', 'display_name', 'offering_cpu_cores', 'offering_memory_size', 'offering_disk_space_mb', 'scheduling_enabled', 'created_at', 'updated_at', 'status'];
/** What each sim host reports (core/embedded/local-server.ts). */
const SIM_VCPU = 64;
const SIM_MEMORY_MB = 262_144;

let t: TestStack;
let admin: Client;
let pool: Client;
let other: Client;
/** Host node ids of the two sim hosts, by sim host index. */
let nodeIds: string[];

beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '2' } });
  admin = t.admin;
  pool = admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' });
  other = admin.with({ 'X-VDC-Account-UUID': 'a-other' });
  nodeIds = t.stack.simHosts.map((h) => wakameIdOf('host', parseId('host', h.hostId)!));
});
afterAll(() => t?.close());

async function page(client: Client, query = ''): Promise<any> {
  const r = await client.get(`${API}/host_nodes${query}`);
  expect(r.status, r.text.slice(0, 300)).toBe(200);
  return r.body[0];
}

const idsOf = async (client: Client, query: string) => (await page(client, query)).results.map((n: any) => n.id).sort();
const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

describe('host nodes', () => {
  it('shows the sim hosts as host nodes with the keys of spec W§2.2', async () => {
    const list = await page(admin);
    expect(list.total).toBe(2);
    const byId = Object.fromEntries(list.results.map((n: any) => [n.id, n]));
    t.stack.simHosts.forEach((h, i) => {
      const node = byId[nodeIds[i]];
      expect(Object.keys(node)).toEqual(HOST_NODE_KEYS);
      expect(node).toMatchObject({
        id: nodeIds[i],
        uuid: nodeIds[i],
        node_id: `hva.sim-${i + 1}`,
        arch: 'x86_64',
        hypervisor: 'dummy',
        display_name: `sim-${i + 1}`,
        offering_cpu_cores: SIM_VCPU,
        offering_memory_size: SIM_MEMORY_MB,
        offering_disk_space_mb: 0,
        scheduling_enabled: true,
        status: 'online',
      });
    });
    const shown = await pool.get(`${API}/host_nodes/${nodeIds[0]}.yml`);
    expect(fromYaml(shown.text)).toEqual(byId[nodeIds[0]]);
  });

  it("shows a project's hosts to its account only; the admin without an account sees all", async () => {
    expect(await idsOf(pool, '')).toEqual([...nodeIds].sort());
    expect(await idsOf(other, '')).toEqual([]);
    expectDcmgrError(await other.get(`${API}/host_nodes/${nodeIds[0]}`), 404, 'UnknownUUIDResource', '100', nodeIds[0]);
  });

  it('filters by id prefix, node_id, display_name, arch, hypervisor, status, offering and creation time', async () => {
    const [first] = nodeIds;
    expect(await idsOf(admin, `?id=${first.slice(0, 6)}`)).toContain(first);
    expect(await idsOf(admin, `?id=${first.slice(3, 9)}`)).toContain(first);
    expect(await idsOf(admin, `?id=${first}`)).toEqual([first]);
    expect(await idsOf(admin, '?node_id=hva.sim-2')).toEqual([nodeIds[1]]);
    expect(await idsOf(admin, '?display_name=sim-1')).toEqual([first]);
    expect(await idsOf(admin, '?arch=x86_64')).toHaveLength(2);
    expect(await idsOf(admin, '?arch=x86')).toEqual([]);
    expect(await idsOf(admin, '?hypervisor=dummy')).toHaveLength(2);
    expect(await idsOf(admin, '?hypervisor=kvm')).toEqual([]);
    expect(await idsOf(admin, '?status=online')).toHaveLength(2);
    expect(await idsOf(admin, '?status=offline')).toEqual([]);
    expect(await idsOf(admin, `?cpu_cores=${SIM_VCPU}&memory_size=${SIM_MEMORY_MB}`)).toHaveLength(2);
    expect(await idsOf(admin, '?cpu_cores=1')).toEqual([]);
    expect(await idsOf(admin, `?created_since=${minutesFromNow(-5)}`)).toHaveLength(2);
    expect(await idsOf(admin, `?created_since=${minutesFromNow(5)}`)).toEqual([]);
    expect(await page(admin, '?limit=1&start=1')).toMatchObject({ total: 2, start: 1, limit: 1, results: [expect.any(Object)] });
  });

  it('checks the id: a wrong prefix is 400/143, a host node no host has 404/100', async () => {
    expectDcmgrError(await admin.get(`${API}/host_nodes/i-12345678`), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: i-12345678');
    expectDcmgrError(await admin.get(`${API}/host_nodes/hn-demo1`), 404, 'UnknownUUIDResource', '100', 'hn-demo1');
    const unknown = wakameIdOf('host', 99_999);
    expectDcmgrError(await admin.get(`${API}/host_nodes/${unknown}`), 404, 'UnknownUUIDResource', '100', unknown);
  });

  it('answers NotSupported to every write: hosts join by registering an agent and leave through /v1/hosts', async () => {
    const writes: [string, string][] = [
      ['POST', '/host_nodes'],
      ['PUT', `/host_nodes/${nodeIds[0]}`],
      ['DELETE', `/host_nodes/${nodeIds[0]}`],
      ['PUT', `/host_nodes/${nodeIds[0]}/evacuate`],
    ];
    for (const [method, path] of writes) {
      expectDcmgrError(await admin.request(method, `${API}${path}`), 501, 'NotSupported', '501', /registering its agent.*\/v1\/hosts/);
    }
    expect(await idsOf(admin, '')).toHaveLength(2);
  });

  it('shows a host whose agent went quiet as offline', async () => {
    const [agent] = t.stack.simHosts;
    await agent.stop({ graceMs: 0 });
    // The last stamp, as it stands once the agent has been quiet for longer than the offline threshold.
    await t.stack.store.mutate(agent.hostId, (cur) => ({ ...cur, fields: { ...cur.fields, agentSeenAt: 0 } }));
    expect(await idsOf(admin, '?status=offline')).toEqual([nodeIds[0]]);
    expect((await admin.get(`${API}/host_nodes/${nodeIds[0]}`)).body).toMatchObject({ status: 'offline', scheduling_enabled: true });
  });
});
