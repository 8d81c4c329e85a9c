/**
 * Removed instances are purged on their own once `removeTime` passes (issue 6, item 7; cattle's purge task), through
 * the same `instance-purge` workflow as a purge by hand: the host agent removes the instance, and the capacity it
 * held on its host is given back. Workflows on two sim hosts, over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRecords } from '../core/store/commands.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { settle, waitFor } from './helpers/wait.js';

const REMOVE_DELAY_SECONDS = 2;
const VMS = '/v1/virtualmachines';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({
    env: {
      DROVER_RUNNER: 'workflows',
      DROVER_SIM_HOSTS: '2',
      DROVER_SWEEP_SECONDS: '1',
      DROVER_REMOVE_DELAY_SECONDS: String(REMOVE_DELAY_SECONDS),
    },
  });
});
afterAll(() => t?.close());

const allocated = async (hostId: string) => {
  const h = (await t.admin.get(`/v1/hosts/${hostId}`)).body;
  return { vcpu: h.allocatedVcpu, memoryMb: h.allocatedMemoryMb };
};

describe('automatic purge', () => {
  it('purges a removed VM once its removeTime has passed, and its host gets its vcpu and memory back', async () => {
    const a = t.admin;
    const created = await a.post(VMS, { name: 'purge-me', imageUuid: 'sim:purge', vcpu: 3, memoryMb: 1536 });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const vm = (await settle(a, `${VMS}/${id}`)).body;
    expect(vm.state).toBe('running');
    const hostId = vm.hostId;
    const charged = await allocated(hostId);
    expect(charged.vcpu).toBeGreaterThanOrEqual(3);

    expect((await a.del(`${VMS}/${id}`)).status).toBe(200);
    const removed = (await waitFor(a, `${VMS}/${id}`, (b) => b.state === 'removed')).body;
    expect(removed.removeTimeTS - removed.removedTS).toBe(REMOVE_DELAY_SECONDS * 1000);
    // Removed keeps its host and its charge (cattle), until the purge.
    expect(removed.hostId).toBe(hostId);
    expect(await allocated(hostId)).toEqual(charged);

    // Nobody purges it: the sweeper does, once removeTime has passed.
    const purged = await waitFor(a, `${VMS}/${id}`, (b) => b.state === 'purged', { timeoutMs: 15_000, seen: ['removed'] });
    expect(purged.body).toMatchObject({ state: 'purged', transitioning: 'no', hostId: null });
    expect(Date.now()).toBeGreaterThanOrEqual(removed.removeTimeTS);
    expect(await allocated(hostId)).toEqual({ vcpu: charged.vcpu - 3, memoryMb: charged.memoryMb - 1536 });

    // The host agent was told to remove it (the workflow's RemoveFromHost step), by an action Drover started.
    const removes = (await new CommandRecords(t.stack.store).list(hostId)).filter((c) => c.resourceId === id && c.name === 'compute.instance.remove');
    expect(removes.map((c) => [c.action, c.status])).toEqual([['purge', 'done']]);
  });
});
