/**
 * Requests that once made Drover answer 500 (issue 6, item 3), each as it was found: prototype names as actions,
 * values too large for a DynamoDB item, malformed forwarded headers, control characters in a project id, an
 * over-long command id, and HEAD. Each now gets a clear answer in Rancher's error format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from './helpers/client.js';
import { expectError } from './helpers/errors.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
let a: Client;
beforeAll(async () => {
  t = await startTestStack();
  a = t.admin;
});
afterAll(() => t.close());

const big = (n: number) => 'x'.repeat(n);

describe('names from requests never reach object prototypes', () => {
  it('?action=constructor (and friends) is InvalidAction on every type', async () => {
    const c = (await a.post('/v1/containers', { imageUuid: 'sim:x', instanceLinks: { db: null } })).body;
    const vm = (await a.post('/v1/virtualmachines', { imageUuid: 'sim:x' })).body;
    const token = (await a.post('/v1/registrationtokens', { name: 'x' })).body;
    const key = (await a.post('/v1/apikeys', { accountId: t.stack.defaultProjectId })).body;
    const link = (await a.get(`/v1/containers/${c.id}/instancelinks`)).body.data[0];
    const targets = [
      `/v1/containers/${c.id}`,
      `/v1/instances/${c.id}`,
      `/v1/virtualmachines/${vm.id}`,
      `/v1/instancelinks/${link.id}`,
      `/v1/projects/${t.stack.defaultProjectId}`,
      `/v1/apikeys/${key.id}`,
      `/v1/registrationtokens/${token.id}`,
    ];
    for (const target of targets) {
      for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf']) {
        expectError(await a.post(`${target}/?action=${name}`), 422, 'InvalidAction', 'action');
      }
    }
  });

  it('a prototype name as a map key is refused rather than lost', async () => {
    const r = await a.post('/v1/containers', undefined, { raw: '{"imageUuid": "sim:x", "labels": {"__proto__": "x"}}' });
    expectError(r, 422, 'InvalidFormat', 'labels');
  });
});

describe('values too large to store', () => {
  it('over-long strings are MaxLengthExceeded on the field that holds them', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/containers', { imageUuid: big(300_000) }, 'imageUuid'],
      ['/v1/containers', { imageUuid: 'sim:x', labels: { tier: big(300_000) } }, 'labels'],
      ['/v1/containers', { imageUuid: 'sim:x', command: ['sh', big(300_000)] }, 'command'],
      ['/v1/containers', { imageUuid: 'sim:x', ports: [big(300_000)] }, 'ports'],
      ['/v1/containers', { imageUuid: 'sim:x', healthCheck: { port: 80, name: big(300_000) } }, 'name'],
      ['/v1/containers', { imageUuid: 'sim:x', environment: { [big(300)]: 'v' } }, 'environment'],
      ['/v1/projects', { name: big(300_000) }, 'name'],
    ];
    for (const [path, body, field] of cases) expectError(await a.post(path, body), 422, 'MaxLengthExceeded', field);
  });

  it('too many list or map entries are MaxLengthExceeded', async () => {
    const ports = Array.from({ length: 10_000 }, (_, i) => `${i}:80`);
    expectError(await a.post('/v1/containers', { imageUuid: 'sim:x', ports }), 422, 'MaxLengthExceeded', 'ports');
    const labels = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, 'v']));
    expectError(await a.post('/v1/containers', { imageUuid: 'sim:x', labels }), 422, 'MaxLengthExceeded', 'labels');
  });

  it('setlabels has the limits of labels on create', async () => {
    const c = (await a.post('/v1/containers', { imageUuid: 'sim:x', startOnCreate: false })).body;
    expectError(await a.post(`/v1/containers/${c.id}/?action=setlabels`, { labels: { a: big(300_000) } }), 422, 'MaxLengthExceeded', 'labels');
    expect((await a.get(`/v1/containers/${c.id}`)).body.labels).toEqual({});
  });

  it('a body over 1 MiB is 413; a resource over the item limit as a whole is 413, and nothing is stored', async () => {
    expectError(await a.post('/v1/containers', { imageUuid: 'sim:x', name: 'huge', userdata: big(1_100_000) }), 413, 'Request Entity Too Large');
    // Every field within its limits, yet too much together (about 400 KB).
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, big(4_000)]));
    const r = await a.post('/v1/containers', { imageUuid: 'sim:x', name: 'too-much', labels });
    expectError(r, 413, 'Request Entity Too Large');
    expect(r.body.message).toMatch(/at most 350 KB/);
    expect((await a.get('/v1/containers?name=too-much')).body.data).toEqual([]);
  });
});

describe('headers and ids from the request', () => {
  it('malformed X-Forwarded-Host / -Proto / -Port are ignored: links use the request URL', async () => {
    const bad: Record<string, string>[] = [{ 'X-Forwarded-Host': 'exa mple.com' }, { 'X-Forwarded-Proto': '1x' }, { 'X-Forwarded-Port': 'abc' }];
    for (const headers of bad) {
      const r = await a.get('/v1/containers', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(200);
      expect(r.body.links.self).toBe(`${t.stack.url}/v1/containers`);
    }
    const ok = await a.get('/v1/containers', { headers: { 'X-Forwarded-Host': 'api.example.com', 'X-Forwarded-Proto': 'https' } });
    expect(ok.body.links.self).toBe('https://api.example.com/v1/containers');
  });

  it('a project id with control or non-ASCII characters is 400 InvalidFormat', async () => {
    for (const id of ['%00', '%0d%0a', '%E2%98%83', encodeURIComponent(big(2000))]) {
      expectError(await a.get(`/v1/projects/${id}/containers`), 400, 'InvalidFormat');
    }
    expectError(await a.get('/v1/containers', { headers: { 'X-API-Project-Id': 'x'.repeat(5000) } }), 400, 'InvalidFormat');
  });

  it('an over-long or malformed command id is 404 for an agent', async () => {
    const token = (await a.post('/v1/registrationtokens', { name: 'fuzz' })).body.token;
    const reg = await new Client(t.stack.url).post('/agent/register', { token, uuid: 'hostile-host', hostname: 'h', vcpu: 1, memoryMb: 512 });
    expect(reg.status).toBe(201);
    const agent = new Client(t.stack.url, reg.body.accessKey, reg.body.secretKey);
    for (const id of [big(1100), '..', 'ABC', '%00']) {
      for (const verb of ['ack', 'progress', 'complete']) {
        const r = await agent.post(`/agent/commands/${id}/${verb}`, {});
        expect([r.status, r.body.type], `${verb} ${id.slice(0, 10)}`).toEqual([404, 'error']);
      }
    }
  });

  it("an agent's labels, error and result are bounded too", async () => {
    const token = (await a.post('/v1/registrationtokens', { name: 'bounded' })).body.token;
    const anon = new Client(t.stack.url);
    const register = (labels: unknown) => anon.post('/agent/register', { token, uuid: 'bounded-host', hostname: 'h', vcpu: 1, memoryMb: 512, labels });
    for (const labels of [{ zone: big(300_000) }, Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v']))]) {
      expectError(await register(labels), 422, 'MaxLengthExceeded', 'labels');
    }
    const reg = await register({ zone: 'a' });
    expect(reg.status).toBe(201);
    const agent = new Client(t.stack.url, reg.body.accessKey, reg.body.secretKey);
    const c = (await a.post('/v1/containers', { imageUuid: 'sim:x', startOnCreate: false })).body;
    const cmd = await t.stack.outbox.enqueue({
      hostId: reg.body.hostId, name: 'compute.instance.activate', action: 'start', resourceId: c.id, actionId: 'a1',
      data: {}, token: 'tok', heartbeatSeconds: 60, timeoutSeconds: 600,
    });
    expectError(await agent.post(`/agent/commands/${cmd.id}/complete`, { error: big(300_000) }), 422, 'MaxLengthExceeded', 'error');
    expectError(await agent.post(`/agent/commands/${cmd.id}/complete`, { result: { fields: { externalId: big(300_000) } } }), 422, 'MaxLengthExceeded', 'result');
    const done = await agent.post(`/agent/commands/${cmd.id}/complete`, { result: { fields: { externalId: 'abc' } } });
    expect([done.status, done.body.duplicate]).toEqual([200, false]);
  });

  it('an over-long access key is 401, not a store error', async () => {
    const r = await new Client(t.stack.url, big(5000), 'secret').get('/v1/containers');
    expectError(r, 401, 'Unauthorized');
  });

  it('HEAD answers like GET, without a body', async () => {
    const c = (await a.post('/v1/containers', { imageUuid: 'sim:x' })).body;
    for (const path of ['/v1', '/v1/containers', `/v1/containers/${c.id}`, '/v1/schemas', '/v1/containers/1i999999999']) {
      const get = await a.get(path);
      const head = await a.request('HEAD', path);
      expect([head.status, head.body], path).toEqual([get.status, null]);
      expect(head.headers.get('content-type'), path).toBe(get.headers.get('content-type'));
    }
  });
});
