/**
 * Persistence across restarts of the embedded stack (D4, D5): everything written before a restart is there
 * after it with the same ids and states, keys keep working, new ids never collide with old ones, and
 * pagination markers issued before the restart still work (the cursor secret is stored).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from './helpers/client.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

const dataDir = mkdtempSync(join(tmpdir(), 'drover-persist-'));
const open: TestStack[] = [];

async function start(env: Record<string, string> = {}): Promise<TestStack> {
  const s = await startTestStack({ dataDir, inMemory: false, keepData: true, env });
  open.push(s);
  return s;
}

async function stop(s: TestStack) {
  await s.close();
  open.splice(open.indexOf(s), 1);
}

afterAll(async () => {
  for (const s of open) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the first run wrote, as the API showed it. */
const before: {
  admin?: { accessKey: string; secretKey: string };
  defaultProjectId?: string;
  resources: Record<string, any>;
  project?: { projectId: string; keyId: string; accessKey: string; secretKey: string };
  revokedKey?: { accessKey: string; secretKey: string };
  firstPage?: any;
  allIds?: string[];
} = { resources: {} };

/** Fields that must survive unchanged (dates compare by their epoch ms). */
const STABLE = ['id', 'type', 'state', 'name', 'description', 'labels', 'imageUuid', 'accountId', 'uuid', 'startCount',
  'firstRunningTS', 'createdTS', 'removedTS', 'removeTimeTS', 'transitioning', 'publicValue', 'targetInstanceId', 'instanceId',
  'linkName', 'memoryMb', 'vcpu', 'environment', 'ports'];

function stable(r: any) {
  return Object.fromEntries(STABLE.filter((k) => k in r).map((k) => [k, r[k]]));
}

describe('first run', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await start();
  });

  it('generates an admin key and saves it in <dataDir>/admin-key.json', () => {
    expect(s.stack.adminKeyGenerated).toBe(true);
    const saved = JSON.parse(readFileSync(join(dataDir, 'admin-key.json'), 'utf8'));
    expect(saved).toEqual(s.stack.admin);
    before.admin = s.stack.admin;
    before.defaultProjectId = s.stack.defaultProjectId;
  });

  it('writes projects, keys, containers in many states, VMs and links', async () => {
    const a = s.admin;
    const p = await projectClient(a, 'persisted');
    before.project = { projectId: p.projectId, keyId: p.keyId, accessKey: p.client.accessKey!, secretKey: p.client.secretKey! };
    const revoked = await projectClient(a, 'revoked');
    expect((await a.post(`/v1/apikeys/${revoked.keyId}/?action=deactivate`, {})).status).toBe(202);
    before.revokedKey = { accessKey: revoked.client.accessKey!, secretKey: revoked.client.secretKey! };

    const mk = async (body: Record<string, unknown>, path = '/v1/containers', client: Client = a) => {
      const r = await client.post(path, { imageUuid: 'sim:persist', ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body;
    };
    const running = await mk({ name: 'running', labels: { tier: 'web' }, ports: ['8080:80/tcp'], environment: { A: 'b' } });
    const stopped = await mk({ name: 'stopped', startOnCreate: false });
    const restarted = await mk({ name: 'restarted', description: 'twice' });
    await a.post(`/v1/containers/${restarted.id}/?action=restart`, {});
    const removed = await mk({ name: 'removed' });
    await a.del(`/v1/containers/${removed.id}`);
    const errored = await mk({ name: 'errored', startOnCreate: false });
    await a.post(`/v1/containers/${errored.id}/?action=error`, {});
    const vm = await mk({ name: 'vm', memoryMb: 1024, vcpu: 2 }, '/v1/virtualmachines');
    const inProject = await mk({ name: 'in-project' }, '/v1/containers', a.with({ 'X-API-Project-Id': p.projectId }));
    expect(inProject.accountId).toBe(p.projectId);
    const target = await mk({ name: 'target' }, '/v1/containers', p.client);
    const linked = await mk({ name: 'linked', instanceLinks: { db: target.id } }, '/v1/containers', p.client);
    const links = await p.client.get(`/v1/containers/${linked.id}/instancelinks`);
    expect(links.body.data).toHaveLength(1);

    for (const [key, res, path] of [
      ['running', running, '/v1/containers'],
      ['stopped', stopped, '/v1/containers'],
      ['restarted', restarted, '/v1/containers'],
      ['removed', removed, '/v1/containers'],
      ['errored', errored, '/v1/containers'],
      ['vm', vm, '/v1/virtualmachines'],
      ['target', target, '/v1/containers'],
      ['linked', linked, '/v1/containers'],
      ['link', links.body.data[0], '/v1/instancelinks'],
      ['project', { id: p.projectId }, '/v1/projects'],
      ['key', { id: p.keyId }, '/v1/apikeys'],
    ] as const) {
      const got = await a.get(`${path}/${res.id}`);
      expect(got.status).toBe(200);
      before.resources[key] = got.body;
    }
    expect(before.resources.running.state).toBe('running');
    expect(before.resources.stopped.state).toBe('stopped');
    expect(before.resources.restarted.startCount).toBe(2);
    expect(before.resources.removed.state).toBe('removed');
    expect(before.resources.errored.state).toBe('error');
    expect(before.resources.vm.state).toBe('running');
    expect(before.resources.link.state).toBe('active');
    expect(before.resources.project.state).toBe('active');
    expect(before.resources.key.state).toBe('active');
  });

  it('issues a pagination marker', async () => {
    for (let i = 0; i < 6; i++) expect((await s.admin.post('/v1/containers', { imageUuid: 'sim:page', name: `page-${i}` })).status).toBe(201);
    const all = await s.admin.get('/v1/containers?name_prefix=page-&limit=1000');
    before.allIds = all.body.data.map((c: any) => c.id);
    expect(before.allIds).toHaveLength(6);
    const first = await s.admin.get('/v1/containers?name_prefix=page-&limit=2');
    expect(first.body.pagination.partial).toBe(true);
    expect(first.body.pagination.next).toBeTruthy();
    before.firstPage = first.body;
  });

  afterAll(() => stop(s));
});

describe('after a restart on the same data directory', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await start();
  });

  it('reuses the saved admin key and the default project', async () => {
    expect(s.stack.adminKeyGenerated).toBe(false);
    expect(s.stack.admin).toEqual(before.admin);
    expect(s.stack.defaultProjectId).toBe(before.defaultProjectId);
    const admin = new Client(s.stack.url, before.admin!.accessKey, before.admin!.secretKey);
    expect((await admin.get('/v1/projects')).status).toBe(200);
  });

  it('every resource is there with the same id, state and fields', async () => {
    const paths: Record<string, string> = { vm: '/v1/virtualmachines', link: '/v1/instancelinks', project: '/v1/projects', key: '/v1/apikeys' };
    expect(Object.keys(before.resources)).toHaveLength(11);
    for (const [key, old] of Object.entries(before.resources)) {
      const r = await s.admin.get(`${paths[key] ?? '/v1/containers'}/${old.id}`);
      expect(r.status, key).toBe(200);
      expect(stable(r.body), key).toEqual(stable(old));
      expect(r.body.actions, key).toEqual(
        Object.fromEntries(Object.entries(old.actions).map(([n, u]) => [n, (u as string).replace(/^http:\/\/[^/]+/, s.stack.url)])),
      );
    }
  });

  it('the project key still works and is still scoped; the deactivated key is still refused', async () => {
    const p = before.project!;
    const k = new Client(s.stack.url, p.accessKey, p.secretKey);
    const list = await k.get('/v1/containers');
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: any) => c.name).sort()).toEqual(['in-project', 'linked', 'target']);
    expect((await k.get(`/v1/containers/${before.resources.running.id}`)).status).toBe(404);
    const revoked = new Client(s.stack.url, before.revokedKey!.accessKey, before.revokedKey!.secretKey);
    expect((await revoked.get('/v1/containers')).status).toBe(401);
  });

  it('processes continue from the stored states', async () => {
    const { running, stopped, removed, linked, link } = before.resources;
    expect((await s.admin.post(`/v1/containers/${running.id}/?action=stop`, {})).status).toBe(202);
    expect((await s.admin.get(`/v1/containers/${running.id}`)).body.state).toBe('stopped');
    expect((await s.admin.post(`/v1/containers/${stopped.id}/?action=start`, {})).status).toBe(202);
    const started = (await s.admin.get(`/v1/containers/${stopped.id}`)).body;
    expect(started.state).toBe('running');
    expect(started.startCount).toBe(1);
    expect((await s.admin.post(`/v1/containers/${removed.id}/?action=restore`, {})).status).toBe(202);
    expect((await s.admin.get(`/v1/containers/${removed.id}`)).body.state).toBe('stopped');
    // The stored link ids still drive the links.
    expect((await s.admin.post(`/v1/containers/${linked.id}/?action=stop`, {})).status).toBe(202);
    expect((await s.admin.get(`/v1/instancelinks/${link.id}`)).body.state).toBe('inactive');
  });

  it('new ids do not collide with old ones', async () => {
    const oldIds = new Set([
      ...Object.values(before.resources).map((r) => r.id),
      ...before.allIds!,
    ]);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await s.admin.post('/v1/containers', { imageUuid: 'sim:new' });
      expect(c.status).toBe(201);
      created.push(c.body.id);
    }
    const p = await projectClient(s.admin, 'after-restart');
    created.push(p.projectId, p.keyId);
    for (const id of created) expect(oldIds.has(id), id).toBe(false);
    expect(new Set(created).size).toBe(created.length);
    // The new project key works alongside the old one.
    expect((await p.client.get('/v1/containers')).status).toBe(200);
    expect((await p.client.get('/v1/containers')).body.data).toEqual([]);
  });

  it('a pagination marker issued before the restart still works', async () => {
    const first = before.firstPage;
    const nextUrl = new URL(first.pagination.next);
    const r = await s.admin.get(`${nextUrl.pathname}${nextUrl.search}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const firstIds = first.data.map((c: any) => c.id);
    const secondIds = r.body.data.map((c: any) => c.id);
    expect(secondIds).toHaveLength(2);
    expect(secondIds.filter((id: string) => firstIds.includes(id))).toEqual([]);
    expect([...firstIds, ...secondIds]).toEqual(before.allIds!.slice(0, 4));
    // Walking on to the end yields exactly the rest.
    const third = await s.admin.get(`${new URL(r.body.pagination.next).pathname}${new URL(r.body.pagination.next).search}`);
    expect(third.body.data.map((c: any) => c.id)).toEqual(before.allIds!.slice(4));
    expect(third.body.pagination.partial).toBe(false);
    expect(third.body.pagination.next).toBeNull();
  });

  afterAll(() => stop(s));
});

describe('admin key from the environment on an existing data directory', () => {
  it('replaces the saved key while set; without it the saved key works again', async () => {
    const s = await start({ DROVER_ADMIN_ACCESS_KEY: 'ENVKEY', DROVER_ADMIN_SECRET_KEY: 'env-secret' });
    expect((await new Client(s.stack.url, 'ENVKEY', 'env-secret').get('/v1/projects')).status).toBe(200);
    expect((await new Client(s.stack.url, before.admin!.accessKey, before.admin!.secretKey).get('/v1')).status).toBe(401);
    // Data and project keys are unaffected.
    const p = before.project!;
    expect((await new Client(s.stack.url, p.accessKey, p.secretKey).get('/v1/containers')).status).toBe(200);
    await stop(s);

    const again = await start();
    expect(again.stack.admin).toEqual(before.admin);
    expect((await new Client(again.stack.url, before.admin!.accessKey, before.admin!.secretKey).get('/v1')).status).toBe(200);
    expect((await new Client(again.stack.url, 'ENVKEY', 'env-secret').get('/v1')).status).toBe(401);
    expect((await again.admin.get(`/v1/containers/${before.resources.vm.id}`)).body.state).toBe('running');
    await stop(again);
  });
});
