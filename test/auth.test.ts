/**
 * Authentication and project isolation over HTTP (spec §1.3, §1.2 headers, D9): Basic auth with API keys, the
 * admin key, project keys bound to one environment, environment selection by header, query or URL prefix.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger, NextRun } from '../core/domain/ledger.js';
import type { Runs } from '../core/domain/runs.js';
import { Client, type Reply } from './helpers/client.js';
import { expectError } from './helpers/errors.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
let a: Client;
/** Two projects with one key each, and a container in each. */
let p1: { client: Client; projectId: string; keyId: string };
let p2: { client: Client; projectId: string; keyId: string };
let c1: any;
let c2: any;

beforeAll(async () => {
  t = await startTestStack();
  a = t.admin;
  p1 = await projectClient(a, 'team-one');
  p2 = await projectClient(a, 'team-two');
  const r1 = await p1.client.post('/v1/containers', { imageUuid: 'sim:one', name: 'one' });
  const r2 = await p2.client.post('/v1/containers', { imageUuid: 'sim:two', name: 'two' });
  expect(r1.status).toBe(201);
  expect(r2.status).toBe(201);
  c1 = r1.body;
  c2 = r2.body;
});
afterAll(() => t.close());

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('authentication', () => {
  it('no Authorization: 401 error resource with a Basic challenge', async () => {
    const anon = new Client(t.stack.url);
    for (const path of ['/v1', '/v1/containers', `/v1/containers/${c1.id}`, '/v1/schemas', '/v1/projects']) {
      const r = await anon.get(path);
      expectError(r, 401, 'Unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/);
      expect(r.body.links).toEqual({});
      expect(r.body.actions).toEqual({});
    }
    const post = await anon.post('/v1/containers', { imageUuid: 'sim:anon' });
    expectError(post, 401, 'Unauthorized');
  });

  it('X-API-No-Challenge: true suppresses the WWW-Authenticate header', async () => {
    const r = await new Client(t.stack.url).get('/v1/containers', { headers: { 'X-API-No-Challenge': 'true' } });
    expectError(r, 401, 'Unauthorized');
    expect(r.headers.get('www-authenticate')).toBeNull();
  });

  it('the versions root stays public', async () => {
    const r = await new Client(t.stack.url).get('/');
    expect(r.status).toBe(200);
    expect(r.body.resourceType).toBe('apiVersion');
  });

  it('wrong secret, unknown key, malformed headers: 401', async () => {
    const wrong = new Client(t.stack.url, t.stack.admin.accessKey, 'not-the-secret');
    expectError(await wrong.get('/v1/containers'), 401, 'Unauthorized');
    const unknown = new Client(t.stack.url, 'NOSUCHKEY0000000000', 'whatever');
    expectError(await unknown.get('/v1/containers'), 401, 'Unauthorized');
    const anon = new Client(t.stack.url);
    for (const authorization of [
      'Bearer abc',
      'Basic',
      'Basic !!!notbase64',
      basic('', t.stack.admin.secretKey),
      `Basic ${Buffer.from(t.stack.admin.accessKey).toString('base64')}`,
      basic(t.stack.admin.accessKey, ''),
      // A project key's public value with the admin's secret.
      basic(p1.client.accessKey!, t.stack.admin.secretKey),
    ]) {
      expectError(await anon.get('/v1/containers', { headers: { authorization } }), 401, 'Unauthorized');
    }
    // None:None (gdapi-python without keys) is refused: access control is on.
    expectError(await anon.get('/v1', { headers: { authorization: basic('None', 'None') } }), 401, 'Unauthorized');
  });

  it('the admin key works, with a lower-case scheme too', async () => {
    expect((await a.get('/v1/containers')).status).toBe(200);
    const r = await new Client(t.stack.url).get('/v1/containers', {
      headers: { authorization: `basic ${Buffer.from(`${t.stack.admin.accessKey}:${t.stack.admin.secretKey}`).toString('base64')}` },
    });
    expect(r.status).toBe(200);
  });

  it('a wrong secret for a cached key is still refused', async () => {
    expect((await p1.client.get('/v1/containers')).status).toBe(200);
    const wrong = new Client(t.stack.url, p1.client.accessKey, `${p1.client.secretKey}x`);
    expectError(await wrong.get('/v1/containers'), 401, 'Unauthorized');
  });
});

describe('API keys', () => {
  it('create returns publicValue and secretValue once; later reads show secretValue null', async () => {
    const r = await a.post('/v1/apikeys', { accountId: p1.projectId, name: 'k', description: 'for CI' });
    expect(r.status).toBe(201);
    expect(r.body.type).toBe('apiKey');
    expect(r.body.accountId).toBe(p1.projectId);
    expect(r.body.publicValue).toMatch(/^[A-F0-9]{20}$/);
    expect(r.body.secretValue).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(r.body.secretHash).toBeUndefined();
    const got = await a.get(`/v1/apikeys/${r.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.publicValue).toBe(r.body.publicValue);
    expect(got.body.secretValue).toBeNull();
    expect(got.body.secretHash).toBeUndefined();
    expect(got.body.state).toBe('active');
    const list = await a.get('/v1/apikeys?limit=1000');
    const item = list.body.data.find((k: any) => k.id === r.body.id);
    expect(item.secretValue).toBeNull();
    expect(JSON.stringify(list.body)).not.toContain(r.body.secretValue);
    // The key authenticates into its project.
    const k = new Client(t.stack.url, r.body.publicValue, r.body.secretValue);
    const mine = await k.get(`/v1/containers/${c1.id}`);
    expect(mine.status).toBe(200);
  });

  it('apiKey requires a project', async () => {
    const r = await a.post('/v1/apikeys', { name: 'orphan' });
    expect(r.status).toBe(422);
    expect(r.body.fieldName).toBe('accountId');
  });

  it('admin + X-API-Project-Id creates the key in that project', async () => {
    const r = await a.post('/v1/apikeys', { name: 'scoped' }, { headers: { 'X-API-Project-Id': p2.projectId } });
    expect(r.status).toBe(201);
    expect(r.body.accountId).toBe(p2.projectId);
    const k = new Client(t.stack.url, r.body.publicValue, r.body.secretValue);
    expect((await k.get(`/v1/containers/${c2.id}`)).status).toBe(200);
    expect((await k.get(`/v1/containers/${c1.id}`)).status).toBe(404);
  });

  it('deactivating a key stops it at once; activating it restores it', async () => {
    const { client, keyId } = await projectClient(a, 'deact');
    expect((await client.get('/v1/containers')).status).toBe(200);
    const d = await a.post(`/v1/apikeys/${keyId}/?action=deactivate`, {});
    expect(d.status).toBe(202);
    expect(d.body.state).toBe('deactivating');
    expect((await a.get(`/v1/apikeys/${keyId}`)).body.state).toBe('inactive');
    expectError(await client.get('/v1/containers'), 401, 'Unauthorized');
    const act = await a.post(`/v1/apikeys/${keyId}/?action=activate`, {});
    expect(act.status).toBe(202);
    expect((await client.get('/v1/containers')).status).toBe(200);
  });

  it('deleting a key stops it at once', async () => {
    const { client, keyId } = await projectClient(a, 'del');
    expect((await client.get('/v1/containers')).status).toBe(200);
    const d = await a.del(`/v1/apikeys/${keyId}`);
    expect(d.status).toBe(200);
    expect(d.body.state).toBe('removing');
    expect((await a.get(`/v1/apikeys/${keyId}`)).body.state).toBe('removed');
    expectError(await client.get('/v1/containers'), 401, 'Unauthorized');
    expectError(await client.get('/v1'), 401, 'Unauthorized');
  });

  it('deactivating or deleting a project stops its keys', async () => {
    const x = await projectClient(a, 'proj-deact');
    expect((await x.client.get('/v1/containers')).status).toBe(200);
    expect((await a.post(`/v1/projects/${x.projectId}/?action=deactivate`, {})).status).toBe(202);
    expectError(await x.client.get('/v1/containers'), 401, 'Unauthorized');
    // The admin cannot select an inactive project either.
    expectError(await a.get('/v1/containers', { headers: { 'X-API-Project-Id': x.projectId } }), 403, 'Forbidden');
    expect((await a.post(`/v1/projects/${x.projectId}/?action=activate`, {})).status).toBe(202);
    expect((await x.client.get('/v1/containers')).status).toBe(200);

    const y = await projectClient(a, 'proj-del');
    expect((await y.client.get('/v1/containers')).status).toBe(200);
    expect((await a.del(`/v1/projects/${y.projectId}`)).status).toBe(200);
    expectError(await y.client.get('/v1/containers'), 401, 'Unauthorized');
  });

  it('a project key cannot create projects or keys', async () => {
    expectError(await p1.client.post('/v1/projects', { name: 'nope' }), 404, 'Not Found');
    expectError(await p1.client.post('/v1/apikeys', { accountId: p1.projectId }), 404, 'Not Found');
  });
});

describe('project isolation', () => {
  it('a project key sees and lists only its own project', async () => {
    const own = await p1.client.get(`/v1/containers/${c1.id}`);
    expect(own.status).toBe(200);
    expect(own.body.accountId).toBe(p1.projectId);
    expectError(await p1.client.get(`/v1/containers/${c2.id}`), 404, 'Not Found');
    expectError(await p1.client.get(`/v1/instances/${c2.id}`), 404, 'Not Found');
    for (const path of ['/v1/containers', '/v1/instances', '/v1/containers?name=two', `/v1/containers?accountId=${p2.projectId}`]) {
      const list = await p1.client.get(path);
      expect(list.status).toBe(200);
      const ids = list.body.data.map((c: any) => c.id);
      expect(ids).not.toContain(c2.id);
      for (const c of list.body.data) expect(c.accountId).toBe(p1.projectId);
    }
    expect((await p1.client.get('/v1/containers')).body.data.map((c: any) => c.id)).toContain(c1.id);
  });

  it('a project key cannot change another project\'s resources', async () => {
    expectError(await p1.client.put(`/v1/containers/${c2.id}`, { name: 'hijack' }), 404, 'Not Found');
    expectError(await p1.client.post(`/v1/containers/${c2.id}/?action=stop`, {}), 404, 'Not Found');
    expectError(await p1.client.post(`/v1/containers/${c2.id}/?action=setlabels`, { labels: { x: 'y' } }), 404, 'Not Found');
    expectError(await p1.client.del(`/v1/containers/${c2.id}`), 404, 'Not Found');
    expectError(await p1.client.get(`/v1/containers/${c2.id}/instancelinks`), 404, 'Not Found');
    const after = await a.get(`/v1/containers/${c2.id}`);
    expect(after.body.name).toBe('two');
    expect(after.body.state).toBe('running');
    expect(after.body.labels).toEqual({});
  });

  it('a project key cannot reference another project\'s instances', async () => {
    const r = await p1.client.post('/v1/containers', { imageUuid: 'sim:x', instanceLinks: { peer: c2.id } });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('InvalidReference');
    expect(r.body.fieldName).toBe('instanceLinks');
  });

  it('a project key drives the whole lifecycle of its own containers, with and without the URL prefix', async () => {
    const c = await p1.client.post('/v1/containers', { imageUuid: 'sim:own', name: 'own' });
    expect(c.status).toBe(201);
    const prefix = `/v1/projects/${p1.projectId}`;
    expect((await p1.client.post(`/v1/containers/${c.body.id}/?action=stop`, {})).status).toBe(202);
    expect((await p1.client.post(`${prefix}/containers/${c.body.id}/?action=start`, {})).status).toBe(202);
    expect((await p1.client.put(`${prefix}/containers/${c.body.id}`, { name: 'renamed' })).body.name).toBe('renamed');
    const del = await p1.client.del(`/v1/containers/${c.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body.state).toBe('stopping');
    expect((await p1.client.get(`${prefix}/containers/${c.body.id}`)).body.state).toBe('removed');
    expect((await p1.client.post(`/v1/containers/${c.body.id}/?action=purge`, {})).status).toBe(202);
  });

  it('a project key creates in its own project', async () => {
    const r = await p2.client.post('/v1/containers', { imageUuid: 'sim:p2' });
    expect(r.status).toBe(201);
    expect(r.body.accountId).toBe(p2.projectId);
    expect(r.headers.get('x-api-account-id')).toBe(p2.projectId);
  });

  it('X-API-Project-Id / ?projectId / URL prefix of another project: 403; its own: fine', async () => {
    expectError(await p1.client.get('/v1/containers', { headers: { 'X-API-Project-Id': p2.projectId } }), 403, 'Forbidden');
    expectError(await p1.client.get(`/v1/containers?projectId=${p2.projectId}`), 403, 'Forbidden');
    expectError(await p1.client.get(`/v1/projects/${p2.projectId}/containers`), 403, 'Forbidden');
    expectError(await p1.client.get(`/v1/projects/${p2.projectId}/containers/${c2.id}`), 403, 'Forbidden');
    const own = await p1.client.get('/v1/containers', { headers: { 'X-API-Project-Id': p1.projectId } });
    expect(own.status).toBe(200);
    const prefixed = await p1.client.get(`/v1/projects/${p1.projectId}/containers/${c1.id}`);
    expect(prefixed.status).toBe(200);
    expect(prefixed.body.links.self).toBe(`${t.stack.url}/v1/projects/${p1.projectId}/containers/${c1.id}`);
  });

  it('a malformed project id: 400 InvalidFormat; an unknown one: 403', async () => {
    for (const bad of ['nope', '1i5', '1a', 'a1', '1a1x']) {
      const r = await p1.client.get('/v1/containers', { headers: { 'X-API-Project-Id': bad } });
      expectError(r, 400, 'InvalidFormat');
      expectError(await a.get('/v1/containers', { headers: { 'X-API-Project-Id': bad } }), 400, 'InvalidFormat');
    }
    expectError(await a.get('/v1/containers', { headers: { 'X-API-Project-Id': '1a999999' } }), 403, 'Forbidden');
    expectError(await a.get('/v1/projects/1a999999/containers'), 403, 'Forbidden');
  });

  it('a project key sees neither /v1/projects nor /v1/apikeys, nor their schemas', async () => {
    for (const path of [
      '/v1/projects',
      `/v1/projects/${p1.projectId}`,
      '/v1/apikeys',
      `/v1/apikeys/${p1.keyId}`,
      '/v1/schemas/project',
      '/v1/schemas/apiKey',
      '/v1/schemas/apikey',
    ]) {
      expectError(await p1.client.get(path), 404, 'Not Found');
    }
    const schemas = await p1.client.get('/v1/schemas');
    expect(schemas.status).toBe(200);
    const ids = schemas.body.data.map((s: any) => s.id);
    expect(ids).toContain('container');
    expect(ids).not.toContain('project');
    expect(ids).not.toContain('apiKey');
    const root = await p1.client.get('/v1');
    expect(root.body.links.containers).toBeDefined();
    expect(root.body.links.projects).toBeUndefined();
    expect(root.body.links.apiKeys).toBeUndefined();
    // The admin sees them.
    expect((await a.get('/v1/schemas/project')).status).toBe(200);
    expect((await a.get('/v1')).body.links.projects).toBeDefined();
  });

  it('the admin follows a container\'s account link to its project', async () => {
    const admin = await a.get(`/v1/containers/${c1.id}/account`);
    expect(admin.status).toBe(200);
    expect(admin.body.id).toBe(p1.projectId);
    expect(admin.body.type).toBe('project');
  });
});

describe('admin scoping', () => {
  it('the admin without a project sees every project', async () => {
    const ids = (await a.get('/v1/containers?limit=1000')).body.data.map((c: any) => c.id);
    expect(ids).toContain(c1.id);
    expect(ids).toContain(c2.id);
    expect((await a.get(`/v1/containers/${c2.id}`)).status).toBe(200);
  });

  it('/v1/projects/<id>/containers scopes to that project and keeps the prefix in links', async () => {
    const r = await a.get(`/v1/projects/${p1.projectId}/containers`);
    expect(r.status).toBe(200);
    const prefix = `${t.stack.url}/v1/projects/${p1.projectId}`;
    expect(r.body.links.self).toBe(`${prefix}/containers`);
    expect(r.body.createTypes.container).toBe(`${prefix}/containers`);
    expect(r.body.data.length).toBeGreaterThan(0);
    for (const c of r.body.data) {
      expect(c.accountId).toBe(p1.projectId);
      expect(c.links.self).toBe(`${prefix}/containers/${c.id}`);
      for (const url of Object.values(c.links)) expect(url).toMatch(new RegExp(`^${prefix}/`));
      for (const url of Object.values(c.actions)) expect(url).toMatch(new RegExp(`^${prefix}/containers/${c.id}/\\?action=`));
    }
    expect(r.body.data.map((c: any) => c.id)).not.toContain(c2.id);
    expect(r.headers.get('x-api-schemas')).toBe(`${prefix}/schemas`);
    expect(r.headers.get('x-api-account-id')).toBe(p1.projectId);
    // Another project's container is not found under this prefix.
    expectError(await a.get(`/v1/projects/${p1.projectId}/containers/${c2.id}`), 404, 'Not Found');
  });

  it('creating in a project via X-API-Project-Id, ?projectId= and the URL prefix', async () => {
    const h = await a.post('/v1/containers', { imageUuid: 'sim:h' }, { headers: { 'X-API-Project-Id': p2.projectId } });
    expect(h.status).toBe(201);
    expect(h.body.accountId).toBe(p2.projectId);
    const q = await a.post(`/v1/containers?projectId=${p2.projectId}`, { imageUuid: 'sim:q' });
    expect(q.status).toBe(201);
    expect(q.body.accountId).toBe(p2.projectId);
    expect(q.body.projectId).toBeUndefined();
    const u = await a.post(`/v1/projects/${p2.projectId}/containers`, { imageUuid: 'sim:u' });
    expect(u.status).toBe(201);
    expect(u.body.accountId).toBe(p2.projectId);
    expect(u.body.links.self).toBe(`${t.stack.url}/v1/projects/${p2.projectId}/containers/${u.body.id}`);
    // The project key sees all three.
    for (const c of [h.body, q.body, u.body]) expect((await p2.client.get(`/v1/containers/${c.id}`)).status).toBe(200);
    // Without a project the admin creates in the default project.
    const d = await a.post('/v1/containers', { imageUuid: 'sim:d' });
    expect(d.body.accountId).toBe(t.stack.defaultProjectId);
    expectError(await p2.client.get(`/v1/containers/${d.body.id}`), 404, 'Not Found');
  });

  it('instance links stay inside the project', async () => {
    const r = await a.post(
      '/v1/containers',
      { imageUuid: 'sim:l', instanceLinks: { db: c2.id } },
      { headers: { 'X-API-Project-Id': p1.projectId } },
    );
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('InvalidReference');
    const ok = await a.post(
      '/v1/containers',
      { imageUuid: 'sim:l', instanceLinks: { db: c1.id } },
      { headers: { 'X-API-Project-Id': p1.projectId } },
    );
    expect(ok.status).toBe(201);
    const links = await p1.client.get(`/v1/containers/${ok.body.id}/instancelinks`);
    expect(links.body.data).toHaveLength(1);
    expect(links.body.data[0].accountId).toBe(p1.projectId);
    expect((await p1.client.get(`/v1/instancelinks/${links.body.data[0].id}`)).status).toBe(200);
    expectError(await p2.client.get(`/v1/instancelinks/${links.body.data[0].id}`), 404, 'Not Found');
    expect((await p2.client.get('/v1/instancelinks')).body.data.map((l: any) => l.id)).not.toContain(links.body.data[0].id);
  });
});

describe('response headers', () => {
  it('X-API-Account-Id: the project of the key, or the one selected, or the default project', async () => {
    expect((await p1.client.get('/v1/containers')).headers.get('x-api-account-id')).toBe(p1.projectId);
    expect((await a.get('/v1/containers')).headers.get('x-api-account-id')).toBe(t.stack.defaultProjectId);
    const sel = await a.get('/v1/containers', { headers: { 'X-API-Project-Id': p2.projectId } });
    expect(sel.headers.get('x-api-account-id')).toBe(p2.projectId);
    expect((await a.get(`/v1/projects/${p1.projectId}/containers`)).headers.get('x-api-account-id')).toBe(p1.projectId);
  });

  it('X-API-Schemas on /v1 responses', async () => {
    const r = await p1.client.get('/v1');
    expect(r.headers.get('x-api-schemas')).toBe(`${t.stack.url}/v1/schemas`);
  });
});

describe('admin key from the environment', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ env: { DROVER_ADMIN_ACCESS_KEY: 'ENVADMINKEY', DROVER_ADMIN_SECRET_KEY: 'env-admin-secret-value' } });
  });
  afterAll(() => s.close());

  it('DROVER_ADMIN_ACCESS_KEY / DROVER_ADMIN_SECRET_KEY become the admin key', async () => {
    expect(s.stack.admin).toEqual({ accessKey: 'ENVADMINKEY', secretKey: 'env-admin-secret-value' });
    expect(s.stack.adminKeyGenerated).toBe(false);
    const admin = new Client(s.stack.url, 'ENVADMINKEY', 'env-admin-secret-value');
    expect((await admin.get('/v1/projects')).status).toBe(200);
    expect((await admin.post('/v1/projects', { name: 'env' })).status).toBe(201);
    expectError(await new Client(s.stack.url, 'ENVADMINKEY', 'wrong').get('/v1'), 401, 'Unauthorized');
    // No key was generated or saved for this data directory.
    expect(existsSync(join(s.dataDir, 'admin-key.json'))).toBe(false);
  });
});

/**
 * Holds every started process until the test releases it, so a project and its key stay `registering` for as long
 * as the test needs (with Step Functions that window is a moment, and scripts hit it).
 */
class ParkedRunner implements Runs {
  private readonly parked: NextRun[] = [];
  private ledger?: Ledger;
  /** For `startTestStack({ runs })`: the stack hands over its ledger, to finish the parked runs with. */
  readonly runs = (ledger: Ledger): Runs => ((this.ledger = ledger), this);
  async dispatch(runs: readonly NextRun[]): Promise<void> {
    this.parked.push(...runs);
  }
  async release(): Promise<void> {
    for (const run of this.parked.splice(0)) await this.dispatch((await this.ledger!.complete(run))?.runs ?? []);
  }
}

describe('a new project and its key work at once (issue 6, item 2)', () => {
  it('a project still registering takes a key, and the key works before either finishes registering', async () => {
    const runner = new ParkedRunner();
    const s = await startTestStack({ runs: runner.runs });
    try {
      const project = await s.admin.post('/v1/projects', { name: 'scripted' });
      expect([project.status, project.body.state]).toEqual([201, 'registering']);
      const key = await s.admin.post('/v1/apikeys', { accountId: project.body.id, name: 'ci' });
      expect([key.status, key.body.state, key.body.accountId], JSON.stringify(key.body)).toEqual([201, 'registering', project.body.id]);
      const api = new Client(s.stack.url, key.body.publicValue, key.body.secretValue);
      const listed = await api.get('/v1/containers');
      expect(listed.status, JSON.stringify(listed.body)).toBe(200);
      const created = await api.post('/v1/containers', { imageUuid: 'sim:web' });
      expect([created.status, created.body.accountId]).toEqual([201, project.body.id]);
      // The admin may work in it too, by header and by URL prefix.
      expect((await s.admin.get('/v1/containers', { headers: { 'X-API-Project-Id': project.body.id } })).status).toBe(200);
      expect((await s.admin.get(`/v1/projects/${project.body.id}/containers`)).status).toBe(200);
      const token = await api.post('/v1/registrationtokens', { name: 'hosts' });
      expect(token.status).toBe(201);

      await runner.release();
      expect((await s.admin.get(`/v1/projects/${project.body.id}`)).body.state).toBe('active');
      expect((await api.get('/v1/containers')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('a removed project is no valid reference, and its keys stop working', async () => {
    const p = await projectClient(a, 'going');
    expect((await a.del(`/v1/projects/${p.projectId}`)).status).toBe(200);
    const key = await a.post('/v1/apikeys', { accountId: p.projectId });
    expect([key.status, key.body.code, key.body.fieldName]).toEqual([422, 'InvalidReference', 'accountId']);
    expect((await p.client.get('/v1/containers')).status).toBe(401);
  });
});
