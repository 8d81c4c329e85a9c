/**
 * The host agent channel over real HTTP (design D7, notes §A.6–A.8): registration tokens, host registration
 * and agent keys, the per-host outbox (long-poll, ack, progress, complete), host isolation, and the agent
 * program with the `sim` driver.
 *
 * The real workflow wiring (Step Functions / the embedded interpreter) is not connected to the agent routes
 * yet, so these tests inject a fake StepFunctions that records every SendTask* call, and enqueue commands
 * directly with the stack's Outbox, as the workflow's hostCall task will.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAgent, type AgentLogger } from '../agent/agent.js';
import { SimDriver } from '../agent/sim-driver.js';
import { instanceSnapshot } from '../core/agent/outbox.js';
import type { Command } from '../core/store/commands.js';
import { TaskTokenError, type ExecutionStatus, type HostCommandName, type StepFunctions } from '../core/workflows/types.js';
import { Client } from './helpers/client.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until } from './helpers/wait.js';

/** Records SendTask* calls; a token accepts one outcome, then (like Step Functions) it is closed. */
class FakeWorkflows implements StepFunctions {
  calls: { kind: 'success' | 'failure' | 'heartbeat'; token: string; output?: unknown; error?: string; cause?: string }[] = [];
  closed = new Set<string>();
  async start(): Promise<void> {}
  async describe(): Promise<ExecutionStatus> {
    return 'RUNNING';
  }
  async stop(): Promise<void> {}
  async sendTaskSuccess(token: string, output: unknown): Promise<void> {
    this.check(token);
    this.closed.add(token);
    this.calls.push({ kind: 'success', token, output });
  }
  async sendTaskFailure(token: string, error: string, cause: string): Promise<void> {
    this.check(token);
    this.closed.add(token);
    this.calls.push({ kind: 'failure', token, error, cause });
  }
  async sendTaskHeartbeat(token: string): Promise<void> {
    this.check(token);
    this.calls.push({ kind: 'heartbeat', token });
  }
  of(token: string) {
    return this.calls.filter((c) => c.token === token);
  }
  private check(token: string) {
    if (this.closed.has(token)) throw new TaskTokenError(`Task ${token} timed out or is closed`);
  }
}

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

let t: TestStack;
let wf: FakeWorkflows;
let project: Awaited<ReturnType<typeof projectClient>>;
let token: string;
let anon: Client;

beforeAll(async () => {
  wf = new FakeWorkflows();
  t = await startTestStack({ workflows: wf });
  project = await projectClient(t.admin, 'agents');
  anon = new Client(t.stack.url);
  const r = await project.client.post('/v1/registrationtokens', { name: 'fleet' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  token = r.body.token;
});
afterAll(() => t?.close());

async function register(uuid: string, extra: Record<string, unknown> = {}) {
  const r = await anon.post('/agent/register', { token, uuid, hostname: `host-${uuid}`, vcpu: 4, memoryMb: 8192, labels: { zone: 'a' }, ...extra });
  expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
  return { ...r, agent: new Client(t.stack.url, r.body.accessKey, r.body.secretKey), hostId: r.body.hostId as string };
}

/** A container of the project on `hostId`, put into `starting` under a fresh action (as a workflow would). */
async function instanceUnderAction(hostId: string, labels: Record<string, string> = {}, action = 'start') {
  const c = await project.client.post('/v1/containers', { imageUuid: 'sim:web', labels, startOnCreate: false });
  expect(c.status, JSON.stringify(c.body)).toBe(201);
  const actionId = randomUUID();
  const { after } = await t.stack.store.mutate(c.body.id, (cur) => ({
    ...cur,
    state: 'starting',
    fields: { ...cur.fields, hostId },
    action: { id: actionId, name: action, input: {}, caller: 'admin', at: Date.now(), from: 'stopped', deadline: Date.now() + 60_000 },
  }));
  return { instance: after, actionId };
}

/**
 * What Step Functions does after a host call succeeds (this suite stands in for it): the Complete task, with the
 * agent's result in the execution's state, records it with the done state in one write.
 */
async function completeAsTheWorkflowWould(inst: Awaited<ReturnType<typeof instanceUnderAction>>, output: unknown) {
  await t.stack.drover.runTask({
    task: 'complete',
    id: inst.instance.id,
    actionId: inst.actionId,
    workflow: 'instance-start',
    state: { ActivateResult: output },
  });
}

async function enqueue(hostId: string, inst: Awaited<ReturnType<typeof instanceUnderAction>>, name: HostCommandName = 'compute.instance.activate', tok = `tok-${randomUUID()}`) {
  return t.stack.outbox.enqueue({
    hostId,
    name,
    action: inst.instance.action!.name,
    resourceId: inst.instance.id,
    actionId: inst.actionId,
    data: instanceSnapshot(inst.instance),
    processData: {},
    token: tok,
    heartbeatSeconds: 30,
    timeoutSeconds: 300,
  });
}

describe('registration tokens', () => {
  it('are created by project keys in their project and by the admin; the token is shown only once', async () => {
    const r = await project.client.post('/v1/registrationtokens', { name: 'once', description: 'for the test' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ type: 'registrationToken', baseType: 'registrationToken', accountId: project.projectId, name: 'once' });
    expect(['registering', 'active']).toContain(r.body.state);
    expect(r.body.id).toMatch(/^1c\d+$/);
    expect(r.body.token).toMatch(/^[0-9A-F]{20}:[A-Za-z0-9]{40}$/);
    expect(r.body.registrationUrl).toBe('/agent/register');

    const again = await project.client.get(`/v1/registrationtokens/${r.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.token).toBeNull();
    expect(again.body.state).toBe('active');
    const list = await project.client.get('/v1/registrationtokens');
    expect(list.body.data.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([r.body.id]));
    expect(list.body.data.every((x: { accountId: string }) => x.accountId === project.projectId)).toBe(true);

    const admin = await t.admin.post('/v1/registrationtokens', {});
    expect(admin.status).toBe(201);
    expect(admin.body.accountId).toBe(t.stack.defaultProjectId);
    // Another project's token is invisible to the project key; the schema is visible to it.
    expect((await project.client.get(`/v1/registrationtokens/${admin.body.id}`)).status).toBe(404);
    expect((await project.client.get('/v1/schemas/registrationtoken')).body.resourceFields.token).toMatchObject({ readOnCreateOnly: true });
  });

  it('is no login for /v1', async () => {
    const [access, secret] = token.split(':');
    expect((await new Client(t.stack.url, access, secret).get('/v1/containers')).status).toBe(401);
  });
});

describe('host registration', () => {
  it('creates an active host with capacity and an online agent, visible in /v1/hosts', async () => {
    const uuid = randomUUID();
    const reg = await register(uuid);
    expect(reg.status).toBe(201);
    expect(Object.keys(reg.body).sort()).toEqual(['accessKey', 'hostAccessKey', 'hostId', 'secretKey']);
    expect(reg.hostId).toMatch(/^1h\d+$/);

    const h = await project.client.get(`/v1/hosts/${reg.hostId}`);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({
      type: 'host',
      state: 'active',
      accountId: project.projectId,
      uuid,
      hostname: `host-${uuid}`,
      labels: { zone: 'a' },
      vcpu: 4,
      memoryMb: 8192,
      allocatedVcpu: 0,
      allocatedMemoryMb: 0,
      agentState: 'online',
    });
    expect(h.body.links.instances).toBe(`${t.stack.url}/v1/hosts/${reg.hostId}/instances`);
    const online = await project.client.get('/v1/hosts?agentState=online');
    expect(online.body.data.map((x: { id: string }) => x.id)).toContain(reg.hostId);

    // The instances link lists what runs on the host.
    const inst = await instanceUnderAction(reg.hostId);
    const on = await project.client.get(`/v1/hosts/${reg.hostId}/instances`);
    expect(on.body.data.map((x: { id: string }) => x.id)).toEqual([inst.instance.id]);
  });

  it('a host whose agent went quiet reads offline', async () => {
    const reg = await register(randomUUID());
    await t.stack.store.mutate(reg.hostId, (cur) => ({ ...cur, fields: { ...cur.fields, agentSeenAt: Date.now() - 120_000 } }));
    const h = await project.client.get(`/v1/hosts/${reg.hostId}`);
    expect(h.body.agentState).toBe('offline');
    expect((await project.client.get('/v1/hosts?agentState=offline')).body.data.map((x: { id: string }) => x.id)).toContain(reg.hostId);
  });

  it('registering the same uuid again reuses the host and rotates its key', async () => {
    const uuid = randomUUID();
    const first = await register(uuid);
    expect((await first.agent.get('/agent/commands')).status).toBe(200);
    const second = await register(uuid, { hostname: 'renamed', vcpu: 8 });
    expect(second.status).toBe(200);
    expect(second.hostId).toBe(first.hostId);
    expect(second.body.accessKey).not.toBe(first.body.accessKey);
    expect((await first.agent.get('/agent/commands')).status).toBe(401);
    expect((await second.agent.get('/agent/commands')).status).toBe(200);
    const h = await project.client.get(`/v1/hosts/${first.hostId}`);
    expect(h.body).toMatchObject({ hostname: 'renamed', vcpu: 8 });
    const hosts = await project.client.get(`/v1/hosts?uuid=${uuid}`);
    expect(hosts.body.data).toHaveLength(1);
  });

  it('refuses bad, removed and malformed tokens', async () => {
    const bad = await anon.post('/agent/register', { token: `${token.split(':')[0]}:wrong`, uuid: randomUUID() });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ type: 'error', status: 401 });
    expect((await anon.post('/agent/register', { token: 'nonsense', uuid: 'x' })).status).toBe(401);
    expect((await anon.post('/agent/register', { uuid: 'x' })).status).toBe(422);
    expect((await anon.post('/agent/register', { token, uuid: 'x', vcpu: 'many' })).status).toBe(422);

    const tk = await project.client.post('/v1/registrationtokens', { name: 'short-lived' });
    const ok = await anon.post('/agent/register', { token: tk.body.token, uuid: randomUUID() });
    expect(ok.status).toBe(201);
    expect((await project.client.del(`/v1/registrationtokens/${tk.body.id}`)).status).toBe(200);
    expect((await anon.post('/agent/register', { token: tk.body.token, uuid: randomUUID() })).status).toBe(401);
  });

  it('keeps agent keys and API keys on their own side', async () => {
    const reg = await register(randomUUID());
    expect((await reg.agent.get('/v1')).status).toBe(403);
    expect((await reg.agent.get('/v1/hosts')).status).toBe(403);
    expect((await reg.agent.post('/v1/containers', { imageUuid: 'sim:x' })).status).toBe(403);
    expect((await t.admin.get('/agent/commands')).status).toBe(403);
    expect((await project.client.get('/agent/commands')).status).toBe(403);
    expect((await anon.get('/agent/commands')).status).toBe(401);
    // Agent keys are internal: not listed as API keys.
    const keys = await t.admin.get('/v1/apikeys?limit=-1');
    expect(keys.body.data.some((k: { type: string }) => k.type !== 'apiKey')).toBe(false);
  });
});

describe('commands', () => {
  let hostA: Awaited<ReturnType<typeof register>>;
  let hostB: Awaited<ReturnType<typeof register>>;
  beforeAll(async () => {
    hostA = await register(randomUUID());
    hostB = await register(randomUUID());
  });

  it('a long-poll wakes when a command is enqueued, and delivers it without the task token', async () => {
    const empty = await hostA.agent.get('/agent/commands?wait=0');
    expect(empty.body).toEqual({ data: [] });

    const inst = await instanceUnderAction(hostA.hostId);
    const started = Date.now();
    const waits = vi.spyOn(t.stack.outbox, 'waitForWork');
    let answered = false;
    const poll = hostA.agent.get('/agent/commands?wait=10').finally(() => (answered = true));
    try {
      // Enqueue only once the poll is held: the route found nothing and waits on the host's doorbell.
      await until(() => waits.mock.calls.some(([host]) => host === hostA.hostId));
    } finally {
      waits.mockRestore();
    }
    expect(answered).toBe(false);
    const cmd = await enqueue(hostA.hostId, inst);
    const r = await poll;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.status).toBe(200);
    expect(r.body.data).toHaveLength(1);
    const got = r.body.data[0];
    expect(got).toMatchObject({
      id: cmd.id,
      hostId: hostA.hostId,
      name: 'compute.instance.activate',
      action: 'start',
      resourceId: inst.instance.id,
      actionId: inst.actionId,
      heartbeatSeconds: 30,
      status: 'pending',
      data: { id: inst.instance.id, uuid: inst.instance.fields.uuid, imageUuid: 'sim:web', labels: {} },
    });
    expect(got.secondsRemaining).toBeGreaterThan(290);
    expect(JSON.stringify(r.body)).not.toContain(cmd.token);
    expect(got).not.toHaveProperty('token');

    // Host B sees nothing of it.
    expect((await hostB.agent.get('/agent/commands?wait=0')).body.data).toEqual([]);
  });

  it('ack, progress (heartbeat + transitioningMessage), complete once; a duplicate has no effect', async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const cmd = await enqueue(hostA.hostId, inst);
    const base = `/agent/commands/${cmd.id}`;

    const ack = await hostA.agent.post(`${base}/ack`);
    expect(ack.status).toBe(200);
    expect(ack.body.data).toMatchObject({ id: cmd.id, status: 'acked' });
    expect((await hostA.agent.post(`${base}/ack`)).body.data.status).toBe('acked');
    const polled = await hostA.agent.get('/agent/commands?wait=0');
    expect(polled.body.data.map((c: Command) => c.id)).not.toContain(cmd.id);

    const p = await hostA.agent.post(`${base}/progress`, { message: 'Pulling image', progress: 40 });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(wf.of(cmd.token)).toEqual([{ kind: 'heartbeat', token: cmd.token }]);
    const during = await project.client.get(`/v1/containers/${inst.instance.id}`);
    expect(during.body).toMatchObject({ state: 'starting', transitioning: 'yes', transitioningMessage: 'Pulling image', transitioningProgress: 40 });
    expect((await hostA.agent.post(`${base}/progress`, { progress: 400 })).status).toBe(422);

    const result = { fields: { externalId: 'abc123', primaryIpAddress: '10.42.0.9', name: 'not-allowed' } };
    const done = await hostA.agent.post(`${base}/complete`, { result });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ duplicate: false });
    expect(wf.of(cmd.token).filter((c) => c.kind === 'success')).toEqual([{ kind: 'success', token: cmd.token, output: result }]);
    await completeAsTheWorkflowWould(inst, result);
    const after = await project.client.get(`/v1/containers/${inst.instance.id}`);
    expect(after.body).toMatchObject({ externalId: 'abc123', primaryIpAddress: '10.42.0.9' });
    expect(after.body.name).toBeNull();

    const dup = await hostA.agent.post(`${base}/complete`, { result: { fields: { externalId: 'other' } } });
    expect(dup.status).toBe(200);
    expect(dup.body).toEqual({ duplicate: true });
    const errDup = await hostA.agent.post(`${base}/complete`, { error: 'late failure' });
    expect(errDup.body).toEqual({ duplicate: true });
    expect(wf.of(cmd.token).filter((c) => c.kind !== 'heartbeat')).toHaveLength(1);
    expect((await project.client.get(`/v1/containers/${inst.instance.id}`)).body.externalId).toBe('abc123');
    // Progress on a finished command: the agent should stop.
    expect((await hostA.agent.post(`${base}/progress`, { message: 'still here' })).status).toBe(410);
  });

  it('concurrent completions of one command have exactly one effect', async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const cmd = await enqueue(hostA.hostId, inst);
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => hostA.agent.post(`/agent/commands/${cmd.id}/complete`, { result: {} })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(replies.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    expect(wf.of(cmd.token)).toEqual([{ kind: 'success', token: cmd.token, output: {} }]);
  });

  it('an error completes with SendTaskFailure(AgentError, message)', async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const cmd = await enqueue(hostA.hostId, inst, 'compute.instance.deactivate');
    const r = await hostA.agent.post(`/agent/commands/${cmd.id}/complete`, { error: 'Timeout getting IP address' });
    expect(r.body).toEqual({ duplicate: false });
    expect(wf.of(cmd.token)).toEqual([{ kind: 'failure', token: cmd.token, error: 'AgentError', cause: 'Timeout getting IP address' }]);
  });

  it('after the task timed out: progress answers 410 Gone, a late completion is recorded and swallowed', async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const cmd = await enqueue(hostA.hostId, inst);
    wf.closed.add(cmd.token); // Step Functions gave up on the token
    const p = await hostA.agent.post(`/agent/commands/${cmd.id}/progress`, { message: 'working' });
    expect(p.status).toBe(410);
    expect(p.body).toMatchObject({ type: 'error', status: 410, code: 'Gone' });
    const late = await hostA.agent.post(`/agent/commands/${cmd.id}/complete`, { result: {} });
    expect(late.status).toBe(200);
    expect((await t.stack.outbox.get(hostA.hostId, cmd.id))?.status).toBe('done');

    // A superseded action is gone too, even while its token is open.
    const inst2 = await instanceUnderAction(hostA.hostId);
    const cmd2 = await enqueue(hostA.hostId, inst2);
    await t.stack.store.mutate(inst2.instance.id, (cur) => ({ ...cur, action: { ...cur.action!, id: randomUUID() } }));
    expect((await hostA.agent.post(`/agent/commands/${cmd2.id}/progress`, {})).status).toBe(410);
  });

  it('enqueuing the same command again refreshes its token instead of adding one', async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const first = await enqueue(hostA.hostId, inst, 'compute.instance.activate', 'tok-old');
    const second = await enqueue(hostA.hostId, inst, 'compute.instance.activate', 'tok-new');
    expect(second.id).toBe(first.id);
    expect((await t.stack.outbox.get(hostA.hostId, first.id))?.token).toBe('tok-new');
    const listed = (await hostA.agent.get('/agent/commands?wait=0')).body.data.filter((c: Command) => c.resourceId === inst.instance.id);
    expect(listed).toHaveLength(1);
    await hostA.agent.post(`/agent/commands/${first.id}/complete`, { result: {} });
    expect(wf.of('tok-new')).toHaveLength(1);
    expect(wf.of('tok-old')).toHaveLength(0);
  });

  it("a host key cannot read, ack, report on or complete another host's commands", async () => {
    const inst = await instanceUnderAction(hostA.hostId);
    const cmd = await enqueue(hostA.hostId, inst);
    const base = `/agent/commands/${cmd.id}`;
    for (const r of [
      await hostB.agent.post(`${base}/ack`),
      await hostB.agent.post(`${base}/progress`, { message: 'x' }),
      await hostB.agent.post(`${base}/complete`, { result: { fields: { externalId: 'evil' } } }),
    ]) {
      expect(r.status).toBe(404);
    }
    expect((await hostB.agent.get('/agent/commands?wait=0')).body.data).toEqual([]);
    expect((await hostB.agent.get('/v1/containers')).status).toBe(403);
    const still = await t.stack.outbox.get(hostA.hostId, cmd.id);
    expect(still?.status).toBe('pending');
    expect(wf.of(cmd.token)).toEqual([]);
    expect((await project.client.get(`/v1/containers/${inst.instance.id}`)).body.externalId).toBeNull();
  });
});

describe('the agent program with the sim driver', () => {
  it('registers, runs commands to completion or failure, and reuses its state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-agent-'));
    const stateFile = join(dir, 'state.json');
    try {
      const driver = new SimDriver({ workMs: 5 });
      const agent = await startAgent({ url: t.stack.url, token, driver, stateFile, pollWaitSeconds: 2, logger: quiet, host: { vcpu: 2, memoryMb: 2048 } });
      const state = JSON.parse(readFileSync(stateFile, 'utf8'));
      expect(state).toMatchObject({ hostId: agent.hostId, accessKey: expect.any(String), secretKey: expect.any(String), uuid: expect.any(String) });

      const ok = await instanceUnderAction(agent.hostId);
      const okCmd = await enqueue(agent.hostId, ok);
      const success = await until(() => wf.of(okCmd.token).find((c) => c.kind === 'success'));
      const fields = (success.output as { fields: { externalId: string; primaryIpAddress: string } }).fields;
      expect(fields.externalId).toMatch(/^[0-9a-f]{64}$/);
      expect(fields.primaryIpAddress).toMatch(/^10\.42\.\d+\.\d+$/);
      await completeAsTheWorkflowWould(ok, success.output);
      expect((await project.client.get(`/v1/containers/${ok.instance.id}`)).body.externalId).toBe(fields.externalId);
      expect(driver.instance(ok.instance.id)?.state).toBe('running');

      const bad = await instanceUnderAction(agent.hostId, { 'sim.fail': 'start' });
      const badCmd = await enqueue(agent.hostId, bad);
      const failure = await until(() => wf.of(badCmd.token).find((c) => c.kind === 'failure'));
      expect(failure).toMatchObject({ error: 'AgentError', cause: 'Failing [start]' });

      const hung = await instanceUnderAction(agent.hostId, { 'sim.hang': 'start' });
      const hungCmd = await enqueue(agent.hostId, hung);
      await until(async () => (await t.stack.outbox.get(agent.hostId, hungCmd.id))?.status === 'acked');
      // Acked, so the agent holds it until the driver abandons it: once nothing is in flight, all it sent is in.
      await until(() => agent.running === 0);
      expect(wf.of(hungCmd.token)).toEqual([]);

      await agent.stop();
      expect(await agent.done).toBe('stopped');

      // The next start uses the saved key: same host, no new registration.
      const again = await startAgent({ url: t.stack.url, driver: new SimDriver({ workMs: 0 }), stateFile, pollWaitSeconds: 1, logger: quiet });
      expect(again.hostId).toBe(agent.hostId);
      expect(JSON.parse(readFileSync(stateFile, 'utf8')).accessKey).toBe(state.accessKey);
      await again.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('heartbeats every heartbeatSeconds/3 while a command runs', async () => {
    const agent = await startAgent({ url: t.stack.url, token, driver: new SimDriver({ workMs: 1600 }), pollWaitSeconds: 1, logger: quiet });
    try {
      const inst = await instanceUnderAction(agent.hostId);
      const cmd = await t.stack.outbox.enqueue({
        hostId: agent.hostId,
        name: 'compute.instance.activate',
        action: 'start',
        resourceId: inst.instance.id,
        actionId: inst.actionId,
        data: instanceSnapshot(inst.instance),
        token: 'tok-heartbeats',
        heartbeatSeconds: 3,
        timeoutSeconds: 60,
      });
      await until(() => wf.of(cmd.token).find((c) => c.kind === 'success'), 10_000);
      // The driver's first report at once, then at least one keep-alive about a second later.
      expect(wf.of(cmd.token).filter((c) => c.kind === 'heartbeat').length).toBeGreaterThanOrEqual(2);
    } finally {
      await agent.stop();
    }
  });

  it('registers again when its key was rotated elsewhere, and keeps working', async () => {
    const uuid = randomUUID();
    const agent = await startAgent({ url: t.stack.url, token, driver: new SimDriver({ workMs: 0 }), pollWaitSeconds: 1, logger: quiet, host: { uuid } });
    try {
      const other = await register(uuid); // same machine identity: the agent's key stops working
      expect(other.hostId).toBe(agent.hostId);
      const inst = await instanceUnderAction(agent.hostId);
      const cmd = await enqueue(agent.hostId, inst);
      await until(() => wf.of(cmd.token).find((c) => c.kind === 'success'), 10_000);
    } finally {
      await agent.stop();
    }
  });
});
