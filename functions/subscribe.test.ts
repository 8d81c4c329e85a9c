/**
 * The live stream in AWS: `$connect`s of the stage's WebSocket API (the events Lambda gets from API Gateway) against
 * a DynamoDB-compatible endpoint, the stream consumer fed the table's real committed changes as DynamoDB Streams
 * records, and API Gateway's management API played by a local HTTP server that speaks its wire protocol
 * (`POST`/`DELETE /@connections/{id}`; API Gateway has no local engine), reached by the real SDK client. Checks
 * replay before live, resume across concurrent shard consumers, project isolation, refusals, gone connections and
 * pings.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import { lambdaApi, stageTable, stageEnv } from '../test/helpers/lambda.js';
import { listenManagementApi } from '../test/helpers/api-gateway.js';
import type { Change } from '../core/store/changes.js';

let db: EmbeddedDynamo;
let gateway: { endpoint: string; close(): Promise<void> };
const adminAuth = `Basic ${Buffer.from('WSADMIN:ws-secret').toString('base64')}`;

/** API Gateway's side of each connection: opened once `$connect` has answered, and what was posted to it. */
const connections = new Map<string, { open: boolean; gone: boolean; failing?: boolean; closed?: boolean; refusedUntilOpen: number; messages: any[] }>();

/** Committed changes of the stage's table, in order, waiting to be handed to the consumer as its stream. */
let changes: Change[] = [];

/** An API Gateway v2 request to the API function, as the admin or with another `Authorization`. */
const api = (method: string, path: string, body?: unknown, auth = adminAuth, headers: Record<string, string> = {}) =>
  lambdaApi(auth)(method, path, body, '', headers);

/** A `$connect` as API Gateway sends it; the connection opens at the gateway after a 200. */
async function connect(connectionId: string, query: Record<string, string> = {}, auth = adminAuth) {
  const { handler } = await import('./subscribe.js');
  connections.set(connectionId, { open: false, gone: false, refusedUntilOpen: 1, messages: [] });
  const out = await handler({
    requestContext: { routeKey: '$connect', connectionId, domainName: 'ws.example.com' },
    headers: { Authorization: auth, 'Sec-WebSocket-Version': '13' },
    queryStringParameters: { eventNames: 'resource.change', ...query },
  });
  return { status: out.statusCode, body: 'body' in out && out.body ? JSON.parse(out.body) : null };
}

/** Hands the committed changes so far to the stream consumer, as one batch of stream records. */
async function stream() {
  const { handler } = await import('./events.js');
  const batch = changes;
  changes = [];
  await handler({
    Records: batch.map((c) => ({
      dynamodb: {
        Keys: marshall(c.key),
        ...(c.oldImage ? { OldImage: marshall(c.oldImage, { removeUndefinedValues: true }) } : {}),
        ...(c.newImage ? { NewImage: marshall(c.newImage, { removeUndefinedValues: true }) } : {}),
      },
    })),
  });
}

const received = (id: string) => connections.get(id)!.messages.filter((m) => m.name === 'resource.change');

beforeAll(async () => {
  db = await stageTable('drover-ws-test');
  gateway = await listenManagementApi(({ method, connectionId, body }) => {
    const c = connections.get(connectionId);
    if (!c || c.gone) return 'gone';
    if (method === 'DELETE') {
      c.gone = c.closed = true;
      return 'ok';
    }
    if (c.failing) return { status: 400, errorType: 'BadRequestException' };
    // API Gateway opens a connection only once `$connect` has answered: the first posts find it gone.
    if (!c.open && c.refusedUntilOpen-- > 0) return 'gone';
    c.open = true;
    c.messages.push(JSON.parse(body));
    return 'ok';
  });
  stageEnv('drover-ws-test', db, {
    DROVER_ADMIN_ACCESS_KEY: 'WSADMIN',
    DROVER_ADMIN_SECRET_KEY: 'ws-secret',
    DROVER_STREAM_CONSUMER_ORIGIN: 'https://api.example.com',
    DROVER_WEBSOCKET_URL: 'wss://ws.example.com/live',
    DROVER_WEBSOCKET_ENDPOINT: gateway.endpoint,
  });
  // The stage's Drover as the stream consumer's entry point builds it (with its management API client).
  const { stageDrover } = await import('./stage.js');
  const { wiring } = await import('./events.js');
  (await stageDrover(wiring)).store.changes.subscribe((c) => void changes.push(c));
});
afterAll(async () => {
  await gateway.close();
  await db.close();
});
beforeEach(async () => {
  // Each test starts with the stream caught up, so earlier tests' changes are not replayed into it.
  await stream();
  const { stageDrover } = await import('./stage.js');
  for (const c of await (await stageDrover()).streamConnections.all()) await (await stageDrover()).streamConnections.remove(c.connectionId);
  changes = [];
});

describe('functions/subscribe and the stream consumer (the WebSocket API)', () => {
  it('sends a new connection what happened since it connected, then live events, in order and once each', async () => {
    expect(await connect('conn-a=', { resourceType: 'container' })).toEqual({ status: 200, body: null });
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'ws-one' });
    expect(made.status).toBe(201);
    // One batch holds the connection's arrival and the create: the connection is replayed to from the log.
    await stream();
    const first = received('conn-a=');
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((e) => e.resourceType === 'container' && e.resourceId === made.body.id)).toBe(true);
    // Later changes go live.
    expect((await api('POST', `/v1/containers/${made.body.id}?action=stop`, {})).status).toBe(202);
    await stream();
    const all = received('conn-a=');
    expect(all.length).toBeGreaterThan(first.length);
    expect(all.at(-1).data.resource.state).toBe('stopped');
    const versions = all.map((e) => e.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    // Rendered as the API renders it, with links to the API (not the WebSocket API).
    expect(all[0].data.resource.links.self).toBe(`https://api.example.com/v1/containers/${made.body.id}`);
    // The connection opened with a ping, which is how the consumer found it open.
    expect(connections.get('conn-a=')!.messages[0]).toEqual({ name: 'ping' });
  });

  it('resumes after the last event id without missing one a concurrent shard consumer logged late', async () => {
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'ws-resume' });
    await stream();
    const { stageDrover } = await import('./stage.js');
    const drover = await stageDrover();
    const logged = (await drover.events.log.after(made.body.accountId, undefined)).filter((e) => e.resourceId === made.body.id);
    const last = logged.at(-1)!;
    // Another shard's consumer logs an event (another resource's) with an id just before the client's last one,
    // after the client saw that one.
    const late = { ...logged[0], id: `${String(Number(last.id.slice(0, 13)) - 1).padStart(13, '0')}.0042`, resourceId: '1i999999', version: 1 };
    late.resource = { ...late.resource, id: '1i999999' };
    await drover.events.log.append(late);
    expect(await connect('conn-r=', { lastEventId: last.id })).toEqual({ status: 200, body: null });
    expect((await api('POST', `/v1/containers/${made.body.id}?action=stop`, {})).status).toBe(202);
    await stream();
    const got = received('conn-r=');
    const ids = got.map((e) => e.id);
    expect(ids).toContain(late.id);
    expect(ids).not.toContain(last.id);
    expect(got.at(-1).data.resource.state).toBe('stopped');
    // In id order, each once.
    expect(ids).toEqual([...new Set(ids)].sort());
  });

  it("shows a project's connection only its project's events, and refuses bad keys and expired resumes", async () => {
    const p = await api('POST', '/v1/projects', { name: 'ws-team' });
    const k = await api('POST', '/v1/apikeys', { accountId: p.body.id, name: 'ws-team-key' });
    const projectAuth = `Basic ${Buffer.from(`${k.body.publicValue}:${k.body.secretValue}`).toString('base64')}`;
    expect((await connect('conn-p=', {}, projectAuth)).status).toBe(200);
    const theirs = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'theirs' }, projectAuth);
    const mine = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'not-theirs' });
    await stream();
    const got = received('conn-p=');
    expect(got.some((e) => e.resourceId === theirs.body.id)).toBe(true);
    expect(got.some((e) => e.resourceId === mine.body.id)).toBe(false);
    expect(got.every((e) => e.data.resource.accountId === p.body.id)).toBe(true);

    const bad = await connect('conn-bad=', {}, `Basic ${Buffer.from('nobody:nothing').toString('base64')}`);
    expect(bad).toMatchObject({ status: 401, body: { type: 'error', status: 401 } });
    const expired = await connect('conn-old=', { lastEventId: '0000000000001.0000' });
    expect(expired).toMatchObject({ status: 410, body: { code: 'EventsExpired' } });
    const { stageDrover } = await import('./stage.js');
    const kept = (await (await stageDrover()).streamConnections.all()).map((c) => c.connectionId);
    expect(kept).toEqual(['conn-p=']);
  });

  it('forgets connections at $disconnect and when found gone; pings the rest', async () => {
    const { handler, ping } = await import('./subscribe.js');
    for (const id of ['conn-x=', 'conn-y=', 'conn-z=']) expect((await connect(id)).status).toBe(200);
    await stream();
    const { stageDrover } = await import('./stage.js');
    const drover = await stageDrover();
    expect((await drover.streamConnections.all()).every((c) => c.live)).toBe(true);
    // One connecting now: recorded, not yet opened by API Gateway nor served by the consumer. Pings leave it alone.
    expect((await connect('conn-new=')).status).toBe(200);
    await handler({ requestContext: { routeKey: '$disconnect', connectionId: 'conn-x=' } });
    connections.get('conn-y=')!.gone = true; // the client went away without a $disconnect yet
    expect(await ping()).toEqual({ sent: 1, gone: 1 });
    expect((await drover.streamConnections.all()).map((c) => c.connectionId).sort()).toEqual(['conn-new=', 'conn-z=']);
    expect(connections.get('conn-z=')!.messages.at(-1)).toEqual({ name: 'ping' });
    expect(connections.get('conn-new=')!.messages).toEqual([]);
  });

  it('closes a connection it cannot write to, so its client resumes; sends an event too large without its resource', async () => {
    for (const id of ['conn-f=', 'conn-ok=']) expect((await connect(id)).status).toBe(200);
    await stream();
    connections.get('conn-f=')!.failing = true;
    const big = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'big', environment: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`PAD${i}`, 'x'.repeat(4096)])) });
    expect(big.status).toBe(201);
    await stream();
    expect(connections.get('conn-f=')!.closed).toBe(true);
    const { stageDrover } = await import('./stage.js');
    expect((await (await stageDrover()).streamConnections.all()).map((c) => c.connectionId)).toEqual(['conn-ok=']);
    const got = received('conn-ok=').filter((e) => e.resourceId === big.body.id);
    expect(got.length).toBeGreaterThan(0);
    for (const e of got) expect(e).toMatchObject({ resourceOmitted: true, data: {}, resourceType: 'container' });
  });

  it('answers SSE on the HTTP API with where to subscribe instead', async () => {
    const out = await api('GET', '/v1/subscribe', undefined, adminAuth, { accept: 'text/event-stream' });
    expect(out.status).toBe(501);
    expect(out.body.message).toContain('wss://ws.example.com/live?eventNames=resource.change');
  });
});
