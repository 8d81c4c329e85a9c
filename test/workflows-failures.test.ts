/**
 * Failure paths of the instance workflows end to end (issue 3): scheduling failures, agent errors injected with
 * `sim.fail=<action>`, silent agents (`sim.hang=<action>`) caught by the heartbeat timeout, and a local stack
 * restarted while actions are in flight, whose start-up sweep must bring every one to a terminal state.
 *
 * A failed step leaves the instance in the spec's failure state with `transitioning: "error"` and the message in
 * `transitioningMessage` (spec §3.4, §4.1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from './helpers/client.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { until, waitFor, type Settled } from './helpers/wait.js';

const HEARTBEAT_SECONDS = 1;
const ENV = {
  DROVER_RUNNER: 'workflows',
  DROVER_SIM_HOSTS: '2',
  DROVER_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
  DROVER_ACTION_TIMEOUT_SECONDS: '4',
  DROVER_SWEEP_SECONDS: '1',
};
/** A silent agent must be caught within the heartbeat and this much slack. */
const HEARTBEAT_BOUND_MS = (HEARTBEAT_SECONDS + 3) * 1000;

const CONTAINERS = '/v1/containers';
const VMS = '/v1/virtualmachines';

let t: TestStack;
let a: Client;
let hostIds: string[] = [];

beforeAll(async () => {
  t = await startTestStack({ env: ENV, simWorkMs: 50, logError: () => undefined });
  a = t.admin;
  hostIds = t.stack.simHosts.map((h) => h.hostId).sort();
});
afterAll(() => t?.close());

// ---- helpers -------------------------------------------------------------------------------------------

async function create(api: Client, body: Record<string, unknown> = {}, path = CONTAINERS) {
  const r = await api.post(path, { imageUuid: 'sim:test', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.state).toBe('creating');
  return r.body;
}

function act(api: Client, id: string, action: string, input: Record<string, unknown> = {}, path = CONTAINERS): Promise<Reply> {
  return api.post(`${path}/${id}/?action=${action}`, input);
}

function settled(api: Client, id: string, first: string, path = CONTAINERS, timeoutMs = 10_000): Promise<Settled> {
  return waitFor(api, `${path}/${id}`, (b) => b.transitioning !== 'yes', { seen: [first], timeoutMs });
}

/** A running instance, created with startOnCreate (through `api`, default the shared stack's admin). */
async function running(body: Record<string, unknown> = {}, path = CONTAINERS, api = a) {
  const c = await create(api, body, path);
  const s = await settled(api, c.id, c.state, path);
  expect([s.body.state, s.body.transitioning], JSON.stringify(s.body.transitioningMessage)).toEqual(['running', 'no']);
  return s.body;
}

async function allocations(api: Client): Promise<Record<string, { vcpu: number; memoryMb: number }>> {
  const r = await api.get('/v1/hosts');
  return Object.fromEntries(r.body.data.map((h: any) => [h.id, { vcpu: h.allocatedVcpu, memoryMb: h.allocatedMemoryMb }]));
}

/** A settled failure: `transitioning: "error"` and the message. */
function expectFailed(body: any, message: string | RegExp) {
  expect(body.transitioning).toBe('error');
  if (typeof message === 'string') expect(body.transitioningMessage).toBe(message);
  else expect(body.transitioningMessage).toMatch(message);
  expect(body.transitioningProgress).toBeNull();
}

const silent = (command: string) => new RegExp(`^Host 1h\\d+ stopped responding during ${command.replaceAll('.', '\\.')} \\(no heartbeat in time\\)$`);

// ---- scheduling ----------------------------------------------------------------------------------------

describe('scheduling failures', () => {
  it('a VM too big for any host: the create fails with the scheduling message and charges nothing', async () => {
    const before = await allocations(a);
    const vm = await create(a, { vcpu: 1, memoryMb: 300_000 }, VMS);
    const s = await settled(a, vm.id, 'creating', VMS);
    expectFailed(s.body, new RegExp(`^No host can take ${vm.id} \\(needs 1 vcpu, 300000 MB\\): 2 online hosts checked, none with enough total capacity$`));
    expect(s.body).toMatchObject({ hostId: null, startCount: 0, firstRunning: null, externalId: null });
    expect(s.states).not.toContain('running');
    expect(await allocations(a)).toEqual(before);
    // It can still be removed.
    const del = await a.del(`${VMS}/${vm.id}`);
    expect([del.status, del.body.state]).toEqual([200, 'removing']);
    expect((await settled(a, vm.id, 'removing', VMS)).body).toMatchObject({ state: 'removed', transitioning: 'no', transitioningMessage: null });
  });

  it('a requested host that cannot take the VM: the message names the host', async () => {
    const vm = await create(a, { vcpu: 65, memoryMb: 512, requestedHostId: hostIds[0] }, VMS);
    const s = await settled(a, vm.id, 'creating', VMS);
    expectFailed(s.body, new RegExp(`^Requested host ${hostIds[0]} does not have enough free capacity for ${vm.id} \\(needs 65 vcpu, 512 MB;`));
    expect(s.body.hostId).toBeNull();
  });
});

// ---- agent errors --------------------------------------------------------------------------------------

describe('agent failures (sim.fail)', () => {
  it('sim.fail=start on create: the start fails with the agent\'s message, never having run', async () => {
    const c = await create(a, { labels: { 'sim.fail': 'start' } });
    const s = await settled(a, c.id, 'creating');
    expectFailed(s.body, 'Failing [start]');
    expect(s.body).toMatchObject({ startCount: 0, firstRunning: null, externalId: null });
    expect(s.states).not.toContain('running');
  });

  it('sim.fail=start on a user start of a stopped container: back to stopped with the message; it starts once the label is gone', async () => {
    const c = await create(a, { startOnCreate: false, labels: { 'sim.fail': 'start' } });
    expect((await settled(a, c.id, 'creating')).body.state).toBe('stopped');
    const r = await act(a, c.id, 'start');
    expect([r.status, r.body.state]).toEqual([202, 'starting']);
    const s = await settled(a, c.id, 'starting');
    // cattle: a start that did not come from create is compensated by a plain stop.
    expect(s.body.state).toBe('stopped');
    expectFailed(s.body, 'Failing [start]');
    expect(s.body.startCount).toBe(0);

    expect((await act(a, c.id, 'setlabels', { labels: {} })).status).toBe(200);
    const again = await act(a, c.id, 'start');
    expect(again.body).toMatchObject({ state: 'starting', transitioning: 'yes', transitioningMessage: 'In Progress' });
    const ok = await settled(a, c.id, 'starting');
    expect(ok.body).toMatchObject({ state: 'running', transitioning: 'no', transitioningMessage: null, startCount: 1 });
  });

  it('sim.fail=stop on a running container: the stop fails into error with the message; remove still works', async () => {
    const c = await running({ labels: { 'sim.fail': 'stop' } });
    const r = await act(a, c.id, 'stop');
    expect([r.status, r.body.state]).toEqual([202, 'stopping']);
    const s = await settled(a, c.id, 'stopping');
    expect(s.body.state).toBe('error');
    expectFailed(s.body, 'Failing [stop]');
    expect(Object.keys(s.body.actions).sort()).toEqual(['remove', 'setlabels']);
    const del = await a.del(`${CONTAINERS}/${c.id}`);
    expect([del.status, del.body.state]).toEqual([200, 'removing']);
    expect((await settled(a, c.id, 'removing')).body).toMatchObject({ state: 'removed', transitioning: 'no' });
  });

  it('with several actions in the label, the message names the one that failed', async () => {
    const c = await running({ labels: { 'sim.fail': 'migrate, restart' } });
    const r = await act(a, c.id, 'restart');
    expect([r.status, r.body.state]).toEqual([202, 'restarting']);
    const s = await settled(a, c.id, 'restarting');
    expect(s.body.state).toBe('error');
    expectFailed(s.body, 'Failing [restart]');
  });

  it('a migrate whose stop on the source fails ends in error, and the target host keeps no charge', async () => {
    const vm = await running({ vcpu: 4, memoryMb: 4096, labels: { 'sim.fail': 'compute.instance.deactivate' } }, VMS);
    const before = await allocations(a);
    const r = await act(a, vm.id, 'migrate', {}, VMS);
    expect([r.status, r.body.state]).toEqual([202, 'migrating']);
    const s = await settled(a, vm.id, 'migrating', VMS);
    expect(s.body.state).toBe('error');
    expectFailed(s.body, 'Failing [compute.instance.deactivate]');
    expect(s.body.hostId).toBe(vm.hostId);
    // Only the source host carries the VM: the failure clears the reserved target with its own write and then gives
    // it back (`Ledger.fail`), so the target's charge may still show for a moment after the state reads `error`.
    const after = await until(async () => {
      const now = await allocations(a);
      return JSON.stringify(now) === JSON.stringify(before) && now;
    });
    expect(after).toEqual(before);
  });
});

// ---- silent agents ---------------------------------------------------------------------------------------

describe('silent agents (sim.hang)', () => {
  it('sim.hang=start: the heartbeat timeout fails the start within the bound', async () => {
    const t0 = Date.now();
    const c = await create(a, { labels: { 'sim.hang': 'start' } });
    const s = await settled(a, c.id, 'creating', CONTAINERS, HEARTBEAT_BOUND_MS + 2000);
    const took = Date.now() - t0;
    expectFailed(s.body, silent('compute.instance.activate'));
    expect(took).toBeGreaterThanOrEqual(HEARTBEAT_SECONDS * 1000 - 100);
    expect(took).toBeLessThan(HEARTBEAT_BOUND_MS);
    expect(s.body).toMatchObject({ startCount: 0, externalId: null });
  });

  it('sim.hang=stop on a running container: error within the bound', async () => {
    const c = await running({ labels: { 'sim.hang': 'stop' } });
    const t0 = Date.now();
    const r = await act(a, c.id, 'stop');
    expect([r.status, r.body.state]).toEqual([202, 'stopping']);
    const s = await settled(a, c.id, 'stopping', CONTAINERS, HEARTBEAT_BOUND_MS + 2000);
    expect(Date.now() - t0).toBeLessThan(HEARTBEAT_BOUND_MS);
    expect(s.body.state).toBe('error');
    expectFailed(s.body, silent('compute.instance.deactivate'));
  });
});

// ---- spec §3.4: a start chained from create that fails ends in error -------------------------------------

describe('failure state of a start that came from create', () => {
  it('is error (cattle chains instance.stop → instance.error), whether scheduling, the agent or its silence failed it', async () => {
    const cases = [
      { path: VMS, body: { vcpu: 1, memoryMb: 300_000 }, message: /^No host can take/ },
      { path: CONTAINERS, body: { labels: { 'sim.fail': 'start' } }, message: /^Failing \[start\]$/ },
      { path: CONTAINERS, body: { labels: { 'sim.hang': 'start' } }, message: silent('compute.instance.activate') },
    ];
    const created = await Promise.all(cases.map((k) => create(a, k.body, k.path)));
    for (const [i, k] of cases.entries()) {
      const s = await settled(a, created[i].id, 'creating', k.path, HEARTBEAT_BOUND_MS + 2000);
      expectFailed(s.body, k.message);
      expect(s.body.state, `${s.body.transitioningMessage} (states ${s.states.join(' → ')})`).toBe('error');
      expect(Object.keys(s.body.actions).sort()).toEqual(['remove', 'setlabels']);
    }
  });
});

// ---- restart in the middle of in-flight actions ----------------------------------------------------------

/** What an instance takes from its host (as `core/domain/hosts.ts` counts it). */
function need(i: any): { vcpu: number; memoryMb: number } {
  if (i.type === 'virtualMachine') return { vcpu: i.vcpu, memoryMb: i.memoryMb };
  return { vcpu: 0, memoryMb: typeof i.memory === 'number' ? Math.ceil(i.memory / 1048576) : 0 };
}

describe('a local stack restarted while actions are in flight', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'drover-wf-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the start-up sweep re-drives every open action to a terminal state, and host capacity adds up', async () => {
    const opts = { env: ENV, dataDir, inMemory: false, keepData: true, logError: () => undefined };
    // Slow host work (heartbeats keep it alive), so the actions are surely in flight at the close.
    const first = await startTestStack({ ...opts, simWorkMs: 1500 });
    let api = first.admin;
    const mem = 32 * 1048576;
    const [toStop, toRestart, toDelete, vm] = await Promise.all([
      running({ memory: mem }, CONTAINERS, api),
      running({ memory: mem }, CONTAINERS, api),
      running({ memory: mem }, CONTAINERS, api),
      running({ vcpu: 2, memoryMb: 2048 }, VMS, api),
    ]);
    const toStart = await create(api, { startOnCreate: false, memory: mem });
    expect((await settled(api, toStart.id, 'creating')).body.state).toBe('stopped');

    const fired = await Promise.all([
      act(api, toStop.id, 'stop'),
      act(api, toRestart.id, 'restart'),
      api.del(`${CONTAINERS}/${toDelete.id}`),
      act(api, vm.id, 'migrate', {}, VMS),
      act(api, toStart.id, 'start'),
      api.post(CONTAINERS, { imageUuid: 'sim:test', memory: mem }),
    ]);
    expect(fired.map((r) => r.status)).toEqual([202, 202, 200, 202, 202, 201]);
    expect(fired.map((r) => r.body.state)).toEqual(['stopping', 'restarting', 'stopping', 'migrating', 'starting', 'creating']);
    const created = fired[5].body;
    const all = [
      { id: toStop.id, path: CONTAINERS, want: 'stopped' },
      { id: toRestart.id, path: CONTAINERS, want: 'running' },
      { id: toDelete.id, path: CONTAINERS, want: 'removed' },
      { id: vm.id, path: VMS, want: 'running' },
      { id: toStart.id, path: CONTAINERS, want: 'running' },
      { id: created.id, path: CONTAINERS, want: 'running' },
    ];
    await new Promise((r) => setTimeout(r, 400));
    for (const x of all) expect((await api.get(`${x.path}/${x.id}`)).body.transitioning, x.id).toBe('yes');
    await first.close();

    const second = await startTestStack({ ...opts, keepData: false, simWorkMs: 50 });
    try {
      api = second.admin;
      for (const x of all) {
        const s = await waitFor(api, `${x.path}/${x.id}`, (b) => b.transitioning !== 'yes', { timeoutMs: 10_000 });
        expect(s.body.transitioning, `${x.id}: ${s.body.transitioningMessage}`).toBe('no');
        expect(s.body.state, `${x.id} (states ${s.states.join(' → ')})`).toBe(x.want);
      }
      const moved = (await api.get(`${VMS}/${vm.id}`)).body;
      expect(moved.hostId).not.toBe(vm.hostId);
      expect((await api.get(`${CONTAINERS}/${toRestart.id}`)).body.startCount).toBe(2);

      // Every host carries exactly what is placed on it: no charge lost or doubled by the re-drives.
      const hosts = await api.get('/v1/hosts');
      for (const h of hosts.body.data) {
        const on = (await api.get(`/v1/hosts/${h.id}/instances?limit=1000`)).body.data;
        const sum = on.reduce((acc: { vcpu: number; memoryMb: number }, i: any) => {
          const n = need(i);
          return { vcpu: acc.vcpu + n.vcpu, memoryMb: acc.memoryMb + n.memoryMb };
        }, { vcpu: 0, memoryMb: 0 });
        expect({ vcpu: h.allocatedVcpu, memoryMb: h.allocatedMemoryMb }, h.id).toEqual(sum);
      }
    } finally {
      await second.close();
    }
  });
});
