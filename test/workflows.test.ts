/**
 * Instance lifecycle end to end through Step Functions workflows (issue 3): the embedded interpreter
 * (aws-local-stepfunctions) runs the generated ASL, whose host calls go through the outbox to two simulated
 * host agents speaking the agent protocol over real HTTP. Every action's response state, the states seen while
 * polling, the settled state and fields, host capacity, instance links, the host-access grants, concurrent
 * actions, duplicate completions and host isolation.
 *
 * Polling every 20 ms may miss a fast intermediate state, so the POST's state is asserted exactly, the states seen
 * are asserted to be an ordered part of the expected sequence, and the transitioning state is required only where
 * the work takes long enough to be seen (sim work is 150 ms per host command here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRecords, type Command } from '../core/store/commands.js';
import { Client, type Reply } from './helpers/client.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { waitFor, type Settled } from './helpers/wait.js';

const ENV = {
  DROVER_RUNNER: 'workflows',
  DROVER_SIM_HOSTS: '2',
  DROVER_HEARTBEAT_SECONDS: '1',
  DROVER_ACTION_TIMEOUT_SECONDS: '4',
  DROVER_SWEEP_SECONDS: '1',
};
const SIM_WORK_MS = 150;
const HOST_MEMORY_MB = 262_144;

let t: TestStack;
let a: Client;
const logged: unknown[] = [];
let hostIds: string[] = [];

beforeAll(async () => {
  t = await startTestStack({ env: ENV, simWorkMs: SIM_WORK_MS, logError: (e) => logged.push(e) });
  a = t.admin;
  hostIds = t.stack.simHosts.map((h) => h.hostId).sort();
});
afterAll(() => t?.close());

// ---- helpers -------------------------------------------------------------------------------------------

const CONTAINERS = '/v1/containers';
const VMS = '/v1/virtualmachines';

async function create(body: Record<string, unknown> = {}, path = CONTAINERS) {
  const r = await a.post(path, { imageUuid: 'sim:test', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function get(id: string, path = CONTAINERS) {
  const r = await a.get(`${path}/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

function act(id: string, action: string, input: Record<string, unknown> = {}, path = CONTAINERS): Promise<Reply> {
  return a.post(`${path}/${id}/?action=${action}`, input);
}

interface Observed extends Settled {
  /** The states polling saw, without the response's. */
  polled: string[];
}

/** Polls until the resource has left its transitioning state; `states` starts with `first` (the response's state). */
async function settled(id: string, first: string, path = CONTAINERS, timeoutMs = 10_000): Promise<Observed> {
  const s = await waitFor(a, `${path}/${id}`, (b) => b.transitioning !== 'yes', { timeoutMs });
  return { ...s, polled: s.states, states: s.states[0] === first ? s.states : [first, ...s.states] };
}

/** `seen` is `expected` with some intermediate states possibly missed; it starts and ends as `expected` does. */
function expectSequence(seen: string[], expected: string[]) {
  expect(seen[0], seen.join(' → ')).toBe(expected[0]);
  expect(seen[seen.length - 1], seen.join(' → ')).toBe(expected[expected.length - 1]);
  let i = 0;
  for (const s of seen) {
    while (i < expected.length && expected[i] !== s) i++;
    expect(i, `${seen.join(' → ')} is not an ordered part of ${expected.join(' → ')}`).toBeLessThan(expected.length);
  }
}

function expectSettled(body: any, state: string) {
  expect(body.state).toBe(state);
  expect(body.transitioning, JSON.stringify(body.transitioningMessage)).toBe('no');
  expect(body.transitioningMessage).toBeNull();
  expect(body.transitioningProgress).toBeNull();
}

/** Runs an action: asserts its status and response state, waits for it to settle, checks the states seen. */
async function run(id: string, action: string, expected: string[], opts: { input?: Record<string, unknown>; path?: string; status?: number } = {}) {
  const r = await act(id, action, opts.input ?? {}, opts.path);
  expect(r.status, JSON.stringify(r.body)).toBe(opts.status ?? 202);
  expect(r.body.state).toBe(expected[0]);
  expect(r.body.transitioning).toBe('yes');
  const s = await settled(id, r.body.state, opts.path);
  expectSequence(s.states, expected);
  return s;
}

async function host(id: string) {
  const r = await a.get(`/v1/hosts/${id}`);
  expect(r.status).toBe(200);
  return r.body as { allocatedVcpu: number; allocatedMemoryMb: number; [k: string]: unknown };
}

/** Every host's allocation, by id. */
async function allocations(): Promise<Record<string, { vcpu: number; memoryMb: number }>> {
  const out: Record<string, { vcpu: number; memoryMb: number }> = {};
  for (const id of hostIds) {
    const h = await host(id);
    out[id] = { vcpu: h.allocatedVcpu, memoryMb: h.allocatedMemoryMb };
  }
  return out;
}

const other = (hostId: string) => hostIds.find((h) => h !== hostId)!;

/** The credentials a sim host keeps in its state file (`<dataDir>/sim-hosts/sim-N.json`). */
function simCredentials(hostId: string): Client {
  for (let i = 1; i <= hostIds.length; i++) {
    const s = JSON.parse(readFileSync(join(t.dataDir, 'sim-hosts', `sim-${i}.json`), 'utf8'));
    if (s.hostId === hostId) return new Client(t.stack.url, s.accessKey, s.secretKey);
  }
  throw new Error(`no sim host state file for ${hostId}`);
}

/** The outbox commands of a host for one instance, oldest first. */
async function commandsOf(hostId: string, resourceId: string): Promise<Command[]> {
  return (await new CommandRecords(t.stack.store).list(hostId)).filter((c) => c.resourceId === resourceId);
}

/** A running instance, created with startOnCreate. */
async function running(body: Record<string, unknown> = {}, path = CONTAINERS) {
  const c = await create(body, path);
  const s = await settled(c.id, c.state, path);
  expectSettled(s.body, 'running');
  return s.body;
}

async function stopped(body: Record<string, unknown> = {}, path = CONTAINERS) {
  const c = await create({ startOnCreate: false, ...body }, path);
  const s = await settled(c.id, c.state, path);
  expectSettled(s.body, 'stopped');
  return s.body;
}

function decodeJwt(token: string): Record<string, any> {
  const parts = token.split('.');
  expect(parts).toHaveLength(3);
  for (const p of parts) expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// ---- tests ---------------------------------------------------------------------------------------------

describe('hosts', () => {
  it('/v1/hosts shows the two sim hosts active, online, with capacity and nothing allocated yet', async () => {
    const r = await a.get('/v1/hosts');
    expect(r.status).toBe(200);
    expect(r.body.data).toHaveLength(2);
    expect(r.body.data.map((h: any) => h.id).sort()).toEqual(hostIds);
    for (const h of r.body.data) {
      expect(h).toMatchObject({
        type: 'host',
        state: 'active',
        agentState: 'online',
        vcpu: 64,
        memoryMb: HOST_MEMORY_MB,
        allocatedVcpu: 0,
        allocatedMemoryMb: 0,
        labels: { 'io.drover.sim': 'true' },
      });
      expect(h.links.instances).toBe(`${t.stack.url}/v1/hosts/${h.id}/instances`);
    }
    expect(r.body.data.map((h: any) => h.hostname).sort()).toEqual(['sim-1', 'sim-2']);
  });
});

describe('create', () => {
  it('startOnCreate: 201 creating → starting → running on a host, with the agent\'s externalId and address', async () => {
    const before = await allocations();
    const t0 = Date.now();
    const vm = await create({ name: 'vm-create', vcpu: 2, memoryMb: 1024 }, VMS);
    expect(vm.state).toBe('creating');
    expect(vm.transitioning).toBe('yes');
    const s = await settled(vm.id, vm.state, VMS);
    expectSequence(s.states, ['creating', 'starting', 'running']);
    // The host command takes SIM_WORK_MS: the starting state is there to be seen.
    expect(s.polled).toContain('starting');
    const b = s.body;
    expectSettled(b, 'running');
    expect(hostIds).toContain(b.hostId);
    expect(b.startCount).toBe(1);
    expect(b.firstRunningTS).toBeGreaterThanOrEqual(t0 - 1000);
    expect(b.externalId).toMatch(/^[0-9a-f]{64}$/);
    expect(b.primaryIpAddress).toMatch(/^10\.42\.\d+\.\d+$/);
    expect(Object.keys(b.actions).sort()).toEqual(['console', 'execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']);
    expect((await t.stack.store.get(b.id))?.fields.allocationState).toBe('active');

    // The host's capacity is charged, and it lists the instance.
    const after = await allocations();
    expect(after[b.hostId]).toEqual({ vcpu: before[b.hostId].vcpu + 2, memoryMb: before[b.hostId].memoryMb + 1024 });
    expect(after[other(b.hostId)]).toEqual(before[other(b.hostId)]);
    const on = await a.get(`/v1/hosts/${b.hostId}/instances`);
    expect(on.body.data.map((x: any) => x.id)).toContain(b.id);
  });

  it('startOnCreate false: 201 creating → stopped, never scheduled', async () => {
    const before = await allocations();
    const c = await create({ startOnCreate: false, memory: 64 * 1048576 });
    expect(c.state).toBe('creating');
    const s = await settled(c.id, c.state);
    expect(s.states).toEqual(['creating', 'stopped']);
    expectSettled(s.body, 'stopped');
    expect(s.body).toMatchObject({ hostId: null, startCount: 0, firstRunning: null, externalId: null });
    expect((await t.stack.store.get(c.id))?.fields).toMatchObject({ allocationState: 'inactive', instanceTriggeredStop: 'stop' });
    expect(await allocations()).toEqual(before);
  });

  it('requestedHostId is honoured, on create and on start', async () => {
    for (const target of hostIds) {
      const vm = await create({ requestedHostId: target, vcpu: 1, memoryMb: 256 }, VMS);
      const s = await settled(vm.id, vm.state, VMS);
      expectSettled(s.body, 'running');
      expect(s.body.hostId).toBe(target);
    }
    const c = await stopped({ requestedHostId: hostIds[1] });
    const s = await run(c.id, 'start', ['starting', 'running']);
    expect(s.body.hostId).toBe(hostIds[1]);
  });
});

describe('process actions', () => {
  it('start: 202 starting → running; hostId, firstRunning, startCount 1, externalId set', async () => {
    const c = await stopped();
    const t0 = Date.now();
    const s = await run(c.id, 'start', ['starting', 'running']);
    expect(s.polled).toContain('starting');
    expectSettled(s.body, 'running');
    expect(hostIds).toContain(s.body.hostId);
    expect(s.body.startCount).toBe(1);
    expect(s.body.firstRunningTS).toBeGreaterThanOrEqual(t0 - 1000);
    expect(s.body.externalId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stop: 202 stopping → stopped, keeping the host and its allocation; start again reuses the host', async () => {
    const vm = await running({ vcpu: 1, memoryMb: 512 }, VMS);
    const charged = await allocations();
    const s = await run(vm.id, 'stop', ['stopping', 'stopped'], { input: { timeout: 5 }, path: VMS });
    expect(s.polled).toContain('stopping');
    expectSettled(s.body, 'stopped');
    expect(s.body).toMatchObject({ hostId: vm.hostId, startCount: 1, firstRunning: vm.firstRunning });
    expect((await t.stack.store.get(vm.id))?.fields.allocationState).toBe('active');
    expect(await allocations()).toEqual(charged);

    const again = await run(vm.id, 'start', ['starting', 'running'], { path: VMS });
    expect(again.body).toMatchObject({ hostId: vm.hostId, startCount: 2, firstRunning: vm.firstRunning, externalId: vm.externalId });
    expect(await allocations()).toEqual(charged);
  });

  it('stop {remove: true}: 202 stopping → removing → removed', async () => {
    const c = await running();
    const s = await run(c.id, 'stop', ['stopping', 'removing', 'removed'], { input: { remove: true } });
    expect(s.polled).toContain('stopping');
    expectSettled(s.body, 'removed');
    expect(s.body.removed).not.toBeNull();
    expect(s.body.removeTime).not.toBeNull();
  });

  it('restart: 202 restarting → running on the same host; startCount+1, firstRunning unchanged', async () => {
    const c = await running();
    const s = await run(c.id, 'restart', ['restarting', 'running']);
    // Two host commands of SIM_WORK_MS each.
    expect(s.polled).toContain('restarting');
    expectSettled(s.body, 'running');
    expect(s.body).toMatchObject({ hostId: c.hostId, startCount: 2, firstRunning: c.firstRunning, externalId: c.externalId });
  });

  it('migrate: 202 migrating → running on the other host; the capacity moves with it', async () => {
    const vm = await running({ vcpu: 3, memoryMb: 3000 }, VMS);
    const before = await allocations();
    const s = await run(vm.id, 'migrate', ['migrating', 'running'], { path: VMS });
    expect(s.polled).toContain('migrating');
    expectSettled(s.body, 'running');
    const target = other(vm.hostId);
    expect(s.body.hostId).toBe(target);
    expect(s.body.startCount).toBe(vm.startCount);
    expect(s.body.externalId).toMatch(/^[0-9a-f]{64}$/);
    const after = await allocations();
    expect(after[vm.hostId]).toEqual({ vcpu: before[vm.hostId].vcpu - 3, memoryMb: before[vm.hostId].memoryMb - 3000 });
    expect(after[target]).toEqual({ vcpu: before[target].vcpu + 3, memoryMb: before[target].memoryMb + 3000 });
    expect((await t.stack.store.get(vm.id))?.fields.migrationTargetHostId ?? null).toBeNull();
  });

  it('migrate with no other host that fits fails cleanly: running on the same host, transitioning error', async () => {
    const size = 200_000; // fits one host, not two on the same one
    const big = await running({ vcpu: 1, memoryMb: size }, VMS);
    const blocker = await running({ vcpu: 1, memoryMb: size }, VMS);
    expect(blocker.hostId).toBe(other(big.hostId));
    const before = await allocations();

    const r = await act(big.id, 'migrate', {}, VMS);
    expect([r.status, r.body.state]).toEqual([202, 'migrating']);
    const s = await settled(big.id, 'migrating', VMS);
    expectSequence(s.states, ['migrating', 'running']);
    expect(s.body).toMatchObject({ state: 'running', transitioning: 'error', hostId: big.hostId });
    expect(s.body.transitioningMessage).toMatch(new RegExp(`^No host can take ${big.id} \\(needs 1 vcpu, ${size} MB\\).*none with enough free capacity`));
    expect(await allocations()).toEqual(before);
    expect(Object.keys(s.body.actions)).toContain('migrate');

    // Removing and purging both gives their capacity back.
    for (const vm of [big, blocker]) {
      const del = await a.del(`${VMS}/${vm.id}`);
      expect([del.status, del.body.state]).toEqual([200, 'stopping']);
      expectSettled((await settled(vm.id, 'stopping', VMS)).body, 'removed');
      const p = await run(vm.id, 'purge', ['purging', 'purged'], { path: VMS });
      expect(p.body.hostId).toBeNull();
    }
    const freed = await allocations();
    expect(freed[big.hostId].memoryMb).toBe(before[big.hostId].memoryMb - size);
    expect(freed[blocker.hostId].memoryMb).toBe(before[blocker.hostId].memoryMb - size);
  });

  it('remove, restore, start again, then purge: the allocation is kept until purge frees it', async () => {
    const vm = await stopped({ vcpu: 2, memoryMb: 2048 }, VMS);
    const idle = await allocations();
    const started = await run(vm.id, 'start', ['starting', 'running'], { path: VMS });
    const hostId = started.body.hostId;
    await run(vm.id, 'stop', ['stopping', 'stopped'], { path: VMS });

    const rm = await run(vm.id, 'remove', ['removing', 'removed'], { path: VMS });
    expectSettled(rm.body, 'removed');
    expect(rm.body.removed).not.toBeNull();
    expect(rm.body.hostId).toBe(hostId);

    const rs = await run(vm.id, 'restore', ['restoring', 'stopped'], { path: VMS });
    expectSettled(rs.body, 'stopped');
    expect(rs.body).toMatchObject({ removed: null, removeTime: null, hostId });
    const again = await run(vm.id, 'start', ['starting', 'running'], { path: VMS });
    expect(again.body).toMatchObject({ hostId, startCount: 2 });

    await run(vm.id, 'stop', ['stopping', 'removing', 'removed'], { input: { remove: true }, path: VMS });
    expect((await allocations())[hostId].memoryMb).toBe(idle[hostId].memoryMb + 2048);
    const p = await run(vm.id, 'purge', ['purging', 'purged'], { path: VMS });
    expect(p.polled).toContain('purging');
    expectSettled(p.body, 'purged');
    expect(p.body.hostId).toBeNull();
    expect((await t.stack.store.get(vm.id))?.fields.allocationState).toBe('inactive');
    expect(await allocations()).toEqual(idle);
    expect(Object.keys(p.body.actions)).toEqual(['setlabels']);
  });

  it('DELETE on running: 200 stopping → removed; on stopped: 200 removing → removed', async () => {
    const c = await running();
    const del = await a.del(`${CONTAINERS}/${c.id}`);
    expect([del.status, del.body.state]).toEqual([200, 'stopping']);
    const s = await settled(c.id, 'stopping');
    expectSequence(s.states, ['stopping', 'removing', 'removed']);
    expect(s.polled).toContain('stopping');
    expectSettled(s.body, 'removed');

    const d = await stopped();
    const del2 = await a.del(`${CONTAINERS}/${d.id}`);
    expect([del2.status, del2.body.state]).toEqual([200, 'removing']);
    expectSettled((await settled(d.id, 'removing')).body, 'removed');
  });

  it('error on stopped: 202 erroring → error; update on running and stopped bounce back', async () => {
    const c = await stopped();
    const e = await run(c.id, 'error', ['erroring', 'error']);
    expectSettled(e.body, 'error');
    expect(Object.keys(e.body.actions).sort()).toEqual(['remove', 'setlabels']);

    const r = await running();
    const u = await run(r.id, 'update', ['updating-running', 'running']);
    expectSettled(u.body, 'running');
    expect(u.body).toMatchObject({ hostId: r.hostId, startCount: 1 });
    const st = await stopped();
    expectSettled((await run(st.id, 'update', ['updating-stopped', 'stopped'])).body, 'stopped');
  });
});

describe('instance links', () => {
  it('activate when the container starts, deactivate when it stops', async () => {
    const target = await running();
    const c = await create({ instanceLinks: { db: target.id } });
    await settled(c.id, c.state);
    const links = await a.get(`${CONTAINERS}/${c.id}/instancelinks`);
    expect(links.body.data).toHaveLength(1);
    const linkPath = `/v1/instancelinks/${links.body.data[0].id}`;
    const isSettled = (state: string) => (b: any) => b.state === state && b.transitioning === 'no';
    await waitFor(a, linkPath, isSettled('active'), { timeoutMs: 5000 });

    await run(c.id, 'stop', ['stopping', 'stopped']);
    await waitFor(a, linkPath, isSettled('inactive'), { timeoutMs: 5000 });
    await run(c.id, 'start', ['starting', 'running']);
    const l = await waitFor(a, linkPath, isSettled('active'), { timeoutMs: 5000 });
    expect(l.body.targetInstanceId).toBe(target.id);
  });
});

describe('host access', () => {
  it('execute, logs and proxy on a running container, console on a running VM: hostAccess with a URL and a signed, expiring token', async () => {
    const c = await running();
    const vm = await running({}, VMS);
    const cases: [string, string, Record<string, unknown>, string, string][] = [
      [CONTAINERS, c.id, { command: ['/bin/sh'] }, 'execute', 'ws'],
      [CONTAINERS, c.id, { lines: 10 }, 'logs', 'ws'],
      [CONTAINERS, c.id, { port: 8080 }, 'proxy', 'http'],
      [VMS, vm.id, {}, 'console', 'ws'],
    ];
    const paths: Record<string, string> = { execute: '/v1/exec/', logs: '/v1/logs/', proxy: '/v1/container-proxy/', console: '/v1/console/' };
    const origin = t.stack.url.replace(/^http:\/\//, '');
    for (const [path, id, input, action, scheme] of cases) {
      const r = await act(id, action, input, path);
      expect(r.status, `${action}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.type).toBe('hostAccess');
      expect(r.body.url).toBe(`${scheme}://${origin}${paths[action]}`);
      const payload = decodeJwt(r.body.token);
      expect(payload.exp * 1000).toBeGreaterThan(Date.now());
      const inst = path === VMS ? vm : c;
      expect(payload.hostId).toBe(inst.hostId);
      // The streams name the instance as the host knows it (the agent's externalId); the console, as spec §2.7
      // shows cattle's payload, names it by id.
      if (action === 'console') expect(payload.console).toEqual({ container: vm.id });
      else expect(payload[action === 'execute' ? 'exec' : action].Container, action).toBe(inst.externalId);
      // No state change.
      expectSettled(await get(id, path), 'running');
    }
    const exec = decodeJwt((await act(c.id, 'execute', { command: ['ls', '-l'] })).body.token);
    expect(exec.exec).toMatchObject({ Cmd: ['ls', '-l'], Container: c.externalId });
    expect(decodeJwt((await act(c.id, 'proxy', { port: 8080 })).body.token).proxy.address).toBe(`${c.primaryIpAddress}:8080`);
    // console is for VMs only.
    expect((await act(c.id, 'console')).body).toMatchObject({ status: 422, code: 'ActionNotAvailable' });
  });
});

describe('races and repeats', () => {
  it('stop and restart fired at once: one 202, the other 409 or 422, and the end state follows the winner', async () => {
    for (let round = 0; round < 3; round++) {
      const c = await running();
      const [stop, restart] = await Promise.all([act(c.id, 'stop'), act(c.id, 'restart')]);
      const statuses = [stop.status, restart.status];
      expect(statuses.filter((s) => s === 202), JSON.stringify([stop.body, restart.body])).toHaveLength(1);
      const loser = stop.status === 202 ? restart : stop;
      expect([409, 422]).toContain(loser.status);
      expect(loser.body.type).toBe('error');
      if (loser.status === 422) expect(loser.body.code).toBe('ActionNotAvailable');
      const s = await settled(c.id, stop.status === 202 ? 'stopping' : 'restarting');
      if (stop.status === 202) {
        expectSettled(s.body, 'stopped');
        expect(s.body.startCount).toBe(1);
      } else {
        expectSettled(s.body, 'running');
        expect(s.body.startCount).toBe(2);
      }
      expect(s.body.hostId).toBe(c.hostId);
    }
  });

  it('a completion repeated by the host has no second effect', async () => {
    const c = await running();
    const agent = simCredentials(c.hostId);
    const [activate] = (await commandsOf(c.hostId, c.id)).filter((x) => x.name === 'compute.instance.activate');
    expect(activate).toMatchObject({ status: 'done', action: 'start' });
    expect(activate.relayedAt).toEqual(expect.any(Number));

    const again = await agent.post(`/agent/commands/${activate.id}/complete`, { result: { fields: { externalId: 'f'.repeat(64) } } });
    expect([again.status, again.body]).toEqual([200, { duplicate: true }]);
    const failed = await agent.post(`/agent/commands/${activate.id}/complete`, { error: 'late failure' });
    expect([failed.status, failed.body]).toEqual([200, { duplicate: true }]);
    const both = await Promise.all([1, 2, 3].map(() => agent.post(`/agent/commands/${activate.id}/complete`, { result: {} })));
    expect(both.map((r) => r.body.duplicate)).toEqual([true, true, true]);

    // Each answer came after its relay (if any) was handed to the workflow engine; once the engine is idle (no
    // execution running, no task handler in flight), whatever a wrongly relayed outcome would set off has run.
    const engine = t.stack.drover.workflows as unknown as { idle?: () => Promise<void> };
    expect(typeof engine.idle, 'the embedded engine reports when it is idle').toBe('function');
    await engine.idle!();
    const after = await get(c.id);
    expectSettled(after, 'running');
    expect(after).toMatchObject({ startCount: 1, externalId: c.externalId, hostId: c.hostId, firstRunning: c.firstRunning });
    // The next action still works: the repeats did not touch the action machinery.
    const s = await run(c.id, 'restart', ['restarting', 'running']);
    expect(s.body.startCount).toBe(2);
  });

  it("a host's key cannot see, ack, report on or complete another host's command", async () => {
    // The agent of the requested host acks the command and goes silent; the other host tries to finish it.
    const [owner, intruder] = hostIds;
    const c = await create({ requestedHostId: owner, labels: { 'sim.hang': 'start' } });
    let cmd: Command | undefined;
    for (let i = 0; i < 200 && cmd?.status !== 'acked'; i++) {
      [cmd] = await commandsOf(owner, c.id);
      if (cmd?.status !== 'acked') await new Promise((r) => setTimeout(r, 10));
    }
    expect(cmd?.status, 'the owner acks the command').toBe('acked');
    const evil = simCredentials(intruder);
    const base = `/agent/commands/${cmd!.id}`;
    const tries = [
      await evil.post(`${base}/ack`),
      await evil.post(`${base}/progress`, { message: 'not mine' }),
      await evil.post(`${base}/complete`, { result: { fields: { externalId: 'e'.repeat(64) } } }),
    ];
    expect(tries.map((r) => r.status)).toEqual([404, 404, 404]);
    const listed = await evil.get('/agent/commands?wait=0');
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((x: Command) => x.id)).not.toContain(cmd!.id);
    expect((await evil.get(`${CONTAINERS}/${c.id}`)).status).toBe(403);

    // Nothing reached the workflow: the silent owner's heartbeat runs out and the start fails.
    const s = await settled(c.id, 'creating', CONTAINERS, 6000);
    expect(s.body.transitioning).toBe('error');
    expect(s.body.transitioningMessage).toMatch(/stopped responding/);
    expect(s.body.externalId).toBeNull();
    expect((await commandsOf(owner, c.id))[0].status).toBe('acked');
  });
});

describe('diagnostics', () => {
  it('nothing unexpected was logged', () => {
    // The stack logs execution outcomes and state failures; anything that is not one of those is a fault.
    const unexpected = logged.filter((e) => {
      const ev = e as { event?: string; type?: string };
      return !(ev && typeof ev === 'object' && (ev.event === 'ExecutionEnded' || ev.type?.startsWith('State') || ev.type === 'ExecutionFailed'));
    });
    expect(unexpected.map(String)).toEqual([]);
  });
});
