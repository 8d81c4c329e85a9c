/**
 * The Wakame API's state gate (spec W§3.3), cell by cell: every operation in every Wakame state Drover shows,
 * against one table written out here from the spec. Instances are put straight into each state in the store (the
 * gate reads only the state), on a stack whose runs complete in-process, so an allowed operation's process
 * completes at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatId } from '../core/ids.js';
import { wakameIdOf } from '../core/domain/wakame/ids.js';
import type { Resource } from '../core/store/item.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import type { Client } from './helpers/client.js';

/** W§3.3 as the spec gives it (✓* cells are ✓ here: Drover does them). `pending` never shows in Drover. */
const OPS = ['destroy', 'reboot', 'stop', 'start', 'poweroff', 'poweron', 'backup', 'move', 'update'] as const;
type Op = (typeof OPS)[number];
const TABLE: Record<string, Op[]> = {
  scheduling: ['update'],
  initializing: ['destroy', 'update'],
  starting: ['destroy', 'update'],
  running: ['destroy', 'reboot', 'stop', 'poweroff', 'move', 'update'],
  halting: ['destroy', 'poweroff', 'update'],
  halted: ['destroy', 'poweron', 'backup', 'update'],
  stopping: ['destroy', 'update'],
  shuttingdown: ['destroy', 'update'],
  migrating: ['destroy', 'update'],
  stopped: ['destroy', 'start', 'update'],
  terminated: ['update'],
};

let t: TestStack;
let api: Client;
let host: Resource;
let other: Resource;
let seq = 0;

/** A live host of the shared pool (its agent "seen" now), as registration makes them. */
async function liveHost(hostname: string): Promise<Resource> {
  const store = t.stack.store;
  const num = await store.nextId('host');
  const now = Date.now();
  return store.create({
    id: formatId('host', num), num, type: 'host', baseType: 'host', projectId: t.stack.defaultProjectId, state: 'active',
    version: 0, created: now, updated: now,
    fields: { hostname, vcpu: 64, memoryMb: 65536, allocatedVcpu: 0, allocatedMemoryMb: 0, agentSeenAt: now, labels: {} },
  });
}

/** How each Wakame state is held in the Rancher model (`core/domain/wakame/instances.ts`). */
function rancherFor(state: string): Pick<Resource, 'state' | 'action'> & { fields: Record<string, unknown> } {
  const placed = { hostId: host.id, allocationState: 'active' };
  const under = (name: string, input: Record<string, unknown> = {}) => ({ id: `a-${++seq}`, name, input, caller: 'admin', at: Date.now(), from: 'running' });
  switch (state) {
    case 'scheduling': return { state: 'requested', action: null, fields: {} };
    case 'initializing': return { state: 'starting', action: under('start'), fields: placed };
    case 'starting': return { state: 'starting', action: under('start'), fields: { ...placed, firstRunning: 1 } };
    case 'running': return { state: 'running', action: null, fields: { ...placed, firstRunning: 1 } };
    case 'halting': return { state: 'stopping', action: under('stop'), fields: { ...placed, firstRunning: 1 } };
    case 'halted': return { state: 'stopped', action: null, fields: { ...placed, firstRunning: 1 } };
    case 'stopping': return { state: 'stopping', action: under('release'), fields: { ...placed, firstRunning: 1 } };
    case 'shuttingdown': return { state: 'removing', action: under('remove'), fields: { firstRunning: 1 } };
    case 'migrating': return { state: 'migrating', action: under('migrate'), fields: { ...placed, firstRunning: 1 } };
    case 'stopped': return { state: 'stopped', action: null, fields: { allocationState: 'inactive', firstRunning: 1 } };
    case 'terminated': return { state: 'removed', action: null, fields: { firstRunning: 1, removed: Date.now() } };
  }
  throw new Error(`no Rancher form for ${state}`);
}

/** A Wakame VM of the shared pool, stored in the state given. */
async function instanceIn(state: string): Promise<string> {
  const store = t.stack.store;
  const num = await store.nextId('instance');
  const now = Date.now();
  const r = rancherFor(state);
  await store.create({
    id: formatId('instance', num), num, type: 'virtualMachine', baseType: 'instance', projectId: t.stack.defaultProjectId,
    state: r.state, action: r.action, version: 0, created: now, updated: now,
    fields: { vcpu: 1, memoryMb: 256, imageUuid: 'sim:x', hypervisor: 'dummy', wakameImageId: 'wmi-centos1d64', labels: {}, ...r.fields },
  });
  return wakameIdOf('instance', num);
}

const request: Record<Op, (id: string) => Promise<{ status: number; body: any }>> = {
  destroy: (id) => api.del(`/api/12.03/instances/${id}`),
  reboot: (id) => api.put(`/api/12.03/instances/${id}/reboot`),
  stop: (id) => api.put(`/api/12.03/instances/${id}/stop`),
  start: (id) => api.put(`/api/12.03/instances/${id}/start`),
  poweroff: (id) => api.put(`/api/12.03/instances/${id}/poweroff`),
  poweron: (id) => api.put(`/api/12.03/instances/${id}/poweron`),
  backup: (id) => api.put(`/api/12.03/instances/${id}/backup`),
  move: (id) => api.put(`/api/12.03/instances/${id}/move`, { instance: { host_node_id: wakameIdOf('host', other.num) } }),
  update: (id) => api.put(`/api/12.03/instances/${id}`, { instance: { display_name: 'renamed' } }),
};

beforeAll(async () => {
  t = await startTestStack();
  api = t.admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' });
  host = await liveHost('gate-1');
  other = await liveHost('gate-2');
});
afterAll(() => t.close());

describe('W§3.3: which operation each Wakame state allows', () => {
  const cells = Object.entries(TABLE).flatMap(([state, allowed]) => OPS.map((op) => [state, op, allowed.includes(op)] as const));

  it.each(cells)('%s × %s → allowed: %s', async (state, op, allowed) => {
    const id = await instanceIn(state);
    expect((await api.get(`/api/12.03/instances/${id}`)).body.state).toBe(state);
    const reply = await request[op](id);
    if (!allowed) {
      expect([reply.status, reply.body]).toEqual([400, { error: 'Dcmgr::Endpoints::InvalidInstanceState', message: state, code: '125' }]);
    } else if (op === 'backup') {
      // Allowed by the gate, then refused clearly: Drover has no backups.
      expect([reply.status, reply.body.error, reply.body.code]).toEqual([501, 'Drover::NotSupported', '501']);
    } else {
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    }
  });

  it('covers every state Drover shows, and every state a Rancher instance can be in has one', async () => {
    const shown = new Set<string>();
    for (const state of Object.keys(TABLE)) shown.add((await api.get(`/api/12.03/instances/${await instanceIn(state)}`)).body.state);
    expect([...shown].sort()).toEqual(Object.keys(TABLE).sort());
  });
});
