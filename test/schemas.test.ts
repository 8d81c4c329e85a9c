/**
 * End-to-end tests of the schema endpoints (spec §1.1, §1.7, §1.10, §2.1-2.8): `/`, `/v1`, `/v1/schemas` and
 * `/v1/schemas/<id>`, checked against the spec's tables and the Rancher API doc pages Drover was built from
 * (seeds 000-003, embedded below as literal data so the test needs nothing outside the repository).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from './helpers/client.js';
import { Client as HttpClient } from './helpers/client.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let base: string;
let project: { client: Client; projectId: string };
let adminSchemas: Json;
let projectSchemas: Json;

const get = async (c: Client, path: string) => {
  const r = await c.get(path);
  expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body as Json;
};

beforeAll(async () => {
  t = await startTestStack();
  base = t.stack.url.replace(/\/$/, '').toLowerCase();
  project = await projectClient(t.admin, 'schemas-test');
  [adminSchemas, projectSchemas] = await Promise.all([get(t.admin, '/v1/schemas'), get(project.client, '/v1/schemas')]);
});
afterAll(() => t.close());

const byId = (coll: Json, id: string): Json => {
  const s = coll.data.find((x: Json) => x.id === id);
  expect(s, `schema ${id} in the collection`).toBeDefined();
  return s;
};

// ---- modifiers by field type (spec §1.6) ----
const NUMERIC = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'null', 'notnull'];
const STRING = ['eq', 'ne', 'prefix', 'like', 'notlike', 'null', 'notnull'];
const EQUALITY = ['eq', 'ne', 'null', 'notnull'];

/** The 17 instance states of spec §1.7 / §9 of the summary, in the dump's (sorted) order. */
const INSTANCE_STATES = [
  'creating', 'error', 'erroring', 'migrating', 'purged', 'purging', 'removed', 'removing', 'requested',
  'restarting', 'restoring', 'running', 'starting', 'stopped', 'stopping', 'updating-running', 'updating-stopped',
];

/** instanceLink states (seed 003, spec §2.8). */
const LINK_STATES = [
  'activating', 'active', 'deactivating', 'inactive', 'purged', 'purging', 'registering', 'removed', 'removing',
  'requested', 'restoring', 'updating-active', 'updating-inactive',
];

/**
 * Seed 002 (virtualMachine, "Resource Fields"): field, type, Create ("Optional" → true), Update ("Yes" → true),
 * Default ("-" → none). Reference and embedded types are written as the schema spells them (the seed renders
 * them as links: `[host]` is `reference[host]`, `[instanceHealthCheck]` the embedded type).
 */
const SEED_VM: Array<[string, string, boolean, boolean, unknown?]> = [
  ['command', 'array[string]', true, false],
  ['count', 'int', true, false],
  ['cpuSet', 'string', true, false],
  ['cpuShares', 'int', true, false],
  ['createIndex', 'int', false, false],
  ['deploymentUnitUuid', 'string', false, false],
  ['description', 'string', true, true],
  ['disks', 'array[virtualMachineDisk]', true, false],
  ['dns', 'array[string]', true, false],
  ['dnsSearch', 'array[string]', true, false],
  ['domainName', 'string', true, false],
  ['expose', 'array[string]', true, false],
  ['externalId', 'string', false, false],
  ['extraHosts', 'array[string]', true, false],
  ['firstRunning', 'date', false, false],
  ['healthCheck', 'instanceHealthCheck', true, false],
  ['healthState', 'enum', false, false],
  ['hostId', 'reference[host]', false, false],
  ['hostname', 'string', true, false],
  ['id', 'int', false, false],
  ['imageUuid', 'string', true, false],
  ['instanceLinks', 'map[reference[instance]]', true, false],
  ['labels', 'map[string]', true, false],
  ['logConfig', 'logConfig', true, false],
  ['memory', 'int', true, false],
  ['memoryMb', 'int', true, false, 512],
  ['memorySwap', 'int', true, false],
  ['name', 'string', true, true],
  ['nativeContainer', 'boolean', false, false],
  ['networkIds', 'array[reference[network]]', true, false],
  ['networkMode', 'enum', true, false, 'managed'],
  ['ports', 'array[string]', true, false],
  ['primaryIpAddress', 'string', false, false],
  ['registryCredentialId', 'reference[registryCredential]', true, false],
  ['requestedHostId', 'reference[host]', true, false],
  ['restartPolicy', 'restartPolicy', true, false],
  ['securityOpt', 'array[string]', true, false],
  ['startCount', 'int', false, false],
  ['startOnCreate', 'boolean', true, false, true],
  ['systemContainer', 'enum', false, false],
  ['userdata', 'string', true, false],
  ['vcpu', 'int', true, false, 1],
  ['version', 'string', false, false, '0'],
  ['volumeDriver', 'string', true, false],
];

/** Seeds 000/001 (instance, "Resource Fields"). */
const SEED_INSTANCE: Array<[string, string, boolean, boolean]> = [
  ['description', 'string', true, true],
  ['externalId', 'string', false, false],
  ['hostId', 'reference[host]', false, false],
  ['id', 'int', false, false],
  ['name', 'string', true, true],
];

/** Seed 003 (instanceLink, "Resource Fields"). */
const SEED_LINK: Array<[string, string, boolean, boolean]> = [
  ['id', 'int', false, false],
  ['kind', 'string', false, false],
  ['name', 'string', true, true],
  ['state', 'enum', false, false],
  ['instanceId', 'reference[instance]', false, false],
  ['linkName', 'string', false, false],
  ['targetInstanceId', 'reference[instance]', false, true],
  ['accountId', 'reference[account]', false, false],
  ['created', 'date', false, false],
  ['description', 'string', true, true],
  ['removed', 'date', false, false],
  ['transitioning', 'enum', false, false],
  ['transitioningMessage', 'string', false, false],
  ['transitioningProgress', 'int', false, false],
  ['uuid', 'string', false, false],
];

/**
 * Spec §2.3 (container, project-role view): field, type, acl (c = create, u = update), nullable ("N" rows are
 * false; `undefined` where the table leaves it blank), and extra attributes the table states.
 */
const SPEC_CONTAINER: Array<[string, string, string, boolean | undefined, Json?]> = [
  ['accountId', 'reference[account]', 'r', true],
  ['build', 'dockerBuild', 'cr', true],
  ['capAdd', 'array[enum]', 'cr', true],
  ['capDrop', 'array[enum]', 'cr', true],
  ['command', 'array[string]', 'cr', true],
  ['count', 'int', 'cr', true],
  ['cpuSet', 'string', 'cr', true],
  ['cpuShares', 'int', 'cr', true],
  ['createIndex', 'int', 'r', true],
  ['created', 'date', 'r', true],
  ['dataVolumeMounts', 'map[reference[volume]]', 'cr', true],
  ['dataVolumes', 'array[string]', 'cr', true],
  ['dataVolumesFrom', 'array[reference[container]]', 'cr', true],
  ['deploymentUnitUuid', 'string', 'r', true],
  ['description', 'string', 'cru', true, { maxLength: 1024 }],
  ['devices', 'array[string]', 'cr', true],
  ['dns', 'array[string]', 'cr', true],
  ['dnsSearch', 'array[string]', 'cr', true],
  ['domainName', 'string', 'cr', true],
  ['entryPoint', 'array[string]', 'cr', true],
  ['environment', 'map[string]', 'cr', false],
  ['expose', 'array[string]', 'cr', true],
  ['externalId', 'string', 'r', true],
  ['extraHosts', 'array[string]', 'cr', true],
  ['firstRunning', 'date', 'r', true],
  ['healthCheck', 'instanceHealthCheck', 'cr', true],
  ['healthState', 'enum', 'r', true],
  ['hostId', 'reference[host]', 'r', true],
  ['hostname', 'string', 'cr', true, { minLength: 1, maxLength: 255 }],
  ['id', 'int', 'r', undefined],
  ['imageUuid', 'string', 'cr', true],
  ['instanceLinks', 'map[reference[instance]]', 'cr', true],
  ['kind', 'string', 'r', true],
  ['labels', 'map[string]', 'cr', false],
  ['logConfig', 'logConfig', 'cr', true],
  ['lxcConf', 'map[string]', 'cr', true],
  ['memory', 'int', 'cr', true],
  ['memorySwap', 'int', 'cr', true],
  ['name', 'string', 'cru', true, { maxLength: 255 }],
  ['nativeContainer', 'boolean', 'r', false],
  ['networkContainerId', 'reference[container]', 'cr', true],
  ['networkIds', 'array[reference[network]]', 'cr', true],
  ['networkMode', 'enum', 'cr', true, { options: ['none', 'bridge', 'host', 'managed', 'container'], default: 'managed' }],
  ['pidMode', 'enum', 'cr', true, { options: ['host'] }],
  ['ports', 'array[string]', 'cr', true],
  ['primaryIpAddress', 'string', 'r', false],
  ['privileged', 'boolean', 'cr', false, { default: false }],
  ['publishAllPorts', 'boolean', 'cr', false, { default: false }],
  ['readOnly', 'boolean', 'cr', false, { default: false }],
  ['registryCredentialId', 'reference[registryCredential]', 'cr', true],
  ['removeTime', 'date', 'r', true],
  ['removed', 'date', 'r', true],
  ['requestedHostId', 'reference[host]', 'cr', true],
  ['restartPolicy', 'restartPolicy', 'cr', true],
  ['securityOpt', 'array[string]', 'cr', true],
  ['startCount', 'int', 'r', true],
  ['startOnCreate', 'boolean', 'cr', false, { default: true }],
  ['state', 'enum', 'r', false, { options: INSTANCE_STATES }],
  ['stdinOpen', 'boolean', 'cr', false, { default: false }],
  ['systemContainer', 'enum', 'r', true, { options: ['NetworkAgent', 'LoadBalancerAgent'] }],
  ['transitioning', 'enum', 'r', undefined],
  ['transitioningMessage', 'string', 'r', undefined],
  ['transitioningProgress', 'int', 'r', undefined],
  ['tty', 'boolean', 'cr', false, { default: false }],
  ['user', 'string', 'cr', true, { minLength: 1 }],
  ['uuid', 'string', 'r', true],
  ['version', 'string', 'r', false, { default: '0' }],
  ['volumeDriver', 'string', 'cr', true],
  ['workingDir', 'string', 'cr', true, { minLength: 1 }],
];

/** Container fields a virtual machine does not have (spec §2.4). */
const DOCKER_ONLY = [
  'build', 'capAdd', 'capDrop', 'dataVolumeMounts', 'dataVolumes', 'dataVolumesFrom', 'devices', 'entryPoint',
  'environment', 'lxcConf', 'networkContainerId', 'pidMode', 'privileged', 'publishAllPorts', 'readOnly',
  'stdinOpen', 'tty', 'user', 'workingDir',
];

/** Resource actions of the seeds (name → [input, output]); process actions without input show `null`. */
const SEED_INSTANCE_ACTIONS: Record<string, [string | null, string]> = {
  allocate: [null, 'instance'],
  console: ['instanceConsoleInput', 'instanceConsole'],
  deallocate: [null, 'instance'],
  error: [null, 'instance'],
  migrate: [null, 'instance'],
  purge: [null, 'instance'],
  remove: [null, 'instance'],
  restart: [null, 'instance'],
  restore: [null, 'instance'],
  start: [null, 'instance'],
  stop: ['instanceStop', 'instance'],
  updatehealthy: [null, 'instance'],
  updatereinitializing: [null, 'instance'],
  updateunhealthy: [null, 'instance'],
};
const SEED_VM_ACTIONS: Record<string, [string | null, string]> = {
  ...SEED_INSTANCE_ACTIONS,
  execute: ['containerExec', 'hostAccess'],
  logs: ['containerLogs', 'hostAccess'],
  proxy: ['containerProxy', 'hostAccess'],
  setlabels: ['setLabelsInput', 'container'],
};
const SEED_LINK_ACTIONS: Record<string, [string | null, string]> = {
  activate: [null, 'instanceLink'],
  deactivate: [null, 'instanceLink'],
  purge: [null, 'instanceLink'],
  remove: [null, 'instanceLink'],
  restore: [null, 'instanceLink'],
};

function expectSeedFields(s: Json, seed: Array<[string, string, boolean, boolean, unknown?]>, withDefaults: boolean) {
  for (const [name, type, create, update, dflt] of seed) {
    const f = s.resourceFields[name];
    expect(f, `${s.id}.${name} exists`).toBeDefined();
    expect({ name, type: f.type, create: f.create, update: f.update }).toEqual({ name, type, create, update });
    if (withDefaults) expect({ name, default: f.default }).toEqual({ name, default: dflt });
  }
}

function expectActions(s: Json, expected: Record<string, [string | null, string]>) {
  for (const [name, [input, output]] of Object.entries(expected)) {
    expect({ name, ...s.resourceActions[name] }).toEqual({ name, input, output });
  }
}

describe('GET / (versions)', () => {
  it('is public and lists v1 with self and latest links', async () => {
    const anon = new HttpClient(t.stack.url);
    const r = await anon.get('/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual({
      type: 'collection',
      resourceType: 'apiVersion',
      links: { self: `${base}/`, latest: `${base}/v1` },
      createTypes: {},
      actions: {},
      data: [{ id: 'v1', type: 'apiVersion', links: { self: `${base}/v1` }, actions: {} }],
      sortLinks: {},
      pagination: null,
      sort: null,
      filters: {},
      createDefaults: {},
    });
    expect(Object.keys(r.body)).toEqual([
      'type', 'resourceType', 'links', 'createTypes', 'actions', 'data', 'sortLinks', 'pagination', 'sort', 'filters',
      'createDefaults',
    ]);
  });

  it('builds its links from X-Forwarded-* headers', async () => {
    const r = await new HttpClient(t.stack.url).get('/', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'Rancher.Example.com', 'x-forwarded-port': '443' },
    });
    expect(r.body.links).toEqual({ self: 'https://rancher.example.com/', latest: 'https://rancher.example.com/v1' });
  });
});

describe('GET /v1', () => {
  it('answers with an apiVersion, X-API-Schemas and a link per listable collection (admin)', async () => {
    const r = await t.admin.get('/v1');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-api-schemas')).toBe(`${base}/v1/schemas`);
    expect(r.body).toMatchObject({ id: 'v1', type: 'apiVersion', actions: {} });
    expect(Object.keys(r.body)).toEqual(['id', 'type', 'links', 'actions']);
    const links = r.body.links as Record<string, string>;
    expect(links).toMatchObject({
      self: `${base}/v1`,
      schemas: `${base}/v1/schemas`,
      containers: `${base}/v1/containers`,
      instances: `${base}/v1/instances`,
      virtualMachines: `${base}/v1/virtualmachines`,
      instanceLinks: `${base}/v1/instancelinks`,
      hosts: `${base}/v1/hosts`,
      projects: `${base}/v1/projects`,
      apiKeys: `${base}/v1/apikeys`,
    });
    // Keys are sorted (a TreeMap in cattle), values lower-cased.
    expect(Object.keys(links)).toEqual([...Object.keys(links)].sort());
    for (const v of Object.values(links)) expect(v).toBe(v.toLowerCase());
    // Only GET-able, stored collections: no embedded or action-input types.
    expect(links).not.toHaveProperty('instanceStops');
    expect(links).not.toHaveProperty('containerExecs');
    // Every link but self and schemas is the collection link of the schema with that plural name.
    for (const [k, v] of Object.entries(links)) {
      if (k === 'self' || k === 'schemas') continue;
      const s = adminSchemas.data.find((x: Json) => x.pluralName === k);
      expect(s, `schema with pluralName ${k}`).toBeDefined();
      expect(s.collectionMethods).toContain('GET');
      expect(s.links.collection).toBe(v);
    }
  });

  it('hides admin-only collections from a project key', async () => {
    const r = await project.client.get('/v1');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-api-schemas')).toBe(`${base}/v1/schemas`);
    expect(r.body.links).not.toHaveProperty('projects');
    expect(r.body.links).not.toHaveProperty('apiKeys');
    expect(r.body.links.containers).toBe(`${base}/v1/containers`);
    expect(r.body.links.instanceLinks).toBe(`${base}/v1/instancelinks`);
  });

  it('needs authentication (unlike the versions root)', async () => {
    const r = await new HttpClient(t.stack.url).get('/v1');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ type: 'error', status: 401, code: 'Unauthorized' });
  });
});

describe('GET /v1/schemas', () => {
  it('is a schema collection with X-API-Schemas', async () => {
    const r = await t.admin.get('/v1/schemas');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-api-schemas')).toBe(`${base}/v1/schemas`);
    expect(r.body).toMatchObject({
      type: 'collection',
      resourceType: 'schema',
      links: { self: `${base}/v1/schemas` },
      createTypes: {},
      actions: {},
    });
    const ids = r.body.data.map((s: Json) => s.id);
    for (const id of [
      'instance', 'container', 'virtualMachine', 'instanceLink', 'host', 'project', 'apiKey', 'restartPolicy',
      'logConfig', 'instanceHealthCheck', 'dockerBuild', 'virtualMachineDisk', 'instanceStop', 'containerExec',
      'containerLogs', 'containerProxy', 'instanceConsoleInput', 'setLabelsInput', 'hostAccess', 'instanceConsole',
    ]) {
      expect(ids).toContain(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every schema has the §1.7 shape and key order', () => {
    for (const s of adminSchemas.data as Json[]) {
      expect(Object.keys(s), s.id).toEqual([
        'id', 'type', 'links', 'actions', 'pluralName', 'resourceFields', 'collectionFilters', 'includeableLinks',
        'resourceActions', 'collectionActions', 'collectionFields', 'collectionMethods', 'resourceMethods',
      ]);
      expect(s.type).toBe('schema');
      expect(s.actions).toEqual({});
      expect(s.collectionActions).toEqual({});
      expect(s.collectionFields).toEqual({});
      expect(s.links.self).toBe(`${base}/v1/schemas/${s.id.toLowerCase()}`);
      expect(Array.isArray(s.includeableLinks)).toBe(true);
      for (const [name, a] of Object.entries(s.resourceActions as Record<string, Json>)) {
        expect(Object.keys(a), `${s.id}.${name}`).toEqual(['input', 'output']);
      }
    }
  });

  it('field attributes: type, description, create, update, readOnCreateOnly always; nullable/required/unique only when true', () => {
    for (const s of adminSchemas.data as Json[]) {
      for (const [name, f] of Object.entries(s.resourceFields as Record<string, Json>)) {
        const where = `${s.id}.${name}`;
        expect(typeof f.type, where).toBe('string');
        expect(f.description, where).toBeNull();
        expect(typeof f.create, where).toBe('boolean');
        expect(typeof f.update, where).toBe('boolean');
        expect(f.readOnCreateOnly, where).toBeTypeOf('boolean');
        for (const flag of ['nullable', 'required', 'unique']) {
          if (flag in f) expect(f[flag], `${where}.${flag}`).toBe(true);
        }
        // Server-side attributes are never serialized.
        for (const hidden of ['filter', 'output', 'scheduleUpdate', 'requiredOnCreate', 'initialValue']) {
          expect(f, where).not.toHaveProperty(hidden);
        }
        expect(Object.keys(f).slice(0, 4), where).toEqual(['type', 'description', 'create', 'update']);
        const known = [
          'type', 'description', 'create', 'update', 'nullable', 'required', 'unique', 'readOnCreateOnly', 'default',
          'options', 'min', 'max', 'minLength', 'maxLength', 'validChars', 'invalidChars',
          // Drover's bound on list and map entries; clients ignore attributes they do not know.
          'maxItems',
        ];
        for (const k of Object.keys(f)) expect(known, `${where}.${k}`).toContain(k);
        if (f.type === 'enum') expect(Array.isArray(f.options), where).toBe(true);
      }
    }
  });

  it('links.collection only for stored types, lower-cased; plural names as declared', () => {
    const stored: Record<string, string> = {
      instance: 'instances',
      container: 'containers',
      virtualMachine: 'virtualMachines',
      instanceLink: 'instanceLinks',
      host: 'hosts',
      project: 'projects',
      apiKey: 'apiKeys',
      registrationToken: 'registrationTokens',
      receiver: 'receivers',
      webhook: 'webhooks',
      webhookDelivery: 'webhookDeliveries',
      auditEntry: 'auditEntries',
    };
    for (const s of adminSchemas.data as Json[]) {
      if (s.id in stored) {
        expect(s.pluralName).toBe(stored[s.id]);
        expect(s.links).toEqual({
          self: `${base}/v1/schemas/${s.id.toLowerCase()}`,
          collection: `${base}/v1/${stored[s.id].toLowerCase()}`,
        });
      } else {
        expect(s.links, s.id).toEqual({ self: `${base}/v1/schemas/${s.id.toLowerCase()}` });
        expect(s.collectionFilters, s.id).toEqual({});
        expect(s.includeableLinks, s.id).toEqual([]);
        expect(s.resourceActions, s.id).toEqual({});
      }
    }
    expect(byId(adminSchemas, 'instanceStop').pluralName).toBe('instanceStops');
  });

  it('methods per spec §2.1', () => {
    const methods: Record<string, [string[], string[]]> = {
      instance: [['GET'], ['GET']],
      container: [['GET', 'POST'], ['GET', 'PUT', 'DELETE']],
      virtualMachine: [['GET', 'POST'], ['GET', 'PUT', 'DELETE']],
      instanceLink: [['GET'], ['GET', 'PUT']],
    };
    for (const [id, [coll, res]] of Object.entries(methods)) {
      for (const all of [adminSchemas, projectSchemas]) {
        const s = byId(all, id);
        expect({ id, collectionMethods: s.collectionMethods, resourceMethods: s.resourceMethods }).toEqual({
          id,
          collectionMethods: coll,
          resourceMethods: res,
        });
      }
    }
    // Action inputs are POST-only collections (DUMP instanceStop).
    for (const id of ['instanceStop', 'containerExec', 'containerLogs', 'containerProxy', 'setLabelsInput']) {
      expect(byId(adminSchemas, id).collectionMethods).toEqual(['POST']);
    }
  });

  it('a project key does not see the project and apiKey schemas', async () => {
    const ids = projectSchemas.data.map((s: Json) => s.id);
    expect(ids).not.toContain('project');
    expect(ids).not.toContain('apiKey');
    expect(ids).toContain('container');
    expect(ids).toContain('instanceStop');
    for (const id of ['project', 'apikey', 'apiKey']) {
      const r = await project.client.get(`/v1/schemas/${id}`);
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ type: 'error', status: 404, code: 'Not Found' });
    }
    expect((await t.admin.get('/v1/schemas/apikey')).status).toBe(200);
    // The schemas a project sees are the admin's, minus the admin-only ones.
    const adminIds = adminSchemas.data.map((s: Json) => s.id).filter((id: string) => id !== 'project' && id !== 'apiKey');
    expect(ids).toEqual(adminIds);
  });

  it('schema links keep the project sub-context', async () => {
    const coll = await get(project.client, `/v1/projects/${project.projectId}/schemas`);
    const prefix = `${base}/v1/projects/${project.projectId}`;
    expect(coll.links.self).toBe(`${prefix}/schemas`);
    const c = byId(coll, 'container');
    expect(c.links).toEqual({ self: `${prefix}/schemas/container`, collection: `${prefix}/containers` });
  });

  it('rejects methods other than GET', async () => {
    expect((await t.admin.post('/v1/schemas', {})).status).toBe(405);
    expect((await t.admin.del('/v1/schemas/container')).status).toBe(405);
  });
});

describe('GET /v1/schemas/<id>', () => {
  it('looks ids up case-insensitively and answers the same document as the collection', async () => {
    const exact = await get(t.admin, '/v1/schemas/virtualMachine');
    for (const path of ['/v1/schemas/virtualmachine', '/v1/schemas/VIRTUALMACHINE', '/v1/schemas/VirtualMachine']) {
      expect(await get(t.admin, path)).toEqual(exact);
    }
    expect(exact).toEqual(byId(adminSchemas, 'virtualMachine'));
    expect(exact.id).toBe('virtualMachine');
    expect(await get(t.admin, '/v1/schemas/instancestop')).toEqual(byId(adminSchemas, 'instanceStop'));
    const r = await t.admin.get('/v1/schemas/virtualMachine');
    expect(r.headers.get('x-api-schemas')).toBe(`${base}/v1/schemas`);
  });

  it('404 for an unknown schema', async () => {
    const r = await t.admin.get('/v1/schemas/nosuchtype');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ type: 'error', status: 404, code: 'Not Found' });
  });

  it('serves instanceStop exactly as the cattle dump (§1.10)', async () => {
    const s = await get(t.admin, '/v1/schemas/instanceStop');
    const expected = {
      id: 'instanceStop',
      type: 'schema',
      links: { self: `${base}/v1/schemas/instancestop` },
      actions: {},
      pluralName: 'instanceStops',
      resourceFields: {
        remove: { type: 'boolean', description: null, create: true, update: false, readOnCreateOnly: false },
        timeout: { type: 'int', description: null, create: true, update: false, readOnCreateOnly: false },
      },
      collectionFilters: {},
      includeableLinks: [],
      resourceActions: {},
      collectionActions: {},
      collectionFields: {},
      collectionMethods: ['POST'],
      resourceMethods: ['GET'],
    };
    expect(s).toEqual(expected);
    // Same serialization, key order included.
    expect(JSON.stringify(s)).toBe(JSON.stringify(expected));
  });

  it('container: the §1.7 example fields, attribute for attribute', async () => {
    const f = (await get(t.admin, '/v1/schemas/container')).resourceFields;
    // cattle's dump gives imageUuid no limit; Drover bounds every writable string (a 1 MB image name was a 500).
    expect(f.imageUuid).toEqual({
      type: 'string', description: null, create: true, update: false, nullable: true, readOnCreateOnly: false, maxLength: 1024,
    });
    expect(f.name).toEqual({
      type: 'string', description: null, create: true, update: true, nullable: true, readOnCreateOnly: false, maxLength: 255,
    });
    expect(f.startOnCreate).toEqual({ type: 'boolean', description: null, create: true, update: false, readOnCreateOnly: false, default: true });
    expect(JSON.stringify(f.networkMode)).toBe(
      JSON.stringify({
        type: 'enum', description: null, create: true, update: false, nullable: true, readOnCreateOnly: false,
        options: ['none', 'bridge', 'host', 'managed', 'container'], default: 'managed',
      }),
    );
    expect(JSON.stringify(f.state)).toBe(
      JSON.stringify({
        type: 'enum', description: null, create: false, update: false, readOnCreateOnly: false, maxLength: 128,
        options: INSTANCE_STATES,
      }),
    );
  });

  it('container: state options are the 17 instance states; instance and virtualMachine share them', async () => {
    for (const id of ['container', 'instance', 'virtualMachine']) {
      const s = byId(adminSchemas, id);
      expect(s.resourceFields.state.options, id).toEqual(INSTANCE_STATES);
    }
    expect(byId(adminSchemas, 'instanceLink').resourceFields.state.options).toEqual(LINK_STATES);
    expect(byId(adminSchemas, 'container').resourceFields.transitioning.options.slice().sort()).toEqual(['error', 'no', 'yes']);
  });

  it('container: every field of spec §2.3 with its flags, nullability and limits', () => {
    const s = byId(projectSchemas, 'container');
    for (const [name, type, acl, nullable, extra] of SPEC_CONTAINER) {
      const f = s.resourceFields[name];
      expect(f, `container.${name}`).toBeDefined();
      expect({ name, type: f.type, create: f.create, update: f.update }).toEqual({
        name,
        type,
        create: acl.includes('c'),
        update: acl.includes('u'),
      });
      if (nullable === true) expect({ name, nullable: f.nullable }).toEqual({ name, nullable: true });
      if (nullable === false) expect(f, `container.${name} not nullable`).not.toHaveProperty('nullable');
      if (extra) expect({ name, ...f }).toMatchObject({ name, ...extra });
    }
    expect(s.resourceFields.capAdd.options).toHaveLength(38);
    expect(s.resourceFields.capAdd.options).toContain('NET_ADMIN');
    expect(s.resourceFields.capDrop.options).toEqual(s.resourceFields.capAdd.options);
    // Fields the spec says are not part of the project view.
    for (const hidden of ['data', 'token', 'agentId', 'allocationState', 'dockerPorts', 'dockerIp']) {
      expect(s.resourceFields, hidden).not.toHaveProperty(hidden);
    }
  });

  it('virtualMachine: every field of seed 002 with its create/update flags and defaults', () => {
    const s = byId(projectSchemas, 'virtualMachine');
    expectSeedFields(s, SEED_VM, true);
    // The seed lists the type's own fields; the rest are the common fields (spec §2.2).
    const common = ['accountId', 'created', 'kind', 'removeTime', 'removed', 'state', 'transitioning', 'transitioningMessage', 'transitioningProgress', 'uuid'];
    // Drover adds the instance's Wakame id and state (the same instance on `/api`).
    const wakame = ['wakameId', 'wakameState'];
    // And where its host publishes its ports (Rancher 1.x's publicEndpoints, reported by the process driver).
    const published = ['publicEndpoints'];
    expect(Object.keys(s.resourceFields).sort()).toEqual([...SEED_VM.map(([n]) => n), ...common, ...wakame, ...published].sort());
    for (const name of DOCKER_ONLY) expect(s.resourceFields, name).not.toHaveProperty(name);
    expect(s.resourceFields.userdata.maxLength).toBe(65535);
  });

  it('container: the seed 002 fields it shares with virtualMachine have the same flags and defaults', () => {
    const vmOnly = ['disks', 'memoryMb', 'userdata', 'vcpu'];
    const c = byId(projectSchemas, 'container');
    expectSeedFields(c, SEED_VM.filter(([n]) => !vmOnly.includes(n)), true);
    for (const name of vmOnly) expect(c.resourceFields, name).not.toHaveProperty(name);
  });

  it('instance: the fields of seeds 000/001, read-only type', () => {
    const s = byId(projectSchemas, 'instance');
    expectSeedFields(s, SEED_INSTANCE, true);
    for (const name of ['imageUuid', 'ports', 'vcpu', 'startOnCreate']) expect(s.resourceFields, name).not.toHaveProperty(name);
  });

  it('instanceLink: the fields of seed 003', () => {
    const s = byId(projectSchemas, 'instanceLink');
    expectSeedFields(s, SEED_LINK, true);
    expect(s.resourceFields.state.options).toEqual(LINK_STATES);
  });

  it('resource actions and their input/output types match the seeds', () => {
    expectActions(byId(adminSchemas, 'instance'), SEED_INSTANCE_ACTIONS);
    expectActions(byId(adminSchemas, 'container'), SEED_VM_ACTIONS);
    expectActions(byId(adminSchemas, 'virtualMachine'), SEED_VM_ACTIONS);
    expectActions(byId(adminSchemas, 'instanceLink'), SEED_LINK_ACTIONS);
    // create/update are processes too (auto-added by cattle: DUMP lists them on instance).
    expect(byId(adminSchemas, 'container').resourceActions.update).toEqual({ input: null, output: 'instance' });
    expect(byId(adminSchemas, 'instanceLink').resourceActions.update).toEqual({ input: null, output: 'instanceLink' });
    // The base instance has no docker handler actions.
    for (const a of ['execute', 'logs', 'proxy', 'setlabels']) {
      expect(byId(adminSchemas, 'instance').resourceActions).not.toHaveProperty(a);
    }
    // Every input/output names a served schema.
    const ids = new Set(adminSchemas.data.map((s: Json) => s.id));
    for (const s of adminSchemas.data as Json[]) {
      for (const [name, a] of Object.entries(s.resourceActions as Record<string, Json>)) {
        if (a.input !== null) expect(ids.has(a.input), `${s.id}.${name} input ${a.input}`).toBe(true);
        expect(ids.has(a.output), `${s.id}.${name} output ${a.output}`).toBe(true);
      }
    }
  });

  it('action input schemas: defaults and required flags of seed 002 / spec §2.7', () => {
    const exec = byId(adminSchemas, 'containerExec').resourceFields;
    expect(exec.command).toMatchObject({ type: 'array[string]', create: true, required: true });
    for (const k of ['attachStdin', 'attachStdout', 'tty']) expect(exec[k]).toMatchObject({ type: 'boolean', default: true });
    const logs = byId(adminSchemas, 'containerLogs').resourceFields;
    expect(logs.follow).toMatchObject({ type: 'boolean', default: true });
    expect(logs.lines).toMatchObject({ type: 'int', min: 0, default: 100 });
    const proxy = byId(adminSchemas, 'containerProxy').resourceFields;
    expect(proxy.port).toMatchObject({ type: 'int', min: 0, default: 80 });
    expect(proxy.scheme).toMatchObject({ type: 'enum', options: ['http', 'https'], default: 'http' });
    const labels = byId(adminSchemas, 'setLabelsInput').resourceFields.labels;
    expect(labels).toMatchObject({ type: 'json', create: true });
    expect(labels).not.toHaveProperty('required');
    expect(byId(adminSchemas, 'instanceConsoleInput').resourceFields).toEqual({});
    expect(Object.keys(byId(adminSchemas, 'hostAccess').resourceFields).sort()).toEqual(['token', 'url']);
    expect(Object.keys(byId(adminSchemas, 'instanceConsole').resourceFields).sort()).toEqual(['kind', 'password', 'url']);
  });

  it('embedded types of spec §2.6', () => {
    const names = (id: string) => Object.keys(byId(adminSchemas, id).resourceFields).sort();
    expect(names('restartPolicy')).toEqual(['maximumRetryCount', 'name']);
    expect(byId(adminSchemas, 'restartPolicy').resourceFields.name).toMatchObject({ create: true, update: true });
    expect(byId(adminSchemas, 'restartPolicy').resourceFields.maximumRetryCount).toMatchObject({ type: 'int', create: true, update: false });
    expect(names('logConfig')).toEqual(['config', 'driver']);
    expect(byId(adminSchemas, 'logConfig').resourceFields.config.type).toBe('map[string]');
    expect(names('dockerBuild')).toEqual(['context', 'dockerfile', 'forcerm', 'nocache', 'remote', 'rm']);
    expect(names('instanceHealthCheck')).toEqual([
      'healthyThreshold', 'initializingTimeout', 'interval', 'name', 'port', 'recreateOnQuorumStrategyConfig',
      'reinitializingTimeout', 'requestLine', 'responseTimeout', 'strategy', 'unhealthyThreshold',
    ]);
    const hc = byId(adminSchemas, 'instanceHealthCheck').resourceFields;
    expect(hc.port).toMatchObject({ type: 'int', required: true, min: 1, max: 65535 });
    expect(hc.strategy).toMatchObject({ type: 'enum', options: ['none', 'recreate', 'recreateOnQuorum'], default: 'recreate' });
    const disk = byId(adminSchemas, 'virtualMachineDisk').resourceFields;
    expect(Object.keys(disk).sort()).toEqual(['driver', 'name', 'opts', 'root', 'size']);
    expect(disk.name).toMatchObject({ type: 'string', validChars: 'a-z0-9_.-', minLength: 2 });
    expect(disk.size).toMatchObject({ type: 'string', default: '40g' });
    expect(disk.opts.type).toBe('map[string]');
    expect(disk.root.type).toBe('boolean');
  });

  it('collection filters: modifiers follow the field type, and every filter is a resource field', () => {
    const c = byId(projectSchemas, 'container');
    const filters = c.collectionFilters as Record<string, Json>;
    expect(filters.name).toEqual({ modifiers: STRING });
    expect(filters.hostname).toEqual({ modifiers: STRING });
    expect(filters.imageUuid).toEqual({ modifiers: STRING });
    expect(filters.state).toEqual({ modifiers: EQUALITY });
    expect(filters.accountId).toEqual({ modifiers: EQUALITY });
    expect(filters.nativeContainer).toEqual({ modifiers: EQUALITY });
    expect(filters.created).toEqual({ modifiers: NUMERIC });
    expect(filters.startCount).toEqual({ modifiers: NUMERIC });
    expect(filters.id).toEqual({ modifiers: NUMERIC });
    expect(byId(projectSchemas, 'virtualMachine').collectionFilters.memoryMb).toEqual({ modifiers: NUMERIC });
    expect(byId(projectSchemas, 'instanceLink').collectionFilters.instanceId).toEqual({ modifiers: EQUALITY });
    expect(byId(projectSchemas, 'instanceLink').collectionFilters.targetInstanceId).toEqual({ modifiers: EQUALITY });
    for (const s of adminSchemas.data as Json[]) {
      const keys = Object.keys(s.collectionFilters);
      expect(keys, s.id).toEqual([...keys].sort());
      for (const [name, m] of Object.entries(s.collectionFilters as Record<string, Json>)) {
        // cattle honours a filter only when the field is also a resource field (§1.6).
        const f = s.resourceFields[name];
        expect(f, `${s.id} filter ${name} is a field`).toBeDefined();
        const expected = f.type === 'int' || f.type === 'date' ? NUMERIC : f.type === 'string' ? STRING : EQUALITY;
        expect({ field: `${s.id}.${name}`, modifiers: m.modifiers }).toEqual({ field: `${s.id}.${name}`, modifiers: expected });
      }
    }
    // Filters are offered; fields that are not filters are not.
    expect(filters).not.toHaveProperty('ports');
    expect(filters).not.toHaveProperty('labels');
  });

  it('includeableLinks are the lower-cased link names', () => {
    const c = byId(adminSchemas, 'container');
    expect(c.includeableLinks).toEqual(expect.arrayContaining(['account', 'instancelinks', 'targetinstancelinks']));
    for (const l of c.includeableLinks) expect(l).toBe(l.toLowerCase());
  });

  it('the schema collection link of a type lists that type', async () => {
    for (const id of ['container', 'virtualMachine', 'instance', 'instanceLink']) {
      const s = byId(adminSchemas, id);
      const r = await t.admin.get(s.links.collection);
      expect(r.status, id).toBe(200);
      expect(r.body.resourceType).toBe(id);
    }
  });
});
