/**
 * The processes cattle keeps out of `actions` maps (their start states are never `state` values) still do their
 * work when asked: allocate and deallocate run as workflows on the sim hosts, and the health updates move
 * `healthState` through its process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { settle, waitFor } from './helpers/wait.js';

let inline: TestStack;
let wf: TestStack;
beforeAll(async () => {
  [inline, wf] = await Promise.all([
    startTestStack(),
    startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '1' }, simWorkMs: 0 }),
  ]);
  await waitFor(wf.admin, '/v1/hosts', (h) => h.data?.[0]?.agentState === 'online');
});
afterAll(() => Promise.all([inline?.close(), wf?.close()]));

describe('health updates', () => {
  it('move healthState through updating-* while never showing in actions', async () => {
    const api = inline.admin;
    const c = await api.post('/v1/containers', { imageUuid: 'sim:h', healthCheck: { port: 80 } });
    const started = await settle(api, `/v1/containers/${c.body.id}`);
    expect([started.body.state, started.body.healthState]).toEqual(['running', 'initializing']);
    expect(Object.keys(started.body.actions)).not.toContain('updatehealthy');

    const healthy = await api.post(`/v1/containers/${c.body.id}/?action=updatehealthy`);
    expect([healthy.status, healthy.body.healthState, healthy.body.state]).toEqual([202, 'updating-healthy', 'running']);
    expect((await api.get(`/v1/containers/${c.body.id}`)).body.healthState).toBe('healthy');
    const reinit = await api.post(`/v1/containers/${c.body.id}/?action=updatereinitializing`);
    expect(reinit.body.healthState).toBe('updating-reinitializing');
    expect((await api.get(`/v1/containers/${c.body.id}`)).body.healthState).toBe('reinitializing');
    // unhealthy only from healthy or unhealthy (spec §3.2)
    const refused = await api.post(`/v1/containers/${c.body.id}/?action=updateunhealthy`);
    expect([refused.status, refused.body.code]).toEqual([422, 'ActionNotAvailable']);
    await api.post(`/v1/containers/${c.body.id}/?action=updatehealthy`);
    const unhealthy = await api.post(`/v1/containers/${c.body.id}/?action=updateunhealthy`);
    expect(unhealthy.status).toBe(202);
    expect((await api.get(`/v1/containers/${c.body.id}`)).body.healthState).toBe('unhealthy');
  });

  it('are not available without a health check', async () => {
    const c = await inline.admin.post('/v1/containers', { imageUuid: 'sim:nohc' });
    const r = await inline.admin.post(`/v1/containers/${c.body.id}/?action=updatehealthy`);
    expect([r.status, r.body.code, r.body.fieldName]).toEqual([422, 'ActionNotAvailable', 'action']);
  });
});

describe('allocate and deallocate', () => {
  it('schedule a stopped instance on a host and free it again, moving the host allocation', async () => {
    const api = wf.admin;
    const vm = await api.post('/v1/virtualmachines', { imageUuid: 'sim:a', vcpu: 3, memoryMb: 3000, startOnCreate: false });
    const stopped = await settle(api, `/v1/virtualmachines/${vm.body.id}`);
    expect([stopped.body.state, stopped.body.hostId]).toEqual(['stopped', null]);
    const [host] = (await api.get('/v1/hosts')).body.data;
    const before = host.allocatedVcpu;

    const alloc = await api.post(`/v1/virtualmachines/${vm.body.id}/?action=allocate`);
    expect([alloc.status, alloc.body.state]).toEqual([202, 'stopped']);
    const allocated = await waitFor(api, `/v1/virtualmachines/${vm.body.id}`, (b) => b.hostId !== null);
    expect(allocated.body.hostId).toBe(host.id);
    await waitFor(api, `/v1/hosts/${host.id}`, (h) => h.allocatedVcpu === before + 3 && h.allocatedMemoryMb >= 3000);
    // Allocated already: a second allocate is refused.
    await waitFor(api, `/v1/virtualmachines/${vm.body.id}`, () => true);
    const again = await api.post(`/v1/virtualmachines/${vm.body.id}/?action=allocate`);
    expect([again.status, again.body.code]).toEqual([422, 'ActionNotAvailable']);

    // Starting keeps the allocation (no second charge).
    await api.post(`/v1/virtualmachines/${vm.body.id}/?action=start`);
    expect((await settle(api, `/v1/virtualmachines/${vm.body.id}`)).body.state).toBe('running');
    expect((await api.get(`/v1/hosts/${host.id}`)).body.allocatedVcpu).toBe(before + 3);

    const dealloc = await api.post(`/v1/virtualmachines/${vm.body.id}/?action=deallocate`);
    expect(dealloc.status).toBe(202);
    await waitFor(api, `/v1/virtualmachines/${vm.body.id}`, (b) => b.hostId === null);
    await waitFor(api, `/v1/hosts/${host.id}`, (h) => h.allocatedVcpu === before);
  });
});
