/**
 * @module
 * Real workloads (`npx tsx bench/run.ts process`): a host whose agent runs the process driver and the host access
 * server, on the embedded stack with its workflows, against the floor of the work the host must do itself.
 * - start: POST a container (startOnCreate) → its `running` event, against `ProcessDriver.activate` called directly
 *   (the spawn through the sandbox, the record, the log file);
 * - stop: POST ?action=stop → its `stopped` event, against `ProcessDriver.deactivate` called directly (SIGTERM to a
 *   process that ends on it);
 * - execute: POST ?action=execute, connect to the host's access server, run `true` to its exit, against spawning
 *   `true` directly as the same user.
 * Transitions are observed on the event stream (`/v1/subscribe` over WebSocket), so the floor never pays for the
 * benchmark's polling and the subject has none. Rounds alternate floor and subject.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startAccessServer } from '../agent/access/server.js';
import { startAgent } from '../agent/agent.js';
import { ProcessDriver } from '../agent/process/driver.js';
import { agentCommand } from '../agent/test-command.js';
import { startTestStack } from '../test/helpers/stack.js';
import { fmt, percentile } from './lib.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const WORKLOAD = ['sleep', '600'];

const median = (xs: number[]) => percentile(xs, 50);
const p99 = (xs: number[]) => percentile(xs, 99);

/** Waits for container states on the event stream: `next(id, state)` resolves when that event arrives. */
async function stateEvents(url: string, auth: string) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/subscribe?eventNames=resource.change&resourceType=container`, { headers: { authorization: auth } });
  const waiters = new Map<string, () => void>();
  ws.on('message', (m) => {
    const e = JSON.parse(m.toString()) as { name: string; resourceId?: string; data?: { resource?: { state?: string } } };
    const key = `${e.resourceId}/${e.data?.resource?.state}`;
    waiters.get(key)?.();
    waiters.delete(key);
  });
  // The first message is the stream's ping: the subscription is live.
  await new Promise((ok) => ws.once('message', ok));
  return {
    next: (id: string, state: string) => new Promise<void>((ok) => waiters.set(`${id}/${state}`, ok)),
    close: () => ws.terminate(),
  };
}

/** Runs one command as `nobody` directly and waits for its exit. */
function spawnDirect(argv: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(argv[0], argv.slice(1), { uid: 65534, gid: 65534, stdio: 'ignore' });
    child.once('error', fail);
    child.once('exit', () => ok());
  });
}

/** The benchmark's rows: start, stop and execute through Drover against the host's own work. */
export async function processBench(rounds = 15): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'drover-bench-process-'));
  const t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '0' } });
  const driver = new ProcessDriver({ dataDir: join(root, 'host'), pollMs: 1000 });
  const floorDriver = new ProcessDriver({ dataDir: join(root, 'floor'), pollMs: 1000 });
  await Promise.all([driver.ready, floorDriver.ready]);
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const access = await startAccessServer({ listen: { host: '127.0.0.1', port: 0 }, hostId: () => agent?.hostId, key: () => agent?.hostAccessKey, targets: (id) => driver.accessTarget(id) });
  const token = (await t.admin.post('/v1/registrationtokens', {})).body.token;
  agent = await startAgent({ url: t.stack.url, token, driver, host: { hostname: 'bench', accessUrl: access.url, address: '127.0.0.1' }, pollWaitSeconds: 20, logger: quiet });
  const auth = `Basic ${Buffer.from(`${t.admin.accessKey}:${t.admin.secretKey}`).toString('base64')}`;
  const events = await stateEvents(t.stack.url, auth);
  const sample = { start: [] as number[], stop: [] as number[], exec: [] as number[] };
  const floor = { start: [] as number[], stop: [] as number[], exec: [] as number[] };
  try {
    for (let i = 0; i < rounds; i++) {
      // Floor: the driver's own work for the same start and stop.
      const id = `f${i}`;
      let s = performance.now();
      await floorDriver.activate(agentCommand({ name: 'compute.instance.activate', action: 'start', data: { id, uuid: `u-${id}`, command: WORKLOAD } }), async () => {});
      floor.start.push(performance.now() - s);
      s = performance.now();
      await floorDriver.deactivate(agentCommand({ name: 'compute.instance.deactivate', action: 'stop', data: { id, uuid: `u-${id}` }, processData: { timeout: 10 } }), async () => {});
      floor.stop.push(performance.now() - s);
      await floorDriver.remove(agentCommand({ name: 'compute.instance.remove', action: 'purge', data: { id, uuid: `u-${id}` } }), async () => {});
      s = performance.now();
      await spawnDirect(['true']);
      floor.exec.push(performance.now() - s);

      // Subject: the same through the API, the workflow, the agent and the access server.
      s = performance.now();
      const created = (await t.admin.post('/v1/containers', { imageUuid: 'process:bench', command: WORKLOAD, requestedHostId: agent.hostId })).body as { id: string };
      await events.next(created.id, 'running');
      sample.start.push(performance.now() - s);

      s = performance.now();
      const grant = (await t.admin.post(`/v1/containers/${created.id}/?action=execute`, { command: ['true'], tty: false })).body as { url: string; token: string };
      await new Promise<void>((ok, fail) => {
        const ws = new WebSocket(`${grant.url}?token=${encodeURIComponent(grant.token)}`);
        ws.once('close', () => ok());
        ws.once('error', fail);
      });
      sample.exec.push(performance.now() - s);

      s = performance.now();
      const stopped = events.next(created.id, 'stopped');
      await t.admin.post(`/v1/containers/${created.id}/?action=stop`, { timeout: 10 });
      await stopped;
      sample.stop.push(performance.now() - s);
      const removed = events.next(created.id, 'removed');
      await t.admin.post(`/v1/containers/${created.id}/?action=remove`, {});
      await removed;
    }
  } finally {
    events.close();
    await agent.stop({ graceMs: 0 });
    await access.close();
    await driver.close();
    await floorDriver.close();
    await t.close();
    rmSync(root, { recursive: true, force: true });
  }
  const row = (what: string, subject: number[], base: number[], floorWhat: string) =>
    `| ${what} | ${fmt(median(subject), 1)} ms | ${fmt(median(subject) / median(base), 1)} | p50 of ${subject.length}, p99 ${fmt(p99(subject), 1)} ms; floor (${floorWhat}) ${fmt(median(base), 1)} ms |`;
  return [
    row('process start via the API (create → running event)', sample.start, floor.start, 'ProcessDriver.activate, direct'),
    row('process stop via the API (stop → stopped event, SIGTERM)', sample.stop, floor.stop, 'ProcessDriver.deactivate, direct'),
    row('execute `true` via the API and the access server (action → exit)', sample.exec, floor.exec, '`true` spawned directly as nobody'),
  ];
}
