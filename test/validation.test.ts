/**
 * End-to-end tests of input handling for containers and virtual machines (spec §1.2, §1.8, §1.9, §2.3-2.8):
 * what create and update accept, drop, default and echo, and every validation error code that can arise,
 * with the exact Rancher error resource.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from './helpers/client.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
/** A project key: every resource of this file lives in its project unless a test says otherwise. */
let p: Client;
let projectId: string;
/** A second project, for references that cross projects. */
let other: Client;
let otherId: string;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  t = await startTestStack();
  ({ client: p, projectId } = await projectClient(t.admin, 'validation-a'));
  ({ client: other, projectId: otherId } = await projectClient(t.admin, 'validation-b'));
});
afterAll(() => t.close());

/** Asserts a Rancher validation error, the whole resource (spec §1.9). */
function expect422(r: Reply, code: string, fieldName: string) {
  expect({ status: r.status, code: r.body?.code, fieldName: r.body?.fieldName }, JSON.stringify(r.body)).toEqual({
    status: 422,
    code,
    fieldName,
  });
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(r.body.id).toMatch(UUID_RE);
  expect(r.body).toEqual({
    id: r.body.id,
    type: 'error',
    baseType: 'error',
    links: {},
    actions: {},
    status: 422,
    code,
    message: null,
    detail: null,
    fieldName,
  });
  expect(Object.keys(r.body).slice(0, 4)).toEqual(['id', 'type', 'links', 'actions']);
}

async function create(c: Client, body: Json, path = '/v1/containers'): Promise<Json> {
  const r = await c.post(path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function createStopped(c: Client = p, extra: Json = {}): Promise<Json> {
  const res = await create(c, { imageUuid: 'sim:stopped', startOnCreate: false, ...extra });
  const now = await c.get(`/v1/containers/${res.id}`);
  expect(now.body.state).toBe('stopped');
  return now.body;
}

async function createRunning(c: Client = p, extra: Json = {}): Promise<Json> {
  const res = await create(c, { imageUuid: 'sim:running', ...extra });
  const now = await c.get(`/v1/containers/${res.id}`);
  expect(now.body.state).toBe('running');
  return now.body;
}

const action = (c: Client, res: Json, name: string, body: unknown = {}) =>
  c.post(`/v1/containers/${res.id}/?action=${name}`, body);

describe('create: what is kept, dropped and defaulted', () => {
  it('drops keys without create:true silently', async () => {
    const body = {
      imageUuid: 'sim:drop',
      id: '1i99999',
      type: 'virtualMachine',
      kind: 'virtualMachine',
      uuid: 'not-a-uuid',
      state: 'running',
      startCount: 99,
      hostId: '1h1',
      accountId: otherId,
      externalId: 'abc123',
      created: '2016-03-28T17:05:12Z',
      firstRunning: '2016-03-28T17:05:12Z',
      removed: '2016-03-28T17:05:12Z',
      primaryIpAddress: '10.0.0.9',
      nativeContainer: true,
      version: '7',
      transitioning: 'error',
      transitioningMessage: 'boom',
      healthState: 'healthy',
      systemContainer: 'NetworkAgent',
      createIndex: 4,
      deploymentUnitUuid: 'x',
      vcpu: 8,
      memoryMb: 4096,
      notAField: 'ignored',
    };
    const c = await create(p, body);
    expect(c.id).not.toBe('1i99999');
    expect(c.id).toMatch(/^1i\d+$/);
    expect(c.type).toBe('container');
    expect(c.kind).toBe('container');
    expect(c.uuid).toMatch(UUID_RE);
    expect(c.state).toBe('creating');
    expect(c.transitioning).toBe('yes');
    expect(c.transitioningMessage).toBe('In Progress');
    expect(c.startCount).toBe(0);
    expect(c.accountId).toBe(projectId);
    expect(c.created).not.toBe('2016-03-28T17:05:12Z');
    for (const k of ['hostId', 'externalId', 'firstRunning', 'removed', 'primaryIpAddress', 'healthState', 'systemContainer', 'createIndex', 'deploymentUnitUuid']) {
      expect({ k, v: c[k] }).toEqual({ k, v: null });
    }
    expect(c.nativeContainer).toBe(false);
    expect(c.version).toBe('0');
    for (const k of ['vcpu', 'memoryMb', 'notAField']) expect(c).not.toHaveProperty(k);

    const later = await p.get(`/v1/containers/${c.id}`);
    expect(later.body.state).toBe('running');
    expect(later.body.startCount).toBe(1);
    expect(later.body.hostId).toBeNull();
    expect(later.body.accountId).toBe(projectId);
    // The admin sees it in the key's project, not in the one named by the dropped accountId.
    expect((await other.get(`/v1/containers/${c.id}`)).status).toBe(404);
  });

  it('fills the container defaults', async () => {
    const c = await create(p, { imageUuid: 'sim:defaults' });
    expect(c).toMatchObject({
      imageUuid: 'sim:defaults',
      startOnCreate: true,
      networkMode: 'managed',
      privileged: false,
      publishAllPorts: false,
      readOnly: false,
      stdinOpen: false,
      tty: false,
      labels: {},
      environment: {},
      nativeContainer: false,
      version: '0',
    });
    for (const k of [
      'name', 'description', 'command', 'ports', 'dns', 'dnsSearch', 'healthCheck', 'restartPolicy', 'logConfig', 'build',
      'capAdd', 'capDrop', 'cpuSet', 'cpuShares', 'memory', 'memorySwap', 'hostname', 'user', 'workingDir', 'pidMode',
      'requestedHostId', 'networkContainerId', 'dataVolumes', 'dataVolumesFrom', 'volumeDriver', 'entryPoint',
    ]) {
      expect({ k, v: c[k] }).toEqual({ k, v: null });
    }
    // includeInList:false fields are never output (spec §1.5).
    for (const k of ['count', 'instanceLinks', 'networkIds']) expect(c).not.toHaveProperty(k);
    // VM-only fields are not container fields.
    for (const k of ['vcpu', 'memoryMb', 'userdata', 'disks']) expect(c).not.toHaveProperty(k);
  });

  it('fills the virtualMachine defaults and has no docker-only fields', async () => {
    const vm = await create(p, { imageUuid: 'sim:vm' }, '/v1/virtualmachines');
    expect(vm).toMatchObject({
      type: 'virtualMachine',
      kind: 'virtualMachine',
      vcpu: 1,
      memoryMb: 512,
      startOnCreate: true,
      networkMode: 'managed',
      labels: {},
      version: '0',
      userdata: null,
      disks: null,
      state: 'creating',
    });
    for (const k of ['privileged', 'environment', 'capAdd', 'build', 'user', 'tty', 'networkIds', 'count']) {
      expect(vm).not.toHaveProperty(k);
    }
  });

  it('explicit values win over defaults, and strings from JSON keep their type', async () => {
    const c = await create(p, {
      imageUuid: 'sim:explicit',
      networkMode: 'host',
      startOnCreate: false,
      privileged: true,
      tty: true,
      labels: { tier: 'web' },
      environment: { FOO: 'bar' },
    });
    expect(c).toMatchObject({
      networkMode: 'host',
      startOnCreate: false,
      privileged: true,
      tty: true,
      labels: { tier: 'web' },
      environment: { FOO: 'bar' },
    });
    expect((await p.get(`/v1/containers/${c.id}`)).body.state).toBe('stopped');
    const vm = await create(p, { imageUuid: 'sim:vm', vcpu: 4, memoryMb: 2048, userdata: '#cloud-config\n' }, '/v1/virtualmachines');
    expect(vm).toMatchObject({ vcpu: 4, memoryMb: 2048, userdata: '#cloud-config\n' });
  });

  it('accepts every creatable container field and echoes it back', async () => {
    const peer = await createRunning();
    const body = {
      imageUuid: 'docker:nginx:1.9',
      name: 'web',
      description: 'front end',
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
      capDrop: ['MKNOD'],
      command: ['nginx', '-g', 'daemon off;'],
      cpuSet: '0,1',
      cpuShares: 512,
      dataVolumes: ['/data:/data:ro', 'named'],
      dataVolumesFrom: [peer.id],
      devices: ['/dev/fuse'],
      dns: ['8.8.8.8', '8.8.4.4'],
      dnsSearch: ['example.com'],
      domainName: 'example.com',
      entryPoint: ['/entry.sh'],
      environment: { FOO: 'bar', EMPTY: '' },
      expose: ['9000'],
      extraHosts: ['db:10.0.0.5'],
      hostname: 'web-1',
      labels: { tier: 'web', 'io.rancher.x': 'y' },
      lxcConf: { 'lxc.utsname': 'x' },
      memory: 268435456,
      memorySwap: 536870912,
      networkMode: 'container',
      networkContainerId: peer.id,
      pidMode: 'host',
      ports: ['8080:80/tcp', '80', '122/udp'],
      privileged: true,
      publishAllPorts: true,
      readOnly: true,
      securityOpt: ['label:disable'],
      stdinOpen: true,
      tty: true,
      user: 'nobody',
      volumeDriver: 'local',
      workingDir: '/srv',
      startOnCreate: false,
    };
    const c = await create(p, body);
    expect(c).toMatchObject(body);
    const again = await p.get(`/v1/containers/${c.id}`);
    expect(again.body).toMatchObject(body);
    // The reference to the network container shows as a link.
    expect(again.body.links).toHaveProperty('self');
  });

  it('accepts the embedded types, fills their defaults, drops their unknown keys', async () => {
    const c = await create(p, {
      imageUuid: 'sim:embedded',
      startOnCreate: false,
      restartPolicy: { name: 'on-failure', maximumRetryCount: 3, bogus: 1 },
      logConfig: { driver: 'json-file', config: { 'max-size': '10m' } },
      healthCheck: {
        port: 80,
        interval: 2000,
        responseTimeout: 2000,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
        requestLine: 'GET / HTTP/1.0',
        recreateOnQuorumStrategyConfig: { quorum: 2 },
      },
      build: { context: 'https://example.com/ctx.tar', dockerfile: 'Dockerfile', nocache: true },
    });
    expect(c.restartPolicy).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(c.logConfig).toEqual({ driver: 'json-file', config: { 'max-size': '10m' } });
    expect(c.healthCheck).toEqual({
      port: 80,
      interval: 2000,
      responseTimeout: 2000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      requestLine: 'GET / HTTP/1.0',
      recreateOnQuorumStrategyConfig: { quorum: 2 },
      strategy: 'recreate',
    });
    expect(c.build).toEqual({
      context: 'https://example.com/ctx.tar',
      dockerfile: 'Dockerfile',
      nocache: true,
      rm: false,
      forcerm: false,
    });
    const again = (await p.get(`/v1/containers/${c.id}`)).body;
    for (const k of ['restartPolicy', 'logConfig', 'healthCheck', 'build']) expect(again[k]).toEqual(c[k]);
    // An explicit strategy is kept; numbers may come as strings (form-style input).
    const c2 = await create(p, { imageUuid: 'sim:hc', startOnCreate: false, healthCheck: { port: '8080', strategy: 'none' } });
    expect(c2.healthCheck).toEqual({ port: 8080, strategy: 'none' });
  });

  it('accepts virtual machine disks and fills their defaults', async () => {
    const vm = await create(
      p,
      {
        imageUuid: 'sim:vm',
        startOnCreate: false,
        disks: [
          { name: 'root', size: '10g', root: true, driver: 'local', opts: { a: 'b' } },
          { name: 'data_1.x-y' },
        ],
      },
      '/v1/virtualmachines',
    );
    expect(vm.disks).toEqual([
      { name: 'root', size: '10g', root: true, driver: 'local', opts: { a: 'b' } },
      { name: 'data_1.x-y', size: '40g', root: false },
    ]);
    expect((await p.get(`/v1/virtualmachines/${vm.id}`)).body.disks).toEqual(vm.disks);
  });

  it('has no creatable date field, so InvalidDateFormat cannot arise on create', async () => {
    for (const id of ['container', 'virtualMachine']) {
      const s = (await p.get(`/v1/schemas/${id}`)).body;
      const creatableDates = Object.entries(s.resourceFields as Record<string, Json>).filter(
        ([, f]) => f.type === 'date' && (f.create || f.update),
      );
      expect(creatableDates).toEqual([]);
    }
  });
});

describe('create: query parameters merged under the body (spec §1.2)', () => {
  it('takes fields from the query string', async () => {
    const c = await create(p, { imageUuid: 'sim:q' }, '/v1/containers?name=from-query&description=d');
    expect(c.name).toBe('from-query');
    expect(c.description).toBe('d');
  });

  it('body keys win over query parameters', async () => {
    const c = await create(p, { imageUuid: 'sim:q', name: 'from-body' }, '/v1/containers?name=from-query');
    expect(c.name).toBe('from-body');
  });

  it('converts query strings to the field types; repeated parameters make a list', async () => {
    const r = await p.post('/v1/containers?imageUuid=sim:qs&startOnCreate=false&cpuShares=256&dns=1.1.1.1&dns=9.9.9.9&ports=80', {});
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      imageUuid: 'sim:qs',
      startOnCreate: false,
      cpuShares: 256,
      dns: ['1.1.1.1', '9.9.9.9'],
      ports: ['80'],
    });
    expect((await p.get(`/v1/containers/${r.body.id}`)).body.state).toBe('stopped');
  });

  it('validates query parameters like body keys', async () => {
    expect422(await p.post('/v1/containers?cpuShares=lots', { imageUuid: 'sim:q' }), 'InvalidFormat', 'cpuShares');
    expect422(await p.post('/v1/containers?networkMode=bogus', { imageUuid: 'sim:q' }), 'InvalidOption', 'networkMode');
  });

  it('merges query parameters on PUT and action input too', async () => {
    const c = await createStopped();
    const r = await p.put(`/v1/containers/${c.id}?name=put-query`, {});
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('put-query');
    expect422(await p.post(`/v1/containers/${c.id}/?action=logs&lines=-5`, {}), 'MinLimitExceeded', 'lines');
  });
});

describe('create: count and instanceLinks', () => {
  it('count:3 creates three containers and answers 201 with a collection', async () => {
    const r = await p.post('/v1/containers', { imageUuid: 'sim:count', name: 'many', count: 3 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ type: 'collection', resourceType: 'container' });
    expect(r.body.data).toHaveLength(3);
    const ids = r.body.data.map((c: Json) => c.id);
    expect(new Set(ids).size).toBe(3);
    for (const c of r.body.data) {
      expect(c).toMatchObject({ type: 'container', name: 'many', imageUuid: 'sim:count', state: 'creating' });
      expect(c).not.toHaveProperty('count');
    }
    const uuids = new Set(r.body.data.map((c: Json) => c.uuid));
    expect(uuids.size).toBe(3);
    const listed = await p.get('/v1/containers?name=many');
    expect(listed.body.data.map((c: Json) => c.id).sort()).toEqual([...ids].sort());
  });

  it('count:1 (and count absent) answers a single resource', async () => {
    const r = await p.post('/v1/containers', { imageUuid: 'sim:count1', count: 1 });
    expect(r.status).toBe(201);
    expect(r.body.type).toBe('container');
  });

  it('count outside 1..1000 is rejected before anything is created', async () => {
    const before = (await p.get('/v1/containers?name=nocount&limit=0')).body.data.length;
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:c', name: 'nocount', count: 0 }), 'MinLimitExceeded', 'count');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:c', name: 'nocount', count: 1001 }), 'MaxLimitExceeded', 'count');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:c', name: 'nocount', count: 'three' }), 'InvalidFormat', 'count');
    expect((await p.get('/v1/containers?name=nocount&limit=0')).body.data.length).toBe(before);
  });

  it('instanceLinks creates one instanceLink per entry, a null target allowed', async () => {
    const target = await createRunning();
    const c = await create(p, { imageUuid: 'sim:linker', instanceLinks: { db: target.id, cache: null } });
    expect(c).not.toHaveProperty('instanceLinks');
    const links = await p.get(`/v1/instancelinks?instanceId=${c.id}`);
    expect(links.status).toBe(200);
    expect(links.body.data).toHaveLength(2);
    const byName = Object.fromEntries(links.body.data.map((l: Json) => [l.linkName, l]));
    expect(byName.db).toMatchObject({ type: 'instanceLink', instanceId: c.id, targetInstanceId: target.id, accountId: projectId });
    expect(byName.db.id).toMatch(/^1il\d+$/);
    expect(byName.cache).toMatchObject({ type: 'instanceLink', instanceId: c.id, targetInstanceId: null, linkName: 'cache' });
    // The same links through the container's link, and the reverse link on the target.
    const viaLink = await p.get(`/v1/containers/${c.id}/instancelinks`);
    expect(viaLink.body.data.map((l: Json) => l.id).sort()).toEqual(links.body.data.map((l: Json) => l.id).sort());
    const reverse = await p.get(`/v1/containers/${target.id}/targetinstancelinks`);
    expect(reverse.body.data.map((l: Json) => l.id)).toEqual([byName.db.id]);
  });

  it('instanceLinks must be a map of references in the same project', async () => {
    const foreign = await createRunning(other);
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:l', instanceLinks: { db: foreign.id } }), 'InvalidReference', 'instanceLinks');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:l', instanceLinks: { db: '1i999999' } }), 'InvalidReference', 'instanceLinks');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:l', instanceLinks: { db: 'garbage' } }), 'InvalidReference', 'instanceLinks');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:l', instanceLinks: ['db'] }), 'InvalidFormat', 'instanceLinks');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:l', instanceLinks: 'db' }), 'InvalidFormat', 'instanceLinks');
  });
});

describe('update', () => {
  it('changes only update:true fields and ignores the rest silently', async () => {
    const c = await createStopped(p, { name: 'before', description: 'old', labels: { a: 'b' } });
    const r = await p.put(`/v1/containers/${c.id}`, {
      id: '1i424242',
      name: 'after',
      description: 'new',
      imageUuid: 'sim:other',
      startOnCreate: true,
      labels: { c: 'd' },
      networkMode: 'host',
      state: 'running',
      startCount: 50,
      kind: 'virtualMachine',
      hostId: '1h1',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: c.id,
      type: 'container',
      kind: 'container',
      name: 'after',
      description: 'new',
      imageUuid: 'sim:stopped',
      startOnCreate: false,
      labels: { a: 'b' },
      networkMode: 'managed',
      state: 'stopped',
      startCount: 0,
      hostId: null,
    });
    // A full resource comes back, and the change is stored.
    expect(Object.keys(r.body).slice(0, 4)).toEqual(['id', 'type', 'links', 'actions']);
    expect((await p.get(`/v1/containers/${c.id}`)).body).toMatchObject({ name: 'after', description: 'new', imageUuid: 'sim:stopped' });
  });

  it('leaves fields absent from the body alone, and accepts null for nullable ones', async () => {
    const c = await createStopped(p, { name: 'keep', description: 'drop me' });
    const r1 = await p.put(`/v1/containers/${c.id}`, {});
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ name: 'keep', description: 'drop me' });
    const r2 = await p.put(`/v1/containers/${c.id}`, { description: null });
    expect(r2.body).toMatchObject({ name: 'keep', description: null });
  });

  it('validates the fields it applies, and only those', async () => {
    const c = await createStopped();
    expect422(await p.put(`/v1/containers/${c.id}`, { name: 'x'.repeat(256) }), 'MaxLengthExceeded', 'name');
    expect422(await p.put(`/v1/containers/${c.id}`, { description: 'x'.repeat(1025) }), 'MaxLengthExceeded', 'description');
    expect422(await p.put(`/v1/containers/${c.id}`, { name: { a: 1 } }), 'InvalidFormat', 'name');
    // Non-updatable fields are not even validated.
    const r = await p.put(`/v1/containers/${c.id}`, { networkMode: 'bogus', cpuShares: 'abc', labels: null, name: 'ok' });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('ok');
  });

  it('virtual machines: vcpu, memoryMb and userdata are create-only', async () => {
    const vm = await create(p, { imageUuid: 'sim:vm', startOnCreate: false, vcpu: 2 }, '/v1/virtualmachines');
    const r = await p.put(`/v1/virtualmachines/${vm.id}`, { vcpu: 8, memoryMb: 1, userdata: 'x', name: 'renamed' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ vcpu: 2, memoryMb: 512, userdata: null, name: 'renamed', type: 'virtualMachine' });
  });

  it('instanceLink: name/description update, linkName and instanceId do not', async () => {
    const target = await createRunning();
    const c = await create(p, { imageUuid: 'sim:l', startOnCreate: false, instanceLinks: { db: target.id } });
    const [link] = (await p.get(`/v1/instancelinks?instanceId=${c.id}`)).body.data;
    const r = await p.put(`/v1/instancelinks/${link.id}`, { name: 'n', description: 'd', linkName: 'other', instanceId: target.id });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ name: 'n', description: 'd', linkName: 'db', instanceId: c.id });
    expect422(await p.put(`/v1/instancelinks/${link.id}`, { targetInstanceId: '1i999999' }), 'InvalidReference', 'targetInstanceId');
  });
});

describe('validation errors (spec §1.9)', () => {
  it('MissingRequired: imageUuid absent, null or empty, on containers and VMs', async () => {
    expect422(await p.post('/v1/containers', {}), 'MissingRequired', 'imageUuid');
    expect422(await p.post('/v1/containers', { name: 'x' }), 'MissingRequired', 'imageUuid');
    expect422(await p.post('/v1/containers', { imageUuid: null }), 'MissingRequired', 'imageUuid');
    expect422(await p.post('/v1/containers', { imageUuid: '' }), 'MissingRequired', 'imageUuid');
    expect422(await p.post('/v1/virtualmachines', { vcpu: 2 }), 'MissingRequired', 'imageUuid');
  });

  it('MissingRequired: healthCheck without port', async () => {
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:hc', healthCheck: {} }), 'MissingRequired', 'port');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:hc', healthCheck: { interval: 2000 } }), 'MissingRequired', 'port');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:hc', healthCheck: { port: null } }), 'MissingRequired', 'port');
  });

  it('MissingRequired: execute without command (validated before the host is looked for)', async () => {
    const c = await createRunning();
    expect422(await action(p, c, 'execute', {}), 'MissingRequired', 'command');
    expect422(await action(p, c, 'execute', { command: [] }), 'MissingRequired', 'command');
    expect422(await action(p, c, 'execute', { command: null, tty: false }), 'MissingRequired', 'command');
  });

  it('a bad value is reported before a missing required field', async () => {
    expect422(await p.post('/v1/containers', { networkMode: 'bogus' }), 'InvalidOption', 'networkMode');
    expect422(await p.post('/v1/containers', { cpuShares: 'abc' }), 'InvalidFormat', 'cpuShares');
  });

  it('InvalidFormat: values that do not convert to the field type', async () => {
    const cases: Array<[Json, string]> = [
      [{ cpuShares: 'abc' }, 'cpuShares'],
      [{ memory: 1.5 }, 'memory'],
      [{ memory: true }, 'memory'],
      [{ memorySwap: '12x' }, 'memorySwap'],
      [{ startOnCreate: 'yes' }, 'startOnCreate'],
      [{ privileged: 1 }, 'privileged'],
      [{ tty: 'TRUE ' }, 'tty'],
      [{ labels: 'a=b' }, 'labels'],
      [{ labels: ['a'] }, 'labels'],
      [{ labels: { a: { b: 'c' } } }, 'labels'],
      [{ environment: 'FOO=bar' }, 'environment'],
      [{ lxcConf: 5 }, 'lxcConf'],
      [{ restartPolicy: 'always' }, 'restartPolicy'],
      [{ restartPolicy: ['always'] }, 'restartPolicy'],
      [{ healthCheck: 80 }, 'healthCheck'],
      [{ healthCheck: { port: 'http' } }, 'port'],
      [{ logConfig: { config: 'x' } }, 'config'],
      [{ name: { first: 'a' } }, 'name'],
      [{ command: [['nested']] }, 'command'],
      [{ dns: [{ ip: '1.1.1.1' }] }, 'dns'],
    ];
    for (const [extra, field] of cases) {
      expect422(await p.post('/v1/containers', { imageUuid: 'sim:fmt', ...extra }), 'InvalidFormat', field);
    }
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:fmt', vcpu: 'two' }), 'InvalidFormat', 'vcpu');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:fmt', disks: 'root' }), 'InvalidFormat', 'disks');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:fmt', disks: [{ name: 'ok', root: 'yes' }] }), 'InvalidFormat', 'root');
  });

  it('InvalidOption: values outside an enum', async () => {
    const cases: Array<[Json, string]> = [
      [{ networkMode: 'bogus' }, 'networkMode'],
      [{ networkMode: 'MANAGED' }, 'networkMode'],
      [{ networkMode: 1 }, 'networkMode'],
      [{ capAdd: ['NOPE'] }, 'capAdd'],
      [{ capAdd: ['NET_ADMIN', 'net_admin'] }, 'capAdd'],
      [{ capDrop: ['ALL', 'EVERYTHING'] }, 'capDrop'],
      [{ pidMode: 'container' }, 'pidMode'],
      [{ healthCheck: { port: 80, strategy: 'sometimes' } }, 'strategy'],
    ];
    for (const [extra, field] of cases) {
      expect422(await p.post('/v1/containers', { imageUuid: 'sim:opt', ...extra }), 'InvalidOption', field);
    }
    const c = await createRunning();
    expect422(await action(p, c, 'proxy', { scheme: 'ftp' }), 'InvalidOption', 'scheme');
  });

  it('NotNullable: null for a non-nullable field, or a null element in an array or map', async () => {
    const cases: Array<[Json, string]> = [
      [{ labels: null }, 'labels'],
      [{ environment: null }, 'environment'],
      [{ startOnCreate: null }, 'startOnCreate'],
      [{ privileged: null }, 'privileged'],
      [{ tty: null }, 'tty'],
      [{ dns: ['8.8.8.8', null] }, 'dns'],
      [{ ports: [null] }, 'ports'],
      [{ capAdd: [null] }, 'capAdd'],
      [{ dataVolumesFrom: [null] }, 'dataVolumesFrom'],
      [{ labels: { a: null } }, 'labels'],
      [{ build: { nocache: null } }, 'nocache'],
    ];
    for (const [extra, field] of cases) {
      expect422(await p.post('/v1/containers', { imageUuid: 'sim:nn', ...extra }), 'NotNullable', field);
    }
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:nn', networkIds: [null] }), 'NotNullable', 'networkIds');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:nn', disks: [null] }), 'NotNullable', 'disks');
    // Nullable fields take null.
    const c = await create(p, { imageUuid: 'sim:nn', name: null, networkMode: null, dns: null, restartPolicy: null });
    expect(c).toMatchObject({ name: null, networkMode: null, dns: null, restartPolicy: null });
    // instanceStop's fields are not nullable (cattle dump).
    const running = await createRunning();
    expect422(await action(p, running, 'stop', { remove: null }), 'NotNullable', 'remove');
  });

  it('MaxLengthExceeded / MinLengthExceeded on strings', async () => {
    expect((await p.post('/v1/containers', { imageUuid: 'sim:len', name: 'n'.repeat(255), startOnCreate: false })).status).toBe(201);
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', name: 'n'.repeat(256) }), 'MaxLengthExceeded', 'name');
    expect((await p.post('/v1/containers', { imageUuid: 'sim:len', description: 'd'.repeat(1024), startOnCreate: false })).status).toBe(201);
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', description: 'd'.repeat(1025) }), 'MaxLengthExceeded', 'description');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', hostname: 'h'.repeat(256) }), 'MaxLengthExceeded', 'hostname');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:len', userdata: 'u'.repeat(65536) }), 'MaxLengthExceeded', 'userdata');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', hostname: '' }), 'MinLengthExceeded', 'hostname');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', user: '' }), 'MinLengthExceeded', 'user');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:len', workingDir: '' }), 'MinLengthExceeded', 'workingDir');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:len', disks: [{ name: 'a' }] }), 'MinLengthExceeded', 'name');
    // A number given for a string counts by its text.
    const c = await create(p, { imageUuid: 'sim:len', hostname: 7, startOnCreate: false });
    expect(c.hostname).toBe('7');
  });

  it('MinLimitExceeded / MaxLimitExceeded on ints', async () => {
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:lim', vcpu: 0 }), 'MinLimitExceeded', 'vcpu');
    expect422(await p.post('/v1/virtualmachines', { imageUuid: 'sim:lim', memoryMb: 0 }), 'MinLimitExceeded', 'memoryMb');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:lim', healthCheck: { port: 0 } }), 'MinLimitExceeded', 'port');
    expect422(await p.post('/v1/containers', { imageUuid: 'sim:lim', healthCheck: { port: 70000 } }), 'MaxLimitExceeded', 'port');
    expect(
      (await p.post('/v1/containers', { imageUuid: 'sim:lim', startOnCreate: false, healthCheck: { port: 65535 } })).status,
    ).toBe(201);
    const stopped = await createStopped();
    expect422(await action(p, stopped, 'logs', { lines: -1 }), 'MinLimitExceeded', 'lines');
    const running = await createRunning();
    expect422(await action(p, running, 'proxy', { port: -1 }), 'MinLimitExceeded', 'port');
  });

  it('InvalidCharacters: VM disk names outside a-z0-9_.-', async () => {
    for (const name of ['Bad Name!', 'UPPER', 'a/b', 'disk name']) {
      expect422(
        await p.post('/v1/virtualmachines', { imageUuid: 'sim:ch', disks: [{ name: 'ok-disk' }, { name }] }),
        'InvalidCharacters',
        'name',
      );
    }
  });

  it('InvalidReference: unknown, malformed, unmodelled or foreign ids', async () => {
    const foreign = await createRunning(other);
    const foreignVm = await create(other, { imageUuid: 'sim:vm', startOnCreate: false }, '/v1/virtualmachines');
    const cases: Array<[string, Json, string]> = [
      ['/v1/containers', { requestedHostId: '1h999' }, 'requestedHostId'],
      ['/v1/containers', { requestedHostId: 'not-an-id' }, 'requestedHostId'],
      ['/v1/containers', { requestedHostId: '1i1' }, 'requestedHostId'],
      ['/v1/containers', { networkContainerId: foreign.id }, 'networkContainerId'],
      ['/v1/containers', { networkContainerId: foreignVm.id }, 'networkContainerId'],
      ['/v1/containers', { networkContainerId: '1i999999' }, 'networkContainerId'],
      ['/v1/containers', { dataVolumesFrom: [foreign.id] }, 'dataVolumesFrom'],
      ['/v1/containers', { registryCredentialId: '1rc1' }, 'registryCredentialId'],
      ['/v1/containers', { dataVolumeMounts: { '/data': '1v1' } }, 'dataVolumeMounts'],
      ['/v1/containers', { networkIds: ['1n1'] }, 'networkIds'],
      ['/v1/virtualmachines', { networkIds: ['1n1'] }, 'networkIds'],
      ['/v1/virtualmachines', { requestedHostId: '1h999' }, 'requestedHostId'],
    ];
    for (const [path, extra, field] of cases) {
      expect422(await p.post(path, { imageUuid: 'sim:ref', ...extra }), 'InvalidReference', field);
    }
    // The same ids are fine from inside their own project.
    const ok = await other.post('/v1/containers', { imageUuid: 'sim:ref', networkMode: 'container', networkContainerId: foreign.id });
    expect(ok.status).toBe(201);
    expect(ok.body.networkContainerId).toBe(foreign.id);
    // And the admin working in the key's project cannot point across projects either.
    const asAdmin = await t.admin.post(`/v1/projects/${projectId}/containers`, { imageUuid: 'sim:ref', networkContainerId: foreign.id });
    expect422(asAdmin, 'InvalidReference', 'networkContainerId');
  });

  it('action errors: InvalidAction for an unknown action, ActionNotAvailable for one the state lacks', async () => {
    const c = await createRunning();
    const bad = await action(p, c, 'explode');
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ type: 'error', status: 422, code: 'InvalidAction', fieldName: 'action', message: null });
    const na = await action(p, c, 'start');
    expect(na.status).toBe(422);
    expect(na.body).toMatchObject({ type: 'error', status: 422, code: 'ActionNotAvailable', fieldName: 'action', message: null });
    // Input of an action that is not available is not looked at.
    expect((await action(p, c, 'start', { bogus: null })).body.code).toBe('ActionNotAvailable');
  });

  it('stop input is validated: timeout must be an int', async () => {
    const c = await createRunning();
    expect422(await action(p, c, 'stop', { timeout: 'soon' }), 'InvalidFormat', 'timeout');
    const ok = await action(p, c, 'stop', { timeout: '0', remove: false, extra: 'ignored' });
    expect(ok.status).toBe(202);
    expect(ok.body.state).toBe('stopping');
  });
});

describe('400 InvalidBodyContent', () => {
  function expect400(r: Reply) {
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.id).toMatch(UUID_RE);
    expect(r.body).toMatchObject({ type: 'error', links: {}, actions: {}, status: 400, code: 'InvalidBodyContent', detail: null });
    expect(typeof r.body.message).toBe('string');
    expect(r.body).not.toHaveProperty('fieldName');
  }

  it('for malformed JSON, a JSON array and other non-objects, with or without Content-Type', async () => {
    for (const raw of ['{"imageUuid": ', 'not json', '[{"imageUuid": "sim:x"}]', '[]', '"sim:x"', '42', 'null', 'true']) {
      expect400(await p.request('POST', '/v1/containers', undefined, { raw }));
      expect400(await p.request('POST', '/v1/containers', undefined, { raw, headers: { 'content-type': 'application/json' } }));
    }
  });

  it('on PUT and on action input too', async () => {
    const c = await createRunning();
    expect400(await p.request('PUT', `/v1/containers/${c.id}`, undefined, { raw: '{name: "x"}' }));
    expect400(await p.request('PUT', `/v1/containers/${c.id}`, undefined, { raw: '["x"]' }));
    expect400(await p.request('POST', `/v1/containers/${c.id}/?action=stop`, undefined, { raw: '{' }));
    expect((await p.get(`/v1/containers/${c.id}`)).body.state).toBe('running');
  });

  it('a malformed percent-escape in the path is 400 Bad Request, not a 500', async () => {
    for (const path of ['/v1/containers/%ZZ', '/v1/%E0%A4%A', '/v1/schemas/%']) {
      const r = await p.get(path);
      expect(r.status, path).toBe(400);
      expect(r.body).toMatchObject({ type: 'error', status: 400, code: 'Bad Request' });
    }
  });

  it('an empty body is an empty object, and JSON is read whatever the Content-Type says', async () => {
    expect422(await p.request('POST', '/v1/containers', undefined, { raw: '' }), 'MissingRequired', 'imageUuid');
    const r = await p.request('POST', '/v1/containers', undefined, {
      raw: JSON.stringify({ imageUuid: 'sim:ct', name: 'ct' }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(r.status).toBe(201);
    expect(r.body.name).toBe('ct');
  });
});
