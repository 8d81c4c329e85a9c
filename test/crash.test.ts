/**
 * `kill -9` of `npm start` with about 150 actions in flight (issue 6, item 5), three times on one data directory.
 * After each restart, once the work has settled: every row an index lists is the item a GET returns (same state,
 * never 404), nothing is left transitioning or `requested`, and every host is charged exactly what the instances
 * placed on it need.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from './helpers/client.js';
import { exited, startProcess, type StartedProcess } from './helpers/process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'drover-crash-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const CONTAINERS = '/v1/containers';
const VMS = '/v1/virtualmachines';

interface Started extends StartedProcess {
  api: Client;
}

async function start(): Promise<Started> {
  const started = await startProcess({
    DROVER_DATA_DIR: dataDir,
    DROVER_SWEEP_SECONDS: '1',
    // Removed instances stay removed (and charged) for the whole test: no purge moves capacity mid-check.
    DROVER_REMOVE_DELAY_SECONDS: '3600',
  });
  child = started.child;
  return { ...started, api: new Client(started.url, started.accessKey, started.secretKey) };
}

/** SIGKILL: no handler runs, nothing is flushed or closed. */
async function killed(proc: ChildProcess): Promise<void> {
  proc.kill('SIGKILL');
  await exited(proc);
}

/** Polls `fn` until it returns a value (not undefined), for at most `ms`. */
async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const pathOf = (i: { type: string }) => (i.type === 'virtualMachine' ? VMS : CONTAINERS);

/** What an instance takes from its host (the rule of `requirementOf` in core/domain/hosts.ts). */
function need(i: any): { vcpu: number; memoryMb: number } {
  if (i.type === 'virtualMachine') return { vcpu: i.vcpu, memoryMb: i.memoryMb };
  return { vcpu: 0, memoryMb: typeof i.memory === 'number' ? Math.ceil(i.memory / 1048576) : 0 };
}

async function all(api: Client, path: string): Promise<any[]> {
  const r = await api.get(`${path}${path.includes('?') ? '&' : '?'}limit=1000`);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

let serial = 0;
function newInstance(api: Client): Promise<unknown> {
  const n = serial++;
  // A third are VMs (vcpu and memoryMb), the rest containers with a memory reservation.
  if (n % 3 === 0) return api.post(VMS, { name: `crash-vm-${n}`, imageUuid: 'sim:crash', vcpu: 1, memoryMb: 128 });
  return api.post(CONTAINERS, { name: `crash-c-${n}`, imageUuid: 'sim:crash', memory: 64 * 1048576 });
}

/** An action for an instance in its settled state, cycling through the kinds so every round has each. */
function actionFor(api: Client, i: any, k: number): Promise<unknown> | undefined {
  const p = `${pathOf(i)}/${i.id}`;
  if (i.state === 'running') return [() => api.post(`${p}/?action=stop`, {}), () => api.post(`${p}/?action=restart`, {}), () => api.del(p)][k % 3]();
  if (i.state === 'stopped') return k % 4 === 3 ? api.del(p) : api.post(`${p}/?action=start`, {});
  if (i.state === 'error') return api.del(p);
  return undefined;
}

/** Fires about `count` requests at once (creates plus actions on existing instances) and kills the stack once a third have answered. */
async function fireAndKill(s: Started, count: number): Promise<{ answered: number; acknowledged: string[] }> {
  const existing = (await all(s.api, '/v1/instances')).filter((i) => ['running', 'stopped', 'error'].includes(i.state));
  const targets = existing.slice(0, Math.floor(count * 0.6));
  // Creates and actions interleaved, so the kill finds both kinds half done.
  const requests: Promise<unknown>[] = [];
  for (let k = 0; requests.length < count; k++) {
    const r = k % 5 < 3 && targets.length ? actionFor(s.api, targets.shift(), k) : newInstance(s.api);
    if (r) requests.push(r);
  }
  let answered = 0;
  const acknowledged: string[] = [];
  const tracked = requests.map((r) =>
    r.then(
      (reply) => {
        answered++;
        const { status, body } = reply as { status: number; body: { id?: string } };
        if (status === 201 && body.id) acknowledged.push(body.id);
      },
      () => undefined,
    ),
  );
  await until('a third of the requests to be answered', 20_000, async () => (answered >= count / 3 ? true : undefined));
  await killed(s.child);
  await Promise.all(tracked);
  return { answered, acknowledged };
}

/** Waits until nothing is transitioning or requested (the restarted stack has driven or failed all of it). */
async function settled(api: Client): Promise<any[]> {
  let busy: any[] = [];
  try {
    return await until('every instance to settle after the restart', 45_000, async () => {
      const rows = await all(api, '/v1/instances');
      busy = rows.filter((i) => i.transitioning === 'yes' || i.state === 'requested');
      return busy.length === 0 ? rows : undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}; still busy: ${busy.map((i) => `${i.id} ${i.state}`).join(', ')}`);
  }
}

/** The consistency checks of the issue, against the API only. */
async function expectConsistent(api: Client, projectId: string) {
  const listed = await settled(api);
  const scoped = api.with({ 'X-API-Project-Id': projectId });
  // Every instance as a consistent GET shows it (the source of truth the lists must agree with).
  const truth = new Map<string, any>();
  for (const row of [...listed, ...(await all(scoped, '/v1/instances'))]) {
    if (truth.has(row.id)) continue;
    const got = await api.get(`/v1/instances/${row.id}`);
    expect(got.status, `listed ${row.id} answers ${got.status}`).toBe(200);
    truth.set(row.id, got.body);
  }
  const stuck = [...truth.values()].filter((i) => i.transitioning === 'yes' || i.state === 'requested');
  expect(stuck.map((i) => `${i.id} ${i.state}`)).toEqual([]);

  // Every list (byKind across projects, byState and byProject in a project, byHost per host) shows items as they are.
  const states = new Set([...truth.values()].map((i) => i.state));
  for (const state of states) {
    for (const [client, how] of [[api, 'admin'], [scoped, 'project']] as const) {
      const rows = await all(client, `/v1/instances?state=${state}`);
      for (const row of rows) {
        const got = await api.get(`/v1/instances/${row.id}`);
        expect(got.status, `${how} ?state=${state} lists ${row.id}, which answers ${got.status}`).toBe(200);
        expect(got.body.state, `${how} ?state=${state} lists ${row.id}`).toBe(state);
        expect(row.state, `${how} ?state=${state} row ${row.id}`).toBe(state);
      }
      const want = [...truth.values()].filter((i) => i.state === state && (how === 'admin' || i.accountId === projectId)).map((i) => i.id).sort();
      expect(rows.map((r) => r.id).sort(), `${how} ?state=${state}`).toEqual(want);
    }
  }

  // Host capacity: once nothing is transitioning, exactly the instances with a hostId hold a charge (allocation
  // active; no migration target is held outside a migrate).
  const hosts = await all(api, '/v1/hosts');
  expect(hosts.length).toBe(2);
  for (const h of hosts) {
    const on = [...truth.values()].filter((i) => i.hostId === h.id);
    const sum = on.map(need).reduce((a, n) => ({ vcpu: a.vcpu + n.vcpu, memoryMb: a.memoryMb + n.memoryMb }), { vcpu: 0, memoryMb: 0 });
    expect({ vcpu: h.allocatedVcpu, memoryMb: h.allocatedMemoryMb }, `host ${h.id} allocations`).toEqual(sum);
    const byHost = await all(api, `/v1/hosts/${h.id}/instances`);
    expect(byHost.map((i) => i.id).sort(), `host ${h.id} instances`).toEqual(on.map((i) => i.id).sort());
  }
  return truth;
}

describe('kill -9 of the local stack with actions in flight', () => {
  it('comes back consistent, three times over', async () => {
    let s = await start();
    await until('two online hosts', 20_000, async () => {
      const hosts = await all(s.api, '/v1/hosts');
      return hosts.length === 2 && hosts.every((h) => h.agentState === 'online') ? true : undefined;
    });
    // Instances to act on in the first round.
    await Promise.all(Array.from({ length: 90 }, () => newInstance(s.api)));
    const projectId: string = (await settled(s.api))[0].accountId;

    for (let round = 1; round <= 3; round++) {
      const fired = await fireAndKill(s, 150);
      expect(fired.answered, `round ${round}: answers before the kill`).toBeLessThan(150);
      s = await start();
      expect(s.output()).toMatch(/Recovered from an unclean stop: rebuilt the indexes of \d+ items in \d+ ms/);
      const truth = await expectConsistent(s.api, projectId);
      expect(truth.size).toBeGreaterThan(90);
      // Nothing acknowledged is lost: every create answered 201 before the kill is still there.
      expect(fired.acknowledged.filter((id) => !truth.has(id)), `round ${round}: acknowledged creates missing`).toEqual([]);
    }
    await killed(s.child);
  }, 110_000);
});
