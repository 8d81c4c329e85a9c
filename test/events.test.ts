/**
 * `resource.change` events and the live stream (`GET /v1/subscribe`, Server-Sent Events): one event per committed
 * change, in order per resource, filtered to the caller's project, with pings, and resume after a disconnect (and
 * across a restart of the local stack) that loses nothing and repeats nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until } from './helpers/wait.js';
import type { Client } from './helpers/client.js';
import WebSocket from 'ws';

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** An open SSE subscription: what arrived so far, and how to close it. */
interface Subscription {
  events: SseEvent[];
  close(): void;
}

/** Opens `/v1/subscribe` as a client would, reading frames as they arrive. */
async function subscribeAs(client: Client, query = 'eventNames=resource.change', headers: Record<string, string> = {}): Promise<Subscription> {
  const ctl = new AbortController();
  const auth = `Basic ${Buffer.from(`${client.accessKey}:${client.secretKey}`).toString('base64')}`;
  const res = await fetch(`${client.baseUrl}/v1/subscribe?${query}`, {
    headers: { authorization: auth, accept: 'text/event-stream', ...client.defaultHeaders, ...headers },
    signal: ctl.signal,
  });
  if (res.status !== 200) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { event: 'message', data: null };
          for (const line of frame.split('\n')) {
            const [k, ...rest] = line.split(':');
            const v = rest.join(':').replace(/^ /, '');
            if (k === 'id') e.id = v;
            else if (k === 'event') e.event = v;
            else if (k === 'data') e.data = JSON.parse(v);
          }
          events.push(e);
        }
      }
    } catch {
      /* closed */
    }
  })();
  return { events, close: () => ctl.abort() };
}

const changes = (s: Subscription) => s.events.filter((e) => e.event === 'resource.change');

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '1', DROVER_EVENT_PING_SECONDS: '1' }, simWorkMs: 5 });
}, 60_000);
afterAll(() => t.close());

describe('resource.change events', () => {
  it("streams a container's life in version order, each event with its previous state, action and rendered resource", async () => {
    const sub = await subscribeAs(t.admin, 'eventNames=resource.change&resourceType=container');
    const made = await t.admin.post('/v1/containers', { imageUuid: 'sim:ev', name: 'ev1' });
    await until(async () => changes(sub).some((e) => e.data.resourceId === made.body.id && e.data.data.resource.state === 'running'), 10_000);
    await t.admin.post(`/v1/containers/${made.body.id}?action=stop`, {});
    await until(async () => changes(sub).some((e) => e.data.resourceId === made.body.id && e.data.data.resource.state === 'stopped'), 10_000);
    sub.close();
    const mine = changes(sub).filter((e) => e.data.resourceId === made.body.id);
    const versions = mine.map((e) => e.data.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    // Consecutive: every committed change of the container made exactly one event.
    expect(versions).toEqual(versions.map((_, i) => versions[0] + i));
    expect(mine[0].data).toMatchObject({ name: 'resource.change', resourceType: 'container', previousState: null });
    expect(mine[0].data.data.resource).toMatchObject({ id: made.body.id, type: 'container', links: expect.any(Object) });
    const stopping = mine.find((e) => e.data.data.resource.state === 'stopping')!;
    expect(stopping.data).toMatchObject({ previousState: 'running', actionId: expect.any(String) });
    expect(mine.every((e) => e.id === e.data.id)).toBe(true);
    expect(mine.map((e) => e.id)).toEqual([...mine.map((e) => e.id)].sort());
  });

  it('pings a quiet stream', async () => {
    const sub = await subscribeAs(t.admin, 'eventNames=resource.change&resourceId=1i999999');
    await until(async () => sub.events.some((e) => e.event === 'ping'), 5000);
    sub.close();
  });

  it("shows a project key only its project's events, and not the types it cannot see", async () => {
    const { client, projectId } = await projectClient(t.admin, 'ev-team');
    const sub = await subscribeAs(client);
    const mine = await client.post('/v1/containers', { imageUuid: 'sim:x', startOnCreate: false });
    const theirs = await t.admin.post('/v1/containers', { imageUuid: 'sim:x', startOnCreate: false });
    await until(async () => changes(sub).some((e) => e.data.resourceId === mine.body.id && e.data.data.resource.state === 'stopped'), 10_000);
    // The admin's container was made before the project's last change was streamed; it never shows.
    await until(async () => changes(sub).length > 0, 1000);
    sub.close();
    expect(changes(sub).map((e) => e.data.resourceId)).not.toContain(theirs.body.id);
    expect(changes(sub).every((e) => e.data.data.resource.accountId === projectId)).toBe(true);
    expect(changes(sub).some((e) => e.data.resourceType === 'apiKey' || e.data.resourceType === 'project')).toBe(false);
  });

  it('resumes after a disconnect with everything missed, in order, then live, without a gap or a duplicate', async () => {
    const first = await subscribeAs(t.admin, 'eventNames=resource.change&resourceType=container');
    const a = await t.admin.post('/v1/containers', { imageUuid: 'sim:r', name: 'r1', startOnCreate: false });
    await until(async () => changes(first).some((e) => e.data.resourceId === a.body.id), 10_000);
    first.close();
    const lastSeen = changes(first).at(-1)!.id!;
    // Missed while away.
    const b = await t.admin.post('/v1/containers', { imageUuid: 'sim:r', name: 'r2', startOnCreate: false });
    await t.admin.put(`/v1/containers/${b.body.id}`, { description: 'changed while away' });
    const again = await subscribeAs(t.admin, 'eventNames=resource.change&resourceType=container', { 'Last-Event-ID': lastSeen });
    const c = await t.admin.post('/v1/containers', { imageUuid: 'sim:r', name: 'r3', startOnCreate: false });
    await until(async () => changes(again).some((e) => e.data.resourceId === c.body.id && e.data.data.resource.state === 'stopped'), 10_000);
    again.close();
    const ids = changes(again).map((e) => e.id!);
    expect(ids.every((id) => id > lastSeen)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    // Every change of the container made while away, from its create (version 0) on.
    const seenB = changes(again).filter((e) => e.data.resourceId === b.body.id).map((e) => e.data.version);
    expect(seenB).toEqual(seenB.map((_, i) => i));
    expect(seenB.length).toBeGreaterThanOrEqual(3);
    expect(changes(again).some((e) => e.data.data.resource.description === 'changed while away')).toBe(true);
  });

  it('refuses an expired or malformed resume id, other event names, and a client that asks for no stream', async () => {
    const refused = await t.admin.get('/v1/subscribe?eventNames=resource.change&lastEventId=0000000000001.0000', { headers: { accept: 'text/event-stream' } });
    expect([refused.status, refused.body.code]).toEqual([410, 'EventsExpired']);
    expect(refused.body.message).toMatch(/list the resources again/);
    expect((await t.admin.get('/v1/subscribe?lastEventId=nope', { headers: { accept: 'text/event-stream' } })).status).toBe(400);
    expect((await t.admin.get('/v1/subscribe?eventNames=ping', { headers: { accept: 'text/event-stream' } })).status).toBe(422);
    expect((await t.admin.get('/v1/subscribe')).status).toBe(400);
  });
});

describe('over WebSocket, as Rancher v1 served it', () => {
  it('streams the same events as JSON messages, pings, and resumes from lastEventId', async () => {
    const url = `${t.stack.url.replace(/^http/, 'ws')}/v1/subscribe?eventNames=resource.change&resourceType=container`;
    const auth = { authorization: `Basic ${Buffer.from(`${t.admin.accessKey}:${t.admin.secretKey}`).toString('base64')}` };
    const open = (query = '') =>
      new Promise<{ messages: any[]; ws: WebSocket }>((resolve, reject) => {
        const ws = new WebSocket(url + query, { headers: auth });
        const messages: any[] = [];
        ws.on('message', (m) => messages.push(JSON.parse(String(m))));
        ws.on('open', () => resolve({ messages, ws }));
        ws.on('error', reject);
      });
    const first = await open();
    const made = await t.admin.post('/v1/containers', { imageUuid: 'sim:ws', startOnCreate: false });
    await until(async () => first.messages.some((m) => m.resourceId === made.body.id && m.data.resource.state === 'stopped'), 10_000);
    await until(async () => first.messages.some((m) => m.name === 'ping'), 5000);
    first.ws.close();
    const last = first.messages.filter((m) => m.name === 'resource.change').at(-1).id;
    await t.admin.put(`/v1/containers/${made.body.id}`, { description: 'while the socket was closed' });
    const again = await open(`&lastEventId=${last}`);
    await until(async () => again.messages.some((m) => m.data?.resource?.description === 'while the socket was closed'), 10_000);
    again.ws.close();
    const ids = again.messages.filter((m) => m.name === 'resource.change').map((m) => m.id);
    expect(ids.every((id: string) => id > last)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a WebSocket without credentials', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${t.stack.url.replace(/^http/, 'ws')}/v1/subscribe`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
  });
});

describe('across a restart of the local stack', () => {
  it('a subscriber resumes from the event log and loses nothing it is entitled to see', async () => {
    const s1 = await startTestStack({ inMemory: false, keepData: true });
    const sub = await subscribeAs(s1.admin);
    const made = await s1.admin.post('/v1/containers', { imageUuid: 'sim:p', startOnCreate: false });
    await until(async () => changes(sub).some((e) => e.data.resourceId === made.body.id), 10_000);
    sub.close();
    const last = changes(sub).at(-1)!.id!;
    await s1.admin.put(`/v1/containers/${made.body.id}`, { description: 'before the stop' });
    await s1.close();
    const s2 = await startTestStack({ inMemory: false, dataDir: s1.dataDir });
    try {
      const back = await subscribeAs(s2.admin, '', { 'Last-Event-ID': last });
      await until(async () => changes(back).some((e) => e.data.data.resource.description === 'before the stop'), 10_000);
      back.close();
    } finally {
      await s2.close();
    }
  }, 60_000);
});

describe('a new subscription', () => {
  it('pings as soon as it is live, not only after the ping interval', async () => {
    const quiet = await startTestStack({ env: { DROVER_EVENT_PING_SECONDS: '3600' } });
    try {
      const sub = await subscribeAs(quiet.admin);
      try {
        await until(() => sub.events.some((e) => e.event === 'ping'), 5000);
        expect(sub.events[0]).toMatchObject({ event: 'ping', data: { name: 'ping' } });
      } finally {
        sub.close();
      }
    } finally {
      await quiet.close();
    }
  });
});
