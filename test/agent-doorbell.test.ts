/**
 * The agent program with the AWS doorbell: the control plane over real HTTP answering polls at once (no long-poll,
 * `maxWaitSeconds` 0, as on Lambda) and naming its doorbell, whose WebSocket API is played by a local node `ws`
 * server speaking API Gateway's side (`$connect`/`$default`/`$disconnect` handed to the doorbell's handler, the
 * management API's `POST /@connections/{id}` reached by the real SDK client; `test/helpers/api-gateway.ts`), since
 * API Gateway has no local engine. Checks that a ring gets a command picked up well within the fallback interval,
 * that a lost ring is covered by the fallback poll, and that the agent reconnects after API Gateway closes it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentLogger, type RunningAgent } from '../agent/agent.js';
import { SimDriver } from '../agent/sim-driver.js';
import { instanceSnapshot } from '../core/agent/outbox.js';
import { AgentBells } from '../core/store/agent-bells.js';
import { startLocalGateway, type LocalGateway } from './helpers/api-gateway.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until } from './helpers/wait.js';

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

let t: TestStack;
let gw: LocalGateway;
let project: Awaited<ReturnType<typeof projectClient>>;
let token: string;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  // The management API's client signs its requests: any key does for the local stand-in.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  gw = await startLocalGateway((event) => t.stack.drover.doorbell.handle(event));
  t = await startTestStack({
    agentPollWaitSeconds: 0,
    env: { DROVER_AGENT_DOORBELL_URL: gw.url, DROVER_AGENT_DOORBELL_ENDPOINT: gw.endpoint },
  });
  project = await projectClient(t.admin, 'doorbell');
  token = (await project.client.post('/v1/registrationtokens', { name: 'fleet' })).body.token;
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop({ graceMs: 0 })));
  await gw?.close();
  await t?.close();
});

/** An agent whose only ways to learn of work are the doorbell and a fallback poll every `fallbackPollMs`. */
async function agent(fallbackPollMs: number) {
  const a = await startAgent({
    url: t.stack.url,
    token,
    driver: new SimDriver({ workMs: 1 }),
    host: { uuid: randomUUID(), hostname: `bell-${agents.length}`, vcpu: 2, memoryMb: 2048 },
    // Without an open doorbell the agent would poll every minute: no poll in these tests comes from that.
    idlePollMs: 60_000,
    fallbackPollMs,
    doorbellRetry: { baseMs: 20, capMs: 100 },
    logger: quiet,
  });
  agents.push(a);
  return a;
}

/** The host's one doorbell connection once it is recorded and open at the gateway (other than `not`). */
function connected(hostId: string, not?: string) {
  return until(async () => {
    const b = await new AgentBells(t.stack.store).ofHost(hostId);
    return b.length === 1 && b[0].connectionId !== not && gw.sockets.has(b[0].connectionId) && b[0];
  });
}

/** Enqueues a start of a fresh container for the host, as the workflow's host call does; answers the command. */
async function enqueue(hostId: string) {
  const c = await project.client.post('/v1/containers', { imageUuid: 'sim:web', startOnCreate: false });
  const actionId = randomUUID();
  const { after } = await t.stack.store.mutate(c.body.id, (cur) => ({
    ...cur,
    state: 'starting',
    fields: { ...cur.fields, hostId },
    action: { id: actionId, name: 'start', input: {}, caller: 'admin', at: Date.now(), from: 'stopped', deadline: Date.now() + 60_000 },
  }));
  return t.stack.outbox.enqueue({
    hostId,
    name: 'compute.instance.activate',
    action: 'start',
    resourceId: after.id,
    actionId,
    data: instanceSnapshot(after),
    token: `tok-${actionId}`,
    heartbeatSeconds: 30,
    timeoutSeconds: 300,
  });
}

const picked = (hostId: string, id: string) => async () => (await t.stack.outbox.get(hostId, id))?.status !== 'pending';

describe('the agent with a doorbell (Lambda-like control plane)', () => {
  it('holds the doorbell open and picks a command up as soon as it rings, not at the fallback poll', async () => {
    const a = await agent(600_000);
    // The first poll answer named the doorbell; the agent connected with its host credential.
    const bell = await connected(a.hostId);
    const host = await t.admin.get(`/v1/hosts/${a.hostId}`);
    expect(host.body).toMatchObject({ agentState: 'online', agentConnectedUntil: expect.any(Number) });

    const before = gw.posts.length;
    const cmd = await enqueue(a.hostId);
    expect(gw.posts.slice(before)).toEqual([{ connectionId: bell.connectionId, data: JSON.stringify({ ring: { hostId: a.hostId } }) }]);
    // Picked up far within the ten-minute fallback.
    await until(picked(a.hostId, cmd.id), 5000);
  });

  it('picks a command up at the fallback poll when the ring is lost', async () => {
    const a = await agent(300);
    await connected(a.hostId);
    gw.mute = true;
    try {
      const before = gw.posts.length;
      const cmd = await enqueue(a.hostId);
      // The ring went out and was lost on the way; the fallback poll finds the command anyway.
      expect(gw.posts.length).toBe(before + 1);
      await until(picked(a.hostId, cmd.id), 5000);
    } finally {
      gw.mute = false;
    }
  });

  it('reconnects after API Gateway closes the connection, and is rung on the new one', async () => {
    const a = await agent(600_000);
    const first = await connected(a.hostId);
    gw.dropAll();
    // `$disconnect` forgot the old connection; the agent made a new one.
    const second = await connected(a.hostId, first.connectionId);
    const cmd = await enqueue(a.hostId);
    expect(gw.posts.at(-1)!.connectionId).toBe(second.connectionId);
    await until(picked(a.hostId, cmd.id), 5000);
  });
});
