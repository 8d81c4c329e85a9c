/**
 * Webhooks out, over real HTTP: a local receiver (node:http on port 0) gets signed `resource.change` bodies that
 * verify with the README's snippet; failures are retried with backoff until the receiver answers 2xx; a delivery can
 * be redelivered by hand; a receiver that keeps failing gets its webhook disabled; filters pick events by type,
 * state and labels; a project sees only its own webhooks and deliveries; a pending delivery survives a restart.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until as untilWithin } from './helpers/wait.js';
import type { Client } from './helpers/client.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

/** A webhook receiver: records every request and answers with what `answer` says (200 unless told). */
interface Receiver {
  url: string;
  received: Received[];
  answer: (n: number) => number;
  close(): Promise<void>;
}

async function startReceiver(answer: (n: number) => number = () => 200, port = 0): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], answer, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      r.received.push({ headers: req.headers, body, json: JSON.parse(body) });
      res.writeHead(r.answer(r.received.length), { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return r;
}

/** The verification snippet of the README, as a receiver would write it. */
function verify(secret: string, header: string, body: string): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((kv) => kv.split('='))) as { t: string; v1: string };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const fresh = Math.abs(Date.now() / 1000 - Number(t)) < 300;
  return fresh && expected.length === v1.length && timingSafeEqual(Buffer.from(expected), Buffer.from(v1));
}

/** Waits on a condition, with room for a busy machine (the whole suite runs in parallel). */
const until = <T>(fn: () => Promise<T | undefined | false> | T | undefined | false) => untilWithin(fn, 20_000);

const FAST = {
  DROVER_WEBHOOK_RETRY_BASE_MS: '20',
  DROVER_WEBHOOK_RETRY_CAP_MS: '80',
  DROVER_WEBHOOK_POLL_MS: '20',
  DROVER_WEBHOOK_MAX_ATTEMPTS: '4',
};

let t: TestStack;
let a: { client: Client; projectId: string };
let b: { client: Client; projectId: string };
const receivers: Receiver[] = [];
const receiver = async (answer?: (n: number) => number) => {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
};

beforeAll(async () => {
  t = await startTestStack({ env: FAST });
  a = await projectClient(t.admin, 'hooks-a');
  b = await projectClient(t.admin, 'hooks-b');
}, 60_000);
afterAll(async () => {
  await t.close();
  await Promise.all(receivers.map((r) => r.close()));
});

/** The deliveries of a webhook, as its project sees them. */
const deliveriesOf = async (client: Client, webhookId: string, query = '') =>
  (await client.get(`/v1/webhookdeliveries?webhookId=${webhookId}${query}`)).body.data as any[];

describe('webhooks', () => {
  it('signs each body so the documented snippet verifies it, shows the secret only on create, and records the delivery', async () => {
    const r = await receiver();
    const secret = 'a-shared-secret-of-some-length';
    const hook = await a.client.post('/v1/webhooks', { name: 'sig', url: r.url, secret, eventFilter: { resourceTypes: ['container'] } });
    expect(hook.status).toBe(201);
    expect(hook.body).toMatchObject({ type: 'webhook', enabled: true, secret, url: r.url });
    const shown = (await until(async () => {
      const w = (await a.client.get(`/v1/webhooks/${hook.body.id}`)).body;
      return w.state === 'active' && w;
    })) as any;
    expect(shown.secret).toBeNull();
    expect(JSON.stringify((await a.client.get(`/v1/webhooks/${hook.body.id}`)).body)).not.toContain(secret);

    const c = await a.client.post('/v1/containers', { imageUuid: 'sim:hook', name: 'signed' });
    const got = await until(() => r.received.find((x) => x.json.data.resource.id === c.body.id && x.json.data.resource.state === 'running'));
    expect(got.headers['content-type']).toBe('application/json');
    expect(verify(secret, String(got.headers['x-drover-signature']), got.body)).toBe(true);
    expect(verify('another-secret-entirely', String(got.headers['x-drover-signature']), got.body)).toBe(false);
    expect(got.headers['x-drover-event-id']).toBe(got.json.id);
    expect(got.json).toMatchObject({ name: 'resource.change', resourceType: 'container', resourceId: c.body.id });
    expect(got.json.data.resource.links.self).toContain(`/v1/containers/${c.body.id}`);

    const ds = await until(async () => {
      const list = await deliveriesOf(a.client, hook.body.id, `&eventId=${got.json.id}`);
      return list.length === 1 && list[0].status === 'delivered' && list;
    });
    expect(ds[0]).toMatchObject({ type: 'webhookDelivery', webhookId: hook.body.id, attempts: 1, responseCode: 200, resourceId: c.body.id });
    expect(typeof ds[0].latencyMs).toBe('number');
    expect(ds[0].body).toBe(got.body);
  });

  it('refuses a URL that is not http(s) and a webhook without one', async () => {
    expect((await a.client.post('/v1/webhooks', { url: 'ftp://example.com/x' })).body).toMatchObject({ status: 422, code: 'InvalidFormat', fieldName: 'url' });
    expect((await a.client.post('/v1/webhooks', { name: 'no url' })).body).toMatchObject({ status: 422, code: 'MissingRequired', fieldName: 'url' });
  });

  it('retries a receiver that fails, with backoff, until it answers 2xx', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 204));
    const hook = await a.client.post('/v1/webhooks', { url: r.url, eventFilter: { resourceTypes: ['container'], states: ['running'] } });
    const c = await a.client.post('/v1/containers', { imageUuid: 'sim:hook', name: 'retried' });
    const [d] = await until(async () => {
      const list = await deliveriesOf(a.client, hook.body.id, '&status=delivered');
      return list.length === 1 && list;
    });
    expect(d).toMatchObject({ attempts: 3, responseCode: 204, resourceId: c.body.id, lastError: null });
    expect(r.received.length).toBe(3);
    expect(new Set(r.received.map((x) => x.headers['x-drover-event-id'])).size).toBe(1);
    // Each attempt is signed afresh over the same body.
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
  });

  it('redelivers a delivery by hand', async () => {
    const r = await receiver();
    const hook = await a.client.post('/v1/webhooks', { url: r.url, eventFilter: { resourceTypes: ['container'], states: ['running'] } });
    await a.client.post('/v1/containers', { imageUuid: 'sim:hook', name: 'again' });
    const [d] = await until(async () => {
      const list = await deliveriesOf(a.client, hook.body.id, '&status=delivered');
      return list.length === 1 && list;
    });
    expect(d.actions.redeliver).toBeTruthy();
    const again = await a.client.post(`/v1/webhookdeliveries/${d.id}?action=redeliver`, {});
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: d.id, status: 'pending', attempts: 0 });
    await until(() => r.received.length === 2);
    expect(r.received[1].headers['x-drover-event-id']).toBe(r.received[0].headers['x-drover-event-id']);
    await until(async () => (await a.client.get(`/v1/webhookdeliveries/${d.id}`)).body.status === 'delivered');
  });

  it('disables a webhook whose delivery fails every attempt, and says so in an event', async () => {
    const dead = await receiver(() => 503);
    const watcher = await receiver();
    await a.client.post('/v1/webhooks', { name: 'watcher', url: watcher.url, eventFilter: { resourceTypes: ['webhook'] } });
    const hook = await a.client.post('/v1/webhooks', { name: 'dead', url: dead.url, eventFilter: { resourceTypes: ['container'], states: ['running'] } });
    await a.client.post('/v1/containers', { imageUuid: 'sim:hook', name: 'unheard' });
    const off = await until(async () => {
      const w = (await a.client.get(`/v1/webhooks/${hook.body.id}`)).body;
      return w.enabled === false && w;
    });
    expect(off.disabledReason).toMatch(/4 failed attempts in a row.*503/);
    const [d] = await deliveriesOf(a.client, hook.body.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 4, responseCode: 503, nextAttemptAt: null });
    expect(dead.received.length).toBe(4);
    // The change is an event: the watcher hears that the webhook was turned off.
    await until(() => watcher.received.some((x) => x.json.resourceId === hook.body.id && x.json.data.resource.enabled === false));
    // Disabled: new events make no deliveries. Enabled again: the reason goes.
    await a.client.post('/v1/containers', { imageUuid: 'sim:hook', name: 'unsent' });
    await t.stack.drover.events.settled();
    await t.stack.drover.webhooks.settled();
    expect(await deliveriesOf(a.client, hook.body.id)).toHaveLength(1);
    const on = await a.client.put(`/v1/webhooks/${hook.body.id}`, { enabled: true });
    expect(on.body).toMatchObject({ enabled: true, disabledReason: null });
  });

  it('filters by resource type, state and labels', async () => {
    const r = await receiver();
    const hook = await a.client.post('/v1/webhooks', {
      url: r.url,
      eventFilter: { resourceTypes: ['virtualMachine'], states: ['running'], labels: { tier: 'web' } },
    });
    const web = await a.client.post('/v1/virtualmachines', { imageUuid: 'sim:vm', name: 'web', labels: { tier: 'web', x: '1' } });
    await a.client.post('/v1/virtualmachines', { imageUuid: 'sim:vm', name: 'db', labels: { tier: 'db' } });
    await a.client.post('/v1/containers', { imageUuid: 'sim:c', name: 'c', labels: { tier: 'web' } });
    await until(() => r.received.length >= 1);
    await t.stack.drover.events.settled();
    await t.stack.drover.webhooks.settled();
    expect(r.received.map((x) => [x.json.resourceId, x.json.data.resource.state])).toEqual([[web.body.id, 'running']]);
    expect(await deliveriesOf(a.client, hook.body.id)).toHaveLength(1);
  });

  it('keeps projects apart: a project sees only its webhooks and deliveries, and hears only its events', async () => {
    const ra = await receiver();
    const rb = await receiver();
    const ha = await a.client.post('/v1/webhooks', { url: ra.url, eventFilter: { resourceTypes: ['container'] } });
    const hb = await b.client.post('/v1/webhooks', { url: rb.url, eventFilter: { resourceTypes: ['container'] } });
    const cb = await b.client.post('/v1/containers', { imageUuid: 'sim:b', name: 'only-b' });
    await until(() => rb.received.some((x) => x.json.resourceId === cb.body.id));
    await t.stack.drover.events.settled();
    await t.stack.drover.webhooks.settled();
    expect(ra.received).toHaveLength(0);

    expect((await b.client.get('/v1/webhooks')).body.data.map((w: any) => w.id)).toEqual([hb.body.id]);
    expect((await b.client.get(`/v1/webhooks/${ha.body.id}`)).status).toBe(404);
    const bDeliveries = (await b.client.get('/v1/webhookdeliveries')).body.data as any[];
    expect(bDeliveries.length).toBeGreaterThan(0);
    expect(bDeliveries.every((d) => d.webhookId === hb.body.id)).toBe(true);
    expect((await b.client.get(`/v1/webhookdeliveries?webhookId=${ha.body.id}`)).body.data).toHaveLength(0);
    const [theirs] = await deliveriesOf(b.client, hb.body.id);
    expect((await a.client.get(`/v1/webhookdeliveries/${theirs.id}`)).status).toBe(404);
    expect((await a.client.post(`/v1/webhookdeliveries/${theirs.id}?action=redeliver`, {})).status).toBe(404);
    // The admin sees both, and the webhook links to its deliveries.
    const all = (await t.admin.get('/v1/webhooks?limit=1000')).body.data.map((w: any) => w.id);
    expect(all).toEqual(expect.arrayContaining([ha.body.id, hb.body.id]));
    const linked = (await b.client.get(`/v1/webhooks/${hb.body.id}/deliveries`)).body.data as any[];
    expect(linked.map((d) => d.id)).toContain(theirs.id);
  });

  it('DELETE removes a webhook: it gets nothing more', async () => {
    const r = await receiver();
    const hook = await a.client.post('/v1/webhooks', { url: r.url, eventFilter: { resourceTypes: ['container'] } });
    const gone = await a.client.del(`/v1/webhooks/${hook.body.id}`);
    expect(gone.status).toBe(200);
    expect((await a.client.get(`/v1/webhooks/${hook.body.id}`)).body.state).toBe('removed');
    await a.client.post('/v1/containers', { imageUuid: 'sim:c', name: 'after-delete' });
    await t.stack.drover.events.settled();
    await t.stack.drover.webhooks.settled();
    expect(r.received).toHaveLength(0);
  });
});

describe('webhook deliveries across a restart', () => {
  it('delivers after a restart what a failing receiver had not taken before it', async () => {
    const env = { ...FAST, DROVER_WEBHOOK_MAX_ATTEMPTS: '1000', DROVER_WEBHOOK_RETRY_CAP_MS: '200' };
    let down = true;
    const r = await receiver(() => (down ? 500 : 200));
    const first = await startTestStack({ inMemory: false, keepData: true, env });
    let dataDir = first.dataDir;
    try {
      const hook = await first.admin.post('/v1/webhooks', { url: r.url, eventFilter: { resourceTypes: ['container'], states: ['running'] } });
      const c = await first.admin.post('/v1/containers', { imageUuid: 'sim:durable', name: 'durable' });
      await until(async () => (await deliveriesOf(first.admin, hook.body.id, '&status=retrying')).length === 1);
      await first.close();
      down = false;
      const before = r.received.length;
      const second = await startTestStack({ inMemory: false, keepData: true, dataDir, env });
      dataDir = second.dataDir;
      try {
        const [d] = await until(async () => {
          const list = await deliveriesOf(second.admin, hook.body.id, '&status=delivered');
          return list.length === 1 && list;
        });
        expect(d.resourceId).toBe(c.body.id);
        expect(d.attempts).toBeGreaterThan(1);
        expect(r.received.length).toBeGreaterThan(before);
        expect(r.received.at(-1)!.json.resourceId).toBe(c.body.id);
      } finally {
        await second.close();
      }
    } finally {
      const { rmSync } = await import('node:fs');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
