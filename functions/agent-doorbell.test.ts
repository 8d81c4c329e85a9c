/**
 * The agent doorbell in AWS: events of the agent WebSocket API handed to its Lambda entry point as API Gateway sends
 * them, against a DynamoDB-compatible endpoint, with API Gateway's management API played by a local HTTP server
 * that speaks its wire protocol (`POST /@connections/{id}`, 410 `GoneException` for a gone connection; API Gateway
 * has no local engine), reached by the real SDK client. Checks `$connect` authentication, the ring on enqueue,
 * keepalives stamping liveness, `$disconnect` and gone connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import { lambdaApi, stageTable, stageEnv } from '../test/helpers/lambda.js';
import { listenManagementApi } from '../test/helpers/api-gateway.js';

let db: EmbeddedDynamo;
let gateway: { endpoint: string; close(): Promise<void> };
const adminAuth = `Basic ${Buffer.from('BELLADMIN:bell-secret').toString('base64')}`;
/** What the management API was sent, per connection; connections it reports gone. */
const posted = new Map<string, unknown[]>();
const gone = new Set<string>();

type Event = { requestContext: { routeKey: string; connectionId: string }; headers?: Record<string, string>; body?: string };
const call = async (event: Event) => (await import('./agent-doorbell.js')).handler(event);
const connect = (connectionId: string, authorization: string) =>
  call({ requestContext: { routeKey: '$connect', connectionId }, headers: { Authorization: authorization, 'Sec-WebSocket-Version': '13' } });
// The stage's Drover as the tasks function wires it (it rings doorbells), shared by every entry point in this process.
const drover = async () => (await import('./stage.js')).stageDrover((await import('./tasks.js')).wiring);

/** Registers a host through the API function; answers its id and its agent credential as a Basic header. */
async function registerHost(uuid: string) {
  const tok = await lambdaApi(adminAuth)('POST', '/v1/registrationtokens', { name: `t-${uuid}` });
  expect(tok.status, JSON.stringify(tok.body)).toBe(201);
  const reg = await lambdaApi('')('POST', '/agent/register', { token: tok.body.token, uuid, hostname: uuid, vcpu: 2, memoryMb: 2048 });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  return { hostId: reg.body.hostId as string, auth: `Basic ${Buffer.from(`${reg.body.accessKey}:${reg.body.secretKey}`).toString('base64')}` };
}

/** Enqueues a command for the host, as the tasks function does. */
async function enqueue(hostId: string, n: number) {
  return (await drover()).outbox.enqueue({
    hostId,
    name: 'compute.instance.activate',
    action: 'start',
    resourceId: `1i${900 + n}`,
    actionId: `act-${hostId}-${n}`,
    data: {},
    token: `tok-${n}`,
    heartbeatSeconds: 30,
    timeoutSeconds: 300,
  });
}

beforeAll(async () => {
  db = await stageTable('drover-bell-test');
  gateway = await listenManagementApi(({ connectionId, body }) => {
    if (gone.has(connectionId)) return 'gone';
    posted.set(connectionId, [...(posted.get(connectionId) ?? []), JSON.parse(body)]);
    return 'ok';
  });
  stageEnv('drover-bell-test', db, {
    DROVER_ADMIN_ACCESS_KEY: 'BELLADMIN',
    DROVER_ADMIN_SECRET_KEY: 'bell-secret',
    DROVER_AGENT_DOORBELL_URL: 'wss://agents.example.com/live',
    DROVER_AGENT_DOORBELL_ENDPOINT: gateway.endpoint,
  });
  // Built first, as the tasks function wires it: the entry points of this process then share it.
  await drover();
});
afterAll(async () => {
  await gateway.close();
  await db.close();
});

describe('functions/agent-doorbell (the agent WebSocket API) and the ring on enqueue', () => {
  it("records a connection made with the host's credential and refuses others; enqueuing rings it", async () => {
    const host = await registerHost('bell-host-1');
    expect(await connect('bell-a=', host.auth)).toEqual({ statusCode: 200 });
    expect((await connect('bell-bad=', `Basic ${Buffer.from('nobody:nothing').toString('base64')}`)).statusCode).toBe(401);
    expect((await connect('bell-none=', '')).statusCode).toBe(401);
    // An admin key is no host credential: refused as the /agent routes refuse it.
    expect((await connect('bell-admin=', adminAuth)).statusCode).toBe(403);
    const d = await drover();
    const { CONNECTION_LIFETIME_SECONDS } = await import('../core/store/connections.js');

    // Connecting stamped the host online for as long as API Gateway can hold the connection.
    const stamped = await d.store.get(host.hostId);
    expect(stamped!.fields.agentConnectedUntil).toBe((stamped!.fields.agentSeenAt as number) + CONNECTION_LIFETIME_SECONDS * 1000);

    const cmd = await enqueue(host.hostId, 1);
    expect(posted.get('bell-a=')).toEqual([{ ring: { hostId: host.hostId } }]);
    // The ring carries no command: the agent fetches it over HTTPS, and the poll answer names the doorbell.
    const poll = await lambdaApi(host.auth)('GET', '/agent/commands', undefined, 'wait=20');
    expect(poll.status).toBe(200);
    expect(poll.body.data.map((c: { id: string }) => c.id)).toEqual([cmd.id]);
    expect(poll.body.doorbell).toEqual({ url: 'wss://agents.example.com/live', keepaliveSeconds: 300, fallbackPollSeconds: 900 });
    // Another host's connection is not rung.
    const other = await registerHost('bell-host-2');
    expect((await connect('bell-b=', other.auth)).statusCode).toBe(200);
    await enqueue(host.hostId, 2);
    expect(posted.get('bell-a=')).toHaveLength(2);
    expect(posted.get('bell-b=')).toBeUndefined();
  });

  it('keeps the host online while its doorbell is open, with keepalives that write nothing; offline once it closes', async () => {
    const host = await registerHost('bell-host-3');
    expect((await connect('bell-k=', host.auth)).statusCode).toBe(200);
    const d = await drover();
    const { isOnline } = await import('../core/domain/hosts.js');
    const connected = (await d.store.get(host.hostId))!;
    // Online an hour later with no stamp since: the connection holds it so (API Gateway closes a silent one).
    expect(isOnline(connected, (connected.fields.agentSeenAt as number) + 3600_000)).toBe(true);
    expect(await call({ requestContext: { routeKey: '$default', connectionId: 'bell-k=' }, body: '{"action":"keepalive"}' })).toEqual({ statusCode: 200 });
    expect((await d.store.get(host.hostId))!.version).toBe(connected.version);
    // A second connection (a reconnect) and the first one's late $disconnect: still online.
    expect((await connect('bell-k2=', host.auth)).statusCode).toBe(200);
    await call({ requestContext: { routeKey: '$disconnect', connectionId: 'bell-k=' } });
    const reconnected = (await d.store.get(host.hostId))!;
    expect(isOnline(reconnected, (reconnected.fields.agentSeenAt as number) + 3600_000)).toBe(true);
    // The last one closes: the host is online only as long as a polling agent's silence allows.
    await call({ requestContext: { routeKey: '$disconnect', connectionId: 'bell-k2=' } });
    const closed = (await d.store.get(host.hostId))!;
    expect(isOnline(closed, closed.fields.agentSeenAt as number)).toBe(true);
    expect(isOnline(closed, (closed.fields.agentSeenAt as number) + 3600_000)).toBe(false);
  });

  it('forgets a connection at $disconnect, and one the management API reports gone', async () => {
    const host = await registerHost('bell-host-4');
    const d = await drover();
    for (const id of ['bell-x=', 'bell-y=', 'bell-z=']) expect((await connect(id, host.auth)).statusCode).toBe(200);
    expect((await d.doorbell.ring(host.hostId))).toBe(3);
    expect(await call({ requestContext: { routeKey: '$disconnect', connectionId: 'bell-x=' } })).toEqual({ statusCode: 200 });
    gone.add('bell-y='); // its agent went away without a $disconnect yet
    await enqueue(host.hostId, 3);
    expect(posted.get('bell-x=')).toHaveLength(1);
    expect(posted.get('bell-z=')).toHaveLength(2);
    // Only the live connection is left, under the host and by its id.
    expect(await d.doorbell.ring(host.hostId)).toBe(1);
    expect((await new (await import('../core/store/agent-bells.js')).AgentBells(d.store).ofHost(host.hostId)).map((b) => b.connectionId)).toEqual(['bell-z=']);
  });

  it('stores the command even when the management API fails: the ring is best effort', async () => {
    const host = await registerHost('bell-host-5');
    expect((await connect('bell-f=', host.auth)).statusCode).toBe(200);
    const d = await drover();
    const { AgentDoorbell } = await import('../core/agent/doorbell.js');
    const { AgentBells } = await import('../core/store/agent-bells.js');
    const { Liveness } = await import('../core/agent/liveness.js');
    const { Outbox } = await import('../core/agent/outbox.js');
    const errors: unknown[] = [];
    const failing = new AgentDoorbell({
      bells: new AgentBells(d.store),
      auth: d.service.deps.auth,
      liveness: new Liveness(d.store),
      poster: { post: () => Promise.reject(new Error('connect ECONNREFUSED')) },
      logError: (e) => errors.push(e),
    });
    const outbox = new Outbox(d.store, { ring: (hostId) => failing.ring(hostId) });
    const cmd = await outbox.enqueue({ hostId: host.hostId, name: 'compute.instance.activate', action: 'start', resourceId: '1i990', actionId: 'act-f', data: {}, token: 'tok-f', heartbeatSeconds: 30, timeoutSeconds: 300 });
    expect(errors).toHaveLength(1);
    expect(await d.outbox.get(host.hostId, cmd.id)).toMatchObject({ status: 'pending' });
  });
});
