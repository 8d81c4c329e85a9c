/**
 * Collections end to end (spec §1.6, §1.10; README D4): the collection JSON, every filter modifier, sorting,
 * keyset pagination with opaque markers (also while other requests insert), removed visibility, link
 * collections and project scoping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listResources } from '../core/domain/query.js';
import { parseFilters } from '../core/domain/filters.js';
import { schema } from '../core/schema/registry.js';
import type { Client } from './helpers/client.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
let base: string;

beforeAll(async () => {
  t = await startTestStack();
  base = t.stack.url.toLowerCase();
});
afterAll(() => t.close());

// ---------------------------------------------------------------- helpers

const COLLECTION_KEYS = [
  'type',
  'resourceType',
  'links',
  'createTypes',
  'actions',
  'data',
  'sortLinks',
  'pagination',
  'sort',
  'filters',
  'createDefaults',
];

/** A fresh project, and the admin working inside it through `X-API-Project-Id`. */
async function adminIn(name: string): Promise<{ c: Client; projectId: string }> {
  const p = await t.admin.post('/v1/projects', { name });
  expect(p.status).toBe(201);
  return { c: t.admin.with({ 'X-API-Project-Id': p.body.id }), projectId: p.body.id };
}

async function mk(c: Client, body: Record<string, unknown> = {}, plural = 'containers'): Promise<any> {
  const r = await c.post(`/v1/${plural}`, { imageUuid: 'sim:test', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function list(c: Client, path: string): Promise<any> {
  const r = await c.get(path);
  expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
  expect(r.body.type).toBe('collection');
  return r.body;
}

const ids = (body: any): string[] => body.data.map((d: any) => d.id);
const num = (id: string) => Number(id.replace(/^1[a-z]+/, ''));
const byNum = (a: string, b: string) => num(a) - num(b);
const sorted = (xs: string[]) => [...xs].sort(byNum);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows `pagination.next` from a first page to the end; returns every page. */
async function walk(c: Client, first: string, between?: () => Promise<unknown>): Promise<any[]> {
  const pages = [await list(c, first)];
  for (let guard = 0; pages[pages.length - 1].pagination?.next; guard++) {
    expect(guard).toBeLessThan(200);
    const next: string = pages[pages.length - 1].pagination.next;
    const [page] = await Promise.all([list(c, next), between?.()]);
    pages.push(page);
  }
  return pages;
}

async function err(c: Client, path: string, status: number): Promise<any> {
  const r = await c.get(path);
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.type).toBe('error');
  return r.body;
}

// ---------------------------------------------------------------- shape

describe('collection JSON', () => {
  let c: Client;
  let projectId: string;
  beforeAll(async () => {
    ({ c, projectId } = await adminIn('shape'));
    for (const name of ['web-1', 'web-2', 'web-3']) await mk(c, { name });
    await mk(c, { name: 'vm-1', memoryMb: 256 }, 'virtualmachines');
  });

  it('has the gdapi keys in order and the documented contents', async () => {
    const body = await list(c, '/v1/containers?state=running&limit=1');
    expect(Object.keys(body)).toEqual(COLLECTION_KEYS);
    expect(body.resourceType).toBe('container');
    expect(body.links).toEqual({ self: `${base}/v1/containers` });
    expect(body.createTypes).toEqual({ container: `${base}/v1/containers`, virtualMachine: `${base}/v1/virtualmachines` });
    expect(Object.keys(body.createTypes)).toEqual(['container', 'virtualMachine']);
    expect(body.actions).toEqual({});
    expect(body.data).toHaveLength(1);
    expect(body.data[0].type).toBe('container');
    expect(body.data[0].state).toBe('running');
    expect(body.createDefaults).toEqual({});
    expect(body.sort).toBeNull();

    // pagination: every key, in order; first/previous/total always null
    expect(Object.keys(body.pagination)).toEqual(['first', 'previous', 'next', 'limit', 'total', 'partial']);
    expect(body.pagination).toMatchObject({ first: null, previous: null, limit: 1, total: null, partial: true });
    expect(body.pagination.next).toMatch(new RegExp(`^${base}/v1/containers\\?state=running&limit=1&marker=[^&]+$`));
  });

  it('has one sortLink and one filters entry per collection filter of the schema', async () => {
    const body = await list(c, '/v1/containers?state=running&limit=1');
    const schemaBody = (await c.get('/v1/schemas/container')).body;
    const filterNames = Object.keys(schemaBody.collectionFilters);
    expect(filterNames.length).toBeGreaterThan(5);
    for (const f of ['accountId', 'created', 'description', 'id', 'name', 'startCount', 'state']) expect(filterNames).toContain(f);

    expect(Object.keys(body.sortLinks)).toEqual([...filterNames].sort());
    for (const name of filterNames) {
      expect(body.sortLinks[name]).toBe(`${base}/v1/containers?state=running&limit=1&sort=${name}`);
    }
    expect(Object.keys(body.filters).sort()).toEqual([...filterNames].sort());
    for (const name of filterNames) {
      if (name === 'state') expect(body.filters.state).toEqual([{ modifier: 'eq', value: 'running' }]);
      else expect(body.filters[name], name).toBeNull();
    }
  });

  it('sortLinks replace sort/order and drop the marker; self never carries the query', async () => {
    const first = await list(c, '/v1/containers?sort=name&limit=1&order=desc&state=running');
    const marker = new URL(first.pagination.next).searchParams.get('marker')!;
    const body = await list(c, `/v1/containers?sort=name&limit=1&order=desc&state=running&marker=${marker}`);
    expect(body.links.self).toBe(`${base}/v1/containers`);
    expect(body.sortLinks.created).toBe(`${base}/v1/containers?limit=1&state=running&sort=created`);
    expect(body.sort).toEqual({
      name: 'name',
      order: 'desc',
      reverse: `${base}/v1/containers?sort=name&limit=1&order=asc&state=running`,
    });
  });

  it('createTypes: the instance family for containers and instances, {} for links and leaf types', async () => {
    const family = { container: `${base}/v1/containers`, virtualMachine: `${base}/v1/virtualmachines` };
    expect((await list(c, '/v1/instances')).createTypes).toEqual(family);
    expect((await list(c, '/v1/instances')).resourceType).toBe('instance');
    expect((await list(c, '/v1/instancelinks')).createTypes).toEqual({});
    expect((await list(c, '/v1/virtualmachines')).createTypes).toEqual({});
  });

  it('a non-partial page still carries pagination, with next null', async () => {
    const body = await list(c, '/v1/containers');
    expect(body.data).toHaveLength(3);
    expect(body.pagination).toEqual({ first: null, previous: null, next: null, limit: 100, total: null, partial: false });
  });

  it('self and generated URLs keep the /v1/projects/<id> prefix and lower-case the path', async () => {
    const body = await list(t.admin, `/v1/projects/${projectId}/Containers?limit=1`);
    expect(body.links.self).toBe(`${base}/v1/projects/${projectId}/containers`);
    expect(body.data[0].links.self).toBe(`${base}/v1/projects/${projectId}/containers/${body.data[0].id}`);
    expect(body.pagination.next.startsWith(`${base}/v1/projects/${projectId}/`)).toBe(true);
    expect(body.createTypes.container).toBe(`${base}/v1/projects/${projectId}/containers`);
  });

  it('self, sortLinks, sort.reverse and next follow X-Forwarded-* like every other URL', async () => {
    const fwd = c.with({ 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'rancher.example.com', 'X-Forwarded-Port': '443' });
    const body = await list(fwd, '/v1/containers?limit=1&sort=name');
    const ext = 'https://rancher.example.com';
    expect(body.data[0].links.self.startsWith(`${ext}/v1/containers/`)).toBe(true);
    expect(body.links.self).toBe(`${ext}/v1/containers`);
    expect(body.sortLinks.name).toBe(`${ext}/v1/containers?limit=1&sort=name`);
    expect(body.sort.reverse).toBe(`${ext}/v1/containers?limit=1&sort=name&order=desc`);
    expect(body.pagination.next.startsWith(`${ext}/v1/containers?limit=1&sort=name&marker=`)).toBe(true);
    // The next URL works when the proxy path is mapped back to this server.
    const path = new URL(body.pagination.next);
    const page2 = await list(fwd, path.pathname + path.search);
    expect(page2.data).toHaveLength(1);
    expect(page2.data[0].id).not.toBe(body.data[0].id);
  });

  it('a create with count answers with a plain collection', async () => {
    const r = await c.post('/v1/containers', { imageUuid: 'sim:test', name: 'multi', count: 2 });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body)).toEqual(COLLECTION_KEYS);
    expect(r.body).toMatchObject({ resourceType: 'container', links: { self: `${base}/v1/containers` }, sortLinks: {}, pagination: null, sort: null, filters: {} });
    expect(r.body.data.map((d: any) => d.name)).toEqual(['multi', 'multi']);
    const listed = await list(c, '/v1/containers?name=multi');
    expect(ids(listed)).toEqual(r.body.data.map((d: any) => d.id));
    for (const id of ids(listed)) expect((await c.del(`/v1/containers/${id}`)).status).toBe(200);
  });

  it('the root versions collection and the schema collection have the same shape', async () => {
    const root = await t.admin.get('/');
    expect(Object.keys(root.body)).toEqual(COLLECTION_KEYS);
    const schemas = await list(c, '/v1/schemas');
    expect(Object.keys(schemas)).toEqual(COLLECTION_KEYS);
  });
});

// ---------------------------------------------------------------- filters

describe('filters', () => {
  let c: Client;
  let projectId: string;
  const byName: Record<string, any> = {};
  let unnamed: any;
  const count: Record<number, any> = {};
  const vms: any[] = [];

  beforeAll(async () => {
    ({ c, projectId } = await adminIn('filters'));
    for (const [name, description] of [
      ['alpha', 'first one'],
      ['alpine', null],
      ['beta', 'second'],
      ['gamma', null],
      ['a_b', 'underscore'],
      ['axb', null],
      ['Alps', null],
    ] as const) {
      byName[name] = await mk(c, description ? { name, description } : { name });
      await sleep(3); // distinct created times
    }
    unnamed = await mk(c, { description: 'nameless' });

    // startCount 0 (never started), 1 (started once), 2 (started, stopped, started again)
    count[0] = await mk(c, { name: 'sc0', startOnCreate: false });
    count[1] = await mk(c, { name: 'sc1' });
    const two = await mk(c, { name: 'sc2', startOnCreate: false });
    expect((await c.post(`/v1/containers/${two.id}/?action=start`)).status).toBe(202);
    expect((await c.post(`/v1/containers/${two.id}/?action=stop`)).status).toBe(202);
    expect((await c.post(`/v1/containers/${two.id}/?action=start`)).status).toBe(202);
    count[2] = (await c.get(`/v1/containers/${two.id}`)).body;
    expect(count[2].startCount).toBe(2);

    for (const memoryMb of [256, 512, 1024]) vms.push(await mk(c, { name: `vm-${memoryMb}`, memoryMb }, 'virtualmachines'));
  });

  const names = (body: any) => body.data.map((d: any) => d.name).sort();

  it('eq (bare and explicit) and ne on a string; ne follows SQL and skips nulls', async () => {
    expect(names(await list(c, '/v1/containers?name=alpha'))).toEqual(['alpha']);
    expect(names(await list(c, '/v1/containers?name_eq=alpha'))).toEqual(['alpha']);
    const ne = await list(c, '/v1/containers?name_ne=alpha');
    expect(names(ne)).not.toContain('alpha');
    expect(ids(ne)).not.toContain(unnamed.id);
    expect(ne.data).toHaveLength(9);
    expect(ne.filters.name).toEqual([{ modifier: 'ne', value: 'alpha' }]);
  });

  it('prefix', async () => {
    const body = await list(c, '/v1/containers?name_prefix=alp');
    // cattle implements prefix as LIKE 'v%' (case-insensitive collation), so Alps matches too
    expect(names(body)).toEqual(['Alps', 'alpha', 'alpine']);
    expect(body.filters.name).toEqual([{ modifier: 'prefix', value: 'alp' }]);
    expect(names(await list(c, '/v1/containers?name_prefix=sc'))).toEqual(['sc0', 'sc1', 'sc2']);
    expect((await list(c, '/v1/containers?name_prefix=zzz')).data).toEqual([]);
  });

  it('like with % and _ wildcards', async () => {
    expect(names(await list(c, '/v1/containers?name_like=alp%25'))).toEqual(['Alps', 'alpha', 'alpine']);
    expect(names(await list(c, '/v1/containers?name_like=%25ph%25'))).toEqual(['alpha']);
    expect(names(await list(c, '/v1/containers?name_like=%25a'))).toEqual(['alpha', 'beta', 'gamma']);
    // _ is any one character: a_b matches 'a_b' and 'axb'
    expect(names(await list(c, '/v1/containers?name_like=a_b'))).toEqual(['a_b', 'axb']);
    expect(names(await list(c, '/v1/containers?name_like=sc_'))).toEqual(['sc0', 'sc1', 'sc2']);
    // regex metacharacters are literal
    expect((await list(c, '/v1/containers?name_like=a.b')).data).toEqual([]);
    const body = await list(c, '/v1/containers?name_like=%25ph%25');
    expect(body.filters.name).toEqual([{ modifier: 'like', value: '%ph%' }]);
  });

  it('notlike (case-insensitive like LIKE; null names are not returned, as in SQL)', async () => {
    const body = await list(c, '/v1/containers?name_notlike=%25a%25');
    expect(names(body)).toEqual(['sc0', 'sc1', 'sc2']);
    expect(names(await list(c, '/v1/containers?name_notlike=a%25'))).toEqual(['beta', 'gamma', 'sc0', 'sc1', 'sc2']);
    expect(ids(body)).not.toContain(unnamed.id);
    expect(body.filters.name).toEqual([{ modifier: 'notlike', value: '%a%' }]);
  });

  it('null and notnull, with any dummy value', async () => {
    const isNull = await list(c, '/v1/containers?description_null=true');
    expect(names(isNull)).toEqual(['Alps', 'alpine', 'axb', 'gamma', 'sc0', 'sc1', 'sc2']);
    expect(isNull.filters.description).toEqual([{ modifier: 'null', value: 'true' }]);
    const notNull = await list(c, '/v1/containers?description_notnull=1');
    expect(ids(notNull).sort()).toEqual([byName.alpha.id, byName.beta.id, byName.a_b.id, unnamed.id].sort());
    expect(ids(await list(c, '/v1/containers?name_null=whatever'))).toEqual([unnamed.id]);
    expect((await list(c, '/v1/containers?name_notnull=')).data).toHaveLength(10);
  });

  it('repeated filters AND together, on one field and across fields', async () => {
    expect(names(await list(c, '/v1/containers?name_like=a%25&name_like=%25a'))).toEqual(['alpha']);
    expect(names(await list(c, '/v1/containers?name_prefix=al&description_notnull=true'))).toEqual(['alpha']);
    expect((await list(c, '/v1/containers?name=alpha&name=beta')).data).toEqual([]);
    const body = await list(c, '/v1/containers?name_like=a%25&name_like=%25a');
    expect(body.filters.name).toEqual([
      { modifier: 'like', value: 'a%' },
      { modifier: 'like', value: '%a' },
    ]);
  });

  it('unknown parameters and modifiers a field does not offer are ignored', async () => {
    const body = await list(c, '/v1/containers?name=alpha&foo=bar&name_bogus=x&name_lt=b&ports=1&command_eq=x');
    expect(names(body)).toEqual(['alpha']);
    expect(body.filters.name).toEqual([{ modifier: 'eq', value: 'alpha' }]);
    expect('foo' in body.filters).toBe(false);
    expect('ports' in body.filters).toBe(false);
    // names of Object.prototype members are not filters either
    const proto = await list(c, '/v1/containers?constructor=1&toString_eq=x&__proto__=1&hasOwnProperty_like=a&valueOf_null=1');
    expect(proto.data).toHaveLength(11);
    expect(Object.values(proto.filters).every((v) => v === null)).toBe(true);
    // memoryMb is a VM filter, not a container one
    expect((await list(c, '/v1/containers?memoryMb=1')).data).toHaveLength(11);
  });

  it('eq/ne/lt/lte/gt/gte on an int field (startCount)', async () => {
    const q = async (qs: string) => ids(await list(c, `/v1/containers?name_prefix=sc&${qs}`)).sort(byNum);
    const [s0, s1, s2] = [count[0].id, count[1].id, count[2].id];
    expect(count[0].startCount).toBe(0);
    expect(await q('startCount=0')).toEqual([s0]);
    expect(await q('startCount_eq=2')).toEqual([s2]);
    expect(await q('startCount_ne=1')).toEqual([s0, s2]);
    expect(await q('startCount_lt=1')).toEqual([s0]);
    expect(await q('startCount_lte=1')).toEqual([s0, s1]);
    expect(await q('startCount_gt=0')).toEqual([s1, s2]);
    expect(await q('startCount_gte=2')).toEqual([s2]);
    expect(await q('startCount_gt=0&startCount_lt=2')).toEqual([s1]);
    expect(await q('startCount_gte=-5')).toEqual([s0, s1, s2]);
    const body = await list(c, '/v1/containers?startCount_gte=2');
    expect(body.filters.startCount).toEqual([{ modifier: 'gte', value: '2' }]);
  });

  it('int modifiers on VM memoryMb', async () => {
    const q = async (qs: string) => (await list(c, `/v1/virtualmachines?${qs}`)).data.map((d: any) => d.memoryMb).sort((a: number, b: number) => a - b);
    expect(await q('memoryMb=512')).toEqual([512]);
    expect(await q('memoryMb_ne=512')).toEqual([256, 1024]);
    expect(await q('memoryMb_lt=512')).toEqual([256]);
    expect(await q('memoryMb_lte=512')).toEqual([256, 512]);
    expect(await q('memoryMb_gt=512')).toEqual([1024]);
    expect(await q('memoryMb_gte=256')).toEqual([256, 512, 1024]);
    expect(await q('memoryMb_null=1')).toEqual([]);
    expect(await q('memoryMb_notnull=1')).toEqual([256, 512, 1024]);
  });

  it('a malformed int is 422 InvalidFormat on the field; a malformed date 422 InvalidDateFormat', async () => {
    for (const qs of ['startCount=abc', 'startCount_gt=1.5', 'startCount_lt=', 'startCount=1e3']) {
      const e = await err(c, `/v1/containers?${qs}`, 422);
      expect(e).toMatchObject({ status: 422, code: 'InvalidFormat', fieldName: 'startCount' });
    }
    expect(await err(c, '/v1/virtualmachines?memoryMb_gte=lots', 422)).toMatchObject({ code: 'InvalidFormat', fieldName: 'memoryMb' });
    for (const qs of ['created_gt=yesterday', 'created=2024-13-45T00:00:00Z', 'created_lt=']) {
      expect(await err(c, `/v1/containers?${qs}`, 422), qs).toMatchObject({ code: 'InvalidDateFormat', fieldName: 'created' });
    }
    // null/notnull ignore their value, so nothing to reject
    expect((await list(c, '/v1/containers?startCount_null=abc')).data).toEqual([]);
  });

  it('every numeric modifier on the created date, with epoch ms and ISO dates', async () => {
    const [a, b, g] = [byName.alpha, byName.beta, byName.gamma];
    expect(a.createdTS).toBeLessThan(b.createdTS);
    expect(b.createdTS).toBeLessThan(g.createdTS);
    const three = 'name_like=%25a&';
    const q = async (qs: string) => names(await list(c, `/v1/containers?${three}${qs}`));
    // epoch milliseconds (the *TS values)
    expect(await q(`created=${b.createdTS}`)).toEqual(['beta']);
    expect(await q(`created_ne=${b.createdTS}`)).toEqual(['alpha', 'gamma']);
    expect(await q(`created_lt=${b.createdTS}`)).toEqual(['alpha']);
    expect(await q(`created_lte=${b.createdTS}`)).toEqual(['alpha', 'beta']);
    expect(await q(`created_gt=${b.createdTS}`)).toEqual(['gamma']);
    expect(await q(`created_gte=${b.createdTS}`)).toEqual(['beta', 'gamma']);
    // ISO with milliseconds: the same instants
    const iso = new Date(b.createdTS).toISOString();
    expect(await q(`created=${iso}`)).toEqual(['beta']);
    expect(await q(`created_lt=${iso}`)).toEqual(['alpha']);
    expect(await q(`created_gte=${iso}`)).toEqual(['beta', 'gamma']);
    // a range
    expect(await q(`created_gt=${a.createdTS}&created_lt=${g.createdTS}`)).toEqual(['beta']);
    // far past / far future
    expect(await q('created_gt=2000-01-01T00:00:00Z')).toEqual(['alpha', 'beta', 'gamma']);
    expect(await q('created_gte=2000-01-01')).toEqual(['alpha', 'beta', 'gamma']);
    // offsets, including a '+' that arrived unencoded (a space after query decoding); no zone means UTC
    expect(await q(`created_lt=${new Date(b.createdTS + 3_600_000).toISOString().replace('Z', '+01:00')}`)).toEqual(['alpha']);
    expect(await q(`created_lt=${new Date(b.createdTS + 3_600_000).toISOString().replace('Z', '+0100')}`)).toEqual(['alpha']);
    expect(await q(`created_lt=${new Date(b.createdTS + 3_600_000).toISOString().replace('Z', '+01:00').replace('+', ' ')}`)).toEqual(['alpha']);
    expect(await q(`created_lt=${new Date(b.createdTS).toISOString().replace('Z', '')}`)).toEqual(['alpha']);
    expect(await err(c, '/v1/containers?created_lt=2016-02-30T00:00:00Z', 422)).toMatchObject({ code: 'InvalidDateFormat' });
    expect(await q('created_lt=2000-01-01T00:00:00Z')).toEqual([]);
    expect(await q(`created_lt=${Date.now() + 3_600_000}`)).toEqual(['alpha', 'beta', 'gamma']);
    expect(await q('created_null=1')).toEqual([]);
    expect(await q('created_notnull=1')).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('a date exactly as rendered (second precision) matches that second, as MySQL DATETIME does', async () => {
    const a = byName.alpha;
    expect(a.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const q = async (qs: string) => ids(await list(c, `/v1/containers?id=${a.id}&${qs}`));
    expect(await q(`created=${a.created}`)).toEqual([a.id]);
    expect(await q(`created_lte=${a.created}`)).toEqual([a.id]);
    expect(await q(`created_gte=${a.created}`)).toEqual([a.id]);
    expect(await q(`created_lt=${a.created}`)).toEqual([]);
    expect(await q(`created_gt=${a.created}`)).toEqual([]);
    expect(await q(`created_ne=${a.created}`)).toEqual([]);
    const body = await list(c, `/v1/containers?created=${a.created}`);
    expect(body.filters.created).toEqual([{ modifier: 'eq', value: a.created }]);
  });

  it('the id filter', async () => {
    const a = byName.alpha;
    expect(ids(await list(c, `/v1/containers?id=${a.id}`))).toEqual([a.id]);
    expect(ids(await list(c, `/v1/containers?id_ne=${a.id}`))).not.toContain(a.id);
    expect((await list(c, `/v1/containers?id_ne=${a.id}`)).data).toHaveLength(10);
    const after = ids(await list(c, `/v1/containers?id_gt=${a.id}`));
    expect(after).not.toContain(a.id);
    expect(after.every((i) => num(i) > num(a.id))).toBe(true);
    expect(ids(await list(c, `/v1/containers?id_lte=${a.id}`))).toEqual([a.id]);
    // a VM id under /v1/containers: no match; an id of another type or garbage: no match, no error
    expect((await list(c, `/v1/containers?id=${vms[0].id}`)).data).toEqual([]);
    expect((await list(c, `/v1/containers?id=1il${num(a.id)}`)).data).toEqual([]);
    expect((await list(c, '/v1/containers?id=nonsense')).data).toEqual([]);
    expect((await list(c, '/v1/containers?id_ne=nonsense')).data).toHaveLength(11);
    expect(ids(await list(c, `/v1/containers?id=${num(a.id)}`))).toEqual([a.id]);
    const body = await list(c, `/v1/containers?id=${a.id}`);
    expect(body.filters.id).toEqual([{ modifier: 'eq', value: a.id }]);
  });

  it('state (enum), accountId (reference) and boolean filters', async () => {
    expect(names(await list(c, '/v1/containers?state=stopped'))).toEqual(['sc0']);
    expect((await list(c, '/v1/containers?state_ne=stopped')).data).toHaveLength(10);
    expect((await list(c, '/v1/containers?state_null=1')).data).toEqual([]);
    expect((await list(c, `/v1/containers?accountId=${projectId}`)).data).toHaveLength(11);
    expect((await list(c, '/v1/containers?accountId=1a999999')).data).toEqual([]);
    expect((await list(c, '/v1/containers?hostId_null=1')).data).toHaveLength(11);
    expect((await list(c, '/v1/containers?hostId=1h1')).data).toEqual([]);
    // nativeContainer renders false (non-nullable default): the filter sees the same value
    expect(byName.alpha.nativeContainer).toBe(false);
    expect((await list(c, '/v1/containers?nativeContainer=false')).data).toHaveLength(11);
    expect((await list(c, '/v1/containers?nativeContainer=true')).data).toEqual([]);
    expect(await err(c, '/v1/containers?nativeContainer=maybe', 422)).toMatchObject({ code: 'InvalidFormat', fieldName: 'nativeContainer' });
    // version renders its default "0" although nothing stores it: filters see the rendered value
    expect(byName.alpha.version).toBe('0');
    expect((await list(c, '/v1/containers?version=0')).data).toHaveLength(11);
    expect((await list(c, '/v1/containers?version_null=1')).data).toEqual([]);
    const body = await list(c, '/v1/containers?state=stopped&state_notnull=1');
    expect(body.filters.state).toEqual([
      { modifier: 'eq', value: 'stopped' },
      { modifier: 'notnull', value: '1' },
    ]);
  });

  it('containers, virtualmachines and instances list their own kinds', async () => {
    const containers = await list(c, '/v1/containers');
    expect(containers.data).toHaveLength(11);
    expect(containers.data.every((d: any) => d.type === 'container' && d.kind === 'container')).toBe(true);

    const vmList = await list(c, '/v1/virtualmachines');
    expect(ids(vmList)).toEqual(vms.map((v) => v.id));
    expect(vmList.data.every((d: any) => d.type === 'virtualMachine')).toBe(true);

    const all = await list(c, '/v1/instances');
    expect(all.resourceType).toBe('instance');
    expect(all.data).toHaveLength(14);
    expect(all.data.filter((d: any) => d.type === 'virtualMachine').map((d: any) => d.id)).toEqual(vms.map((v) => v.id));
    expect(all.data.filter((d: any) => d.type === 'container')).toHaveLength(11);
    expect(ids(await list(c, '/v1/instances?kind=virtualMachine'))).toEqual(vms.map((v) => v.id));
    expect((await list(c, '/v1/instances?name_prefix=vm-')).data.every((d: any) => d.type === 'virtualMachine')).toBe(true);
    // a container's id is not found through /v1/virtualmachines, neither by GET nor by filter
    expect((await c.get(`/v1/virtualmachines/${byName.alpha.id}`)).status).toBe(404);
    expect((await list(c, `/v1/virtualmachines?id=${byName.alpha.id}`)).data).toEqual([]);
  });
});

// ---------------------------------------------------------------- sort

describe('bounded work per request (issue 6, item 4)', () => {
  it('a pathological _like pattern costs about what a plain filter costs over the same rows', async () => {
    const { c } = await adminIn('like-bound');
    await Promise.all([mk(c, { name: 'a'.repeat(60) }), ...Array.from({ length: 40 }, (_, i) => mk(c, { name: `${'a'.repeat(59)}${i}` }))]);
    // Seven wildcards against a 60-character name took 25-32 s with a backtracking regular expression.
    const pathological = `/v1/containers?name_like=${encodeURIComponent('%a%a%a%a%a%a%a%b')}`;
    const plain = '/v1/containers?name=nothing-has-this-name';
    // Interleaved, so both see the same load on a shared machine; the median of each.
    const took = async (path: string) => {
      const t0 = performance.now();
      expect(ids(await list(c, path))).toEqual([]);
      return performance.now() - t0;
    };
    await took(plain); // warm up
    const times: { plain: number[]; pathological: number[] } = { plain: [], pathological: [] };
    for (let i = 0; i < 9; i++) {
      times.plain.push(await took(plain));
      times.pathological.push(await took(pathological));
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const ratio = median(times.pathological) / median(times.plain);
    expect(ratio, JSON.stringify(times)).toBeLessThan(3);
    expect(ids(await list(c, `/v1/containers?name_like=${encodeURIComponent('%a%a%a%a%a%a%a%a')}`))).toHaveLength(1);
  });

  it('too long a filter value, or too many conditions, is a 422 naming the field', async () => {
    const long = await err(t.admin, `/v1/containers?name_like=${'%a'.repeat(600)}`, 422);
    expect([long.code, long.fieldName]).toEqual(['MaxLengthExceeded', 'name']);
    const many = await err(t.admin, `/v1/containers?${Array.from({ length: 40 }, (_, i) => `name_ne=n${i}`).join('&')}`, 422);
    expect([many.code, many.fieldName]).toEqual(['MaxLimitExceeded', 'name']);
  });

  it('a page reads at most MAX_EXAMINED rows, then answers with what it found and a marker to go on from', async () => {
    const { projectId, c } = await adminIn('examined');
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => mk(c, { name: i === 10 ? 'needle' : `hay${i}` })));
    const secret = t.stack.drover.service.deps.cursorSecret;
    const request = { schema: schema('container'), projectId, conditions: parseFilters(schema('container'), new URLSearchParams('name=needle')), limit: 5, secret };
    const first = await listResources(t.stack.store, { ...request, maxExamined: 4 });
    expect([first.data, first.partial]).toEqual([[], true]);
    let page = first;
    const found: string[] = [];
    for (let guard = 0; page.nextMarker; guard++) {
      expect(guard).toBeLessThan(10);
      page = await listResources(t.stack.store, { ...request, maxExamined: 4, marker: page.nextMarker });
      found.push(...page.data.map((r) => r.id));
    }
    expect(found).toEqual([made[10].id]);
  });
});

describe('sort', () => {
  let c: Client;
  const made: any[] = [];
  beforeAll(async () => {
    ({ c } = await adminIn('sort'));
    for (const name of ['delta', 'alpha', 'echo', 'charlie', 'echo', 'bravo', null, 'echo']) {
      made.push(await mk(c, name === null ? {} : { name }));
    }
  });

  /** Expected order: name asc, nulls first, ties by id. */
  const expectedAsc = () =>
    [...made]
      .sort((x, y) => (x.name === y.name ? 0 : x.name === null ? -1 : y.name === null ? 1 : x.name < y.name ? -1 : 1) || byNum(x.id, y.id))
      .map((x) => x.id);

  it('default order is id ascending, with sort null', async () => {
    const body = await list(c, '/v1/containers');
    expect(ids(body)).toEqual(made.map((m) => m.id));
    expect(ids(body)).toEqual(sorted(ids(body)));
    expect(body.sort).toBeNull();
  });

  it('sort=name ascending, nulls first, ties broken by id', async () => {
    const body = await list(c, '/v1/containers?sort=name');
    expect(ids(body)).toEqual(expectedAsc());
    expect(body.data[0].name).toBeNull();
    expect(body.data.slice(-3).map((d: any) => d.name)).toEqual(['echo', 'echo', 'echo']);
    expect(Object.keys(body.sort)).toEqual(['name', 'order', 'reverse']);
    expect(body.sort).toEqual({ name: 'name', order: 'asc', reverse: `${base}/v1/containers?sort=name&order=desc` });
  });

  it('order=desc is the exact reverse; order=asc is the default', async () => {
    const body = await list(c, '/v1/containers?sort=name&order=desc');
    expect(ids(body)).toEqual(expectedAsc().reverse());
    expect(body.sort).toEqual({ name: 'name', order: 'desc', reverse: `${base}/v1/containers?sort=name&order=asc` });
    expect(ids(await list(c, '/v1/containers?sort=name&order=asc'))).toEqual(expectedAsc());
    expect(ids(await list(c, '/v1/containers?sort=name&order=DESC'))).toEqual(expectedAsc().reverse());
    // following the reverse link gives the other direction
    const rev = await list(c, body.sort.reverse);
    expect(ids(rev)).toEqual(expectedAsc());
  });

  it('a field that is not a collection filter is ignored (sort null, id order)', async () => {
    for (const f of ['ports', 'command', 'bogus', 'transitioning', 'constructor', '__proto__', 'toString']) {
      const body = await list(c, `/v1/containers?sort=${f}`);
      expect(body.sort, f).toBeNull();
      expect(ids(body)).toEqual(made.map((m) => m.id));
    }
  });

  it('order without sort changes nothing', async () => {
    const body = await list(c, '/v1/containers?order=desc');
    expect(body.sort).toBeNull();
    expect(ids(body)).toEqual(made.map((m) => m.id));
  });

  it('sort=id, and sorting by created and state', async () => {
    const asc = made.map((m) => m.id);
    const byId = await list(c, '/v1/containers?sort=id&order=desc');
    expect(ids(byId)).toEqual([...asc].reverse());
    expect(byId.sort).toMatchObject({ name: 'id', order: 'desc' });
    expect(ids(await list(c, '/v1/containers?sort=created'))).toEqual(asc);
    expect(ids(await list(c, '/v1/containers?sort=state'))).toEqual(asc); // all running: ties by id
  });

  it('sorted pages: limit=3 walks the sorted order exactly once, in both directions', async () => {
    for (const [qs, want] of [
      ['sort=name&limit=3', expectedAsc()],
      ['sort=name&order=desc&limit=3', expectedAsc().reverse()],
      ['sort=id&order=desc&limit=3', made.map((m) => m.id).reverse()],
    ] as const) {
      const pages = await walk(c, `/v1/containers?${qs}`);
      expect(pages.map((p) => p.data.length)).toEqual([3, 3, 2]);
      expect(pages.flatMap(ids)).toEqual(want);
      for (const p of pages.slice(1)) expect(p.sort.name).toBe(qs.startsWith('sort=id') ? 'id' : 'name');
    }
  });
});

// ---------------------------------------------------------------- pagination

describe('pagination', () => {
  let c: Client;
  let projectId: string;
  const made: string[] = [];
  beforeAll(async () => {
    ({ c, projectId } = await adminIn('pages'));
    for (let i = 0; i < 7; i++) made.push((await mk(c, { name: `p${i}` })).id);
  });

  it('limit defaults to 100', async () => {
    const body = await list(c, '/v1/containers');
    expect(body.pagination.limit).toBe(100);
    expect(body.pagination.partial).toBe(false);
    expect(ids(body)).toEqual(made);
  });

  it('limit=2 pages through pagination.next until partial is false', async () => {
    const pages = await walk(c, '/v1/containers?limit=2');
    expect(pages.map((p) => p.data.length)).toEqual([2, 2, 2, 1]);
    expect(pages.map((p) => p.pagination.partial)).toEqual([true, true, true, false]);
    expect(pages.flatMap(ids)).toEqual(made);
    for (const p of pages) {
      expect(p.pagination.limit).toBe(2);
      expect(p.pagination.first).toBeNull();
      expect(p.pagination.previous).toBeNull();
      expect(p.pagination.total).toBeNull();
    }
    expect(pages[3].pagination.next).toBeNull();
    // next keeps every other parameter
    expect(pages[0].pagination.next).toMatch(new RegExp(`^${base}/v1/containers\\?limit=2&marker=`));
  });

  it('an exact multiple of the limit ends with a full page and partial false', async () => {
    const pages = await walk(c, '/v1/containers?limit=7');
    expect(pages).toHaveLength(1);
    expect(pages[0].pagination).toMatchObject({ partial: false, next: null, limit: 7 });
  });

  it('filters and markers combine: the next URL keeps the filter', async () => {
    const pages = await walk(c, '/v1/containers?name_like=p%25&id_ne=' + made[3] + '&limit=4');
    expect(pages.flatMap(ids)).toEqual(made.filter((x) => x !== made[3]));
    expect(new URL(pages[0].pagination.next).searchParams.get('name_like')).toBe('p%');
    expect(pages[1].filters.name).toEqual([{ modifier: 'like', value: 'p%' }]);
  });

  it('limit above 10000 is clamped to 10000', async () => {
    const body = await list(c, '/v1/containers?limit=20000');
    expect(body.pagination.limit).toBe(10000);
    expect(ids(body)).toEqual(made);
    expect((await list(c, '/v1/containers?limit=99999999999999999999')).pagination.limit).toBe(10000);
  });

  it('limit=0 or negative means no limit and pagination null', async () => {
    for (const l of ['0', '-1', '-100']) {
      const body = await list(c, `/v1/containers?limit=${l}`);
      expect(body.pagination, l).toBeNull();
      expect(ids(body)).toEqual(made);
    }
  });

  it('a limit that is not an integer falls back to the default', async () => {
    for (const l of ['abc', '', '2.5', '0.5']) {
      const body = await list(c, `/v1/containers?limit=${l}`);
      expect(body.pagination, l).toMatchObject({ limit: 100, partial: false, next: null });
      expect(ids(body)).toEqual(made);
    }
  });

  it('markers are opaque, not m<offset> numbers', async () => {
    const body = await list(c, '/v1/containers?limit=2');
    const marker = new URL(body.pagination.next).searchParams.get('marker')!;
    expect(marker).not.toMatch(/^m?\d+$/);
    expect(marker.length).toBeGreaterThan(16);
    // Cattle's offset markers are refused.
    expect(await err(c, '/v1/containers?limit=2&marker=m2', 422)).toMatchObject({ code: 'InvalidFormat', fieldName: 'marker' });
  });

  it('a tampered or garbage marker is 422 InvalidFormat on marker', async () => {
    const body = await list(c, '/v1/containers?limit=2');
    const marker = new URL(body.pagination.next).searchParams.get('marker')!;
    const [b64, sig] = marker.split('.');
    const decoded = Buffer.from(b64, 'base64url').toString('utf8');
    // Move the position: same shape, different key, old signature.
    const forged = Buffer.from(decoded.replace(/\d+\]/, '1]')).toString('base64url');
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    for (const bad of [`${forged}.${sig}`, `${b64}.${flip(sig)}`, `${flip(b64)}.${sig}`, 'garbage', '.', `${b64}.`, `${b64}`, '%00', `${b64}.${sig}.x`]) {
      const e = await err(c, `/v1/containers?limit=2&marker=${encodeURIComponent(bad)}`, 422);
      expect(e, bad).toMatchObject({ status: 422, code: 'InvalidFormat', fieldName: 'marker' });
    }
    // an empty marker is no marker: the first page
    expect(ids(await list(c, '/v1/containers?limit=2&marker='))).toEqual(made.slice(0, 2));
  });

  it('a marker is bound to its query: other filters, sort, order or project → 422', async () => {
    const body = await list(c, '/v1/containers?limit=2&name_like=p%25');
    const marker = new URL(body.pagination.next).searchParams.get('marker')!;
    const m = encodeURIComponent(marker);
    for (const qs of [
      `limit=2&marker=${m}`, // filter dropped
      `limit=2&name_like=q%25&marker=${m}`, // filter value changed
      `limit=2&name_like=p%25&name_ne=x&marker=${m}`, // filter added
      `limit=2&name_like=p%25&sort=name&marker=${m}`, // sort added
    ]) {
      const e = await err(c, `/v1/containers?${qs}`, 422);
      expect(e, qs).toMatchObject({ code: 'InvalidFormat', fieldName: 'marker' });
    }
    // another collection
    expect(await err(c, `/v1/instances?limit=2&name_like=p%25&marker=${m}`, 422)).toMatchObject({ fieldName: 'marker' });
    // another project (admin without project header lists across projects: a different query too)
    expect(await err(t.admin, `/v1/containers?limit=2&name_like=p%25&marker=${m}`, 422)).toMatchObject({ fieldName: 'marker' });
    // a sorted marker is bound to its direction
    const s = await list(c, '/v1/containers?limit=2&sort=name');
    const sm = encodeURIComponent(new URL(s.pagination.next).searchParams.get('marker')!);
    expect(await err(c, `/v1/containers?limit=2&sort=name&order=desc&marker=${sm}`, 422)).toMatchObject({ fieldName: 'marker' });
    expect(await err(c, `/v1/containers?limit=2&sort=created&marker=${sm}`, 422)).toMatchObject({ fieldName: 'marker' });
    // the same query may change its page size
    const ok = await list(c, `/v1/containers?limit=3&name_like=p%25&marker=${m}`);
    expect(ids(ok)).toEqual(made.slice(2, 5));
    expect(projectId).toBeTruthy();
  });

  it('a marker with limit=0 returns the rest', async () => {
    const body = await list(c, '/v1/containers?limit=2');
    const m = encodeURIComponent(new URL(body.pagination.next).searchParams.get('marker')!);
    const rest = await list(c, `/v1/containers?limit=0&marker=${m}`);
    expect(rest.pagination).toBeNull();
    expect(ids(rest)).toEqual(made.slice(2));
  });
});

// ---------------------------------------------------------------- paging under concurrent inserts

describe('pagination while other requests insert', () => {
  const hex = () => Math.random().toString(16).slice(2, 10);

  async function checkWalk(sortQs: string, checkOrder: (data: any[]) => void) {
    const { c } = await adminIn(`walk-${sortQs || 'id'}`);
    const before: string[] = [];
    for (let i = 0; i < 30; i += 6) {
      const batch = await Promise.all(Array.from({ length: 6 }, () => mk(c, { name: `c-${hex()}` })));
      before.push(...batch.map((b) => b.id));
    }
    const inserted: string[] = [];
    const insertSome = async () => {
      const batch = await Promise.all(Array.from({ length: 3 }, () => mk(c, { name: `c-${hex()}` })));
      inserted.push(...batch.map((b) => b.id));
    };
    const first = `/v1/containers?limit=7${sortQs ? `&${sortQs}` : ''}`;
    const pages = await walk(c, first, insertSome);

    const seen = pages.flatMap((p) => p.data);
    const seenIds = seen.map((d: any) => d.id);
    expect(new Set(seenIds).size, 'no row is returned twice').toBe(seenIds.length);
    for (const id of before) expect(seenIds.filter((x) => x === id), id).toHaveLength(1);
    expect(inserted.length).toBeGreaterThanOrEqual(12);
    for (const p of pages.slice(0, -1)) {
      expect(p.data).toHaveLength(7);
      expect(p.pagination.partial).toBe(true);
    }
    checkOrder(seen);
    return { seen, inserted };
  }

  it('id order: no duplicates, every pre-existing row exactly once', async () => {
    const { seen, inserted } = await checkWalk('', (data) => {
      const got = data.map((d: any) => d.id);
      expect(got).toEqual(sorted(got));
    });
    // ids only grow, so rows inserted during the walk land after the cursor and are seen too
    expect(seen.length).toBeGreaterThan(30);
    expect(inserted.some((id) => seen.some((d: any) => d.id === id))).toBe(true);
  });

  it('sort=name: no duplicates, every pre-existing row exactly once, order kept', async () => {
    await checkWalk('sort=name', (data) => {
      for (let i = 1; i < data.length; i++) {
        const [a, b] = [data[i - 1], data[i]];
        expect(a.name < b.name || (a.name === b.name && num(a.id) < num(b.id)), `${a.name} before ${b.name}`).toBe(true);
      }
    });
  });

  it('sort=name&order=desc: the same guarantees in the other direction', async () => {
    await checkWalk('sort=name&order=desc', (data) => {
      for (let i = 1; i < data.length; i++) expect(data[i - 1].name >= data[i].name).toBe(true);
    });
  });
});

// ---------------------------------------------------------------- removed visibility

describe('removed resources', () => {
  let c: Client;
  let keep: any;
  let gone: any;
  beforeAll(async () => {
    ({ c } = await adminIn('removed'));
    keep = await mk(c, { name: 'keep' });
    gone = await mk(c, { name: 'gone' });
    expect((await c.del(`/v1/containers/${gone.id}`)).status).toBe(200);
  });

  it('a removed container is still listed right after removal, and GET by id works', async () => {
    const one = await c.get(`/v1/containers/${gone.id}`);
    expect(one.status).toBe(200);
    expect(one.body.state).toBe('removed');
    expect(one.body.removed).not.toBeNull();
    expect(one.body.removeTimeTS).toBeGreaterThan(one.body.removedTS);

    const all = await list(c, '/v1/containers');
    expect(ids(all)).toEqual([keep.id, gone.id]);
    expect(ids(await list(c, '/v1/containers?state=removed'))).toEqual([gone.id]);
    expect(ids(await list(c, '/v1/containers?removed_notnull=1'))).toEqual([gone.id]);
    expect(ids(await list(c, '/v1/containers?removed_null=1'))).toEqual([keep.id]);
    expect(ids(await list(c, `/v1/containers?removed_lte=${one.body.removedTS}`))).toEqual([gone.id]);
    expect(ids(await list(c, `/v1/instances?id=${gone.id}`))).toEqual([gone.id]);
  });

  it('after removeTime it leaves the default list but stays reachable by a removed filter and by id', async () => {
    const later = Date.now() + 61_000;
    const s = schema('container');
    const one = (await c.get(`/v1/containers/${gone.id}`)).body;
    const base = { schema: s, projectId: one.accountId, limit: 100, secret: 'x', now: later };
    const plain = await listResources(t.stack.store, { ...base, conditions: [] });
    expect(plain.data.map((r) => r.id)).toEqual([keep.id]);
    const asked = await listResources(t.stack.store, { ...base, conditions: parseFilters(s, { removed_notnull: ['1'] }) });
    expect(asked.data.map((r) => r.id)).toEqual([gone.id]);
    expect((await c.get(`/v1/containers/${gone.id}`)).status).toBe(200);
  });
});

// ---------------------------------------------------------------- link collections

describe('link collections', () => {
  let c: Client;
  let db: any;
  let web: any;
  let api: any;
  beforeAll(async () => {
    ({ c } = await adminIn('links'));
    db = await mk(c, { name: 'db' });
    web = await mk(c, { name: 'web', instanceLinks: { db: db.id, cache: null } });
    api = await mk(c, { name: 'api', instanceLinks: { database: db.id } });
  });

  it('/v1/containers/<id>/instancelinks lists only that container’s links', async () => {
    const body = await list(c, `/v1/containers/${web.id}/instancelinks`);
    expect(body.resourceType).toBe('instanceLink');
    expect(body.links.self).toBe(`${base}/v1/containers/${web.id}/instancelinks`);
    expect(body.createTypes).toEqual({});
    expect(body.data.map((l: any) => l.linkName).sort()).toEqual(['cache', 'db']);
    expect(body.data.every((l: any) => l.type === 'instanceLink' && l.instanceId === web.id)).toBe(true);
    // the link field is implied, not a client filter
    expect(body.filters.instanceId).toBeNull();

    const apiLinks = await list(c, `/v1/containers/${api.id}/instancelinks`);
    expect(apiLinks.data.map((l: any) => [l.linkName, l.targetInstanceId])).toEqual([['database', db.id]]);
    expect((await list(c, `/v1/containers/${db.id}/instancelinks`)).data).toEqual([]);
  });

  it('link collections take filters, sort and pagination too', async () => {
    const f = await list(c, `/v1/containers/${web.id}/instancelinks?linkName=db`);
    expect(f.data.map((l: any) => l.linkName)).toEqual(['db']);
    expect(f.filters.linkName).toEqual([{ modifier: 'eq', value: 'db' }]);
    const s = await list(c, `/v1/containers/${web.id}/instancelinks?sort=linkName&order=desc`);
    expect(s.data.map((l: any) => l.linkName)).toEqual(['db', 'cache']);
    const pages = await walk(c, `/v1/containers/${web.id}/instancelinks?limit=1`);
    expect(pages.map((p) => p.data.length)).toEqual([1, 1]);
    expect(pages[0].pagination.next.startsWith(`${base}/v1/containers/${web.id}/instancelinks?limit=1&marker=`)).toBe(true);
    // a marker from one container's links does not page another's
    const m = encodeURIComponent(new URL(pages[0].pagination.next).searchParams.get('marker')!);
    expect(await err(c, `/v1/containers/${api.id}/instancelinks?limit=1&marker=${m}`, 422)).toMatchObject({ fieldName: 'marker' });
  });

  it('targetinstancelinks lists the links pointing at a container; /v1/instancelinks filters by instanceId', async () => {
    const body = await list(c, `/v1/containers/${db.id}/targetinstancelinks`);
    expect(body.data.map((l: any) => l.instanceId).sort(byNum)).toEqual([web.id, api.id]);
    expect((await list(c, `/v1/instancelinks?instanceId=${web.id}`)).data).toHaveLength(2);
    expect((await list(c, '/v1/instancelinks')).data).toHaveLength(3);
    expect((await list(c, '/v1/instancelinks?targetInstanceId_null=1')).data.map((l: any) => l.linkName)).toEqual(['cache']);
  });
});

// ---------------------------------------------------------------- scoping

describe('project scoping', () => {
  let a: { client: Client; projectId: string };
  let b: { client: Client; projectId: string };
  const aIds: string[] = [];
  const bIds: string[] = [];
  beforeAll(async () => {
    a = await projectClient(t.admin, 'scope-a');
    b = await projectClient(t.admin, 'scope-b');
    for (let i = 0; i < 3; i++) aIds.push((await mk(a.client, { name: `a${i}` })).id);
    for (let i = 0; i < 2; i++) bIds.push((await mk(b.client, { name: `b${i}` })).id);
  });

  it('a project key lists only its own project', async () => {
    expect(ids(await list(a.client, '/v1/containers'))).toEqual(aIds);
    expect(ids(await list(b.client, '/v1/containers'))).toEqual(bIds);
    expect(ids(await list(b.client, '/v1/instances'))).toEqual(bIds);
    // filtering on another project's account or ids finds nothing
    expect((await list(a.client, `/v1/containers?accountId=${b.projectId}`)).data).toEqual([]);
    expect((await list(a.client, `/v1/containers?id=${bIds[0]}`)).data).toEqual([]);
    // and it cannot switch project
    expect((await a.client.get('/v1/containers', { headers: { 'X-API-Project-Id': b.projectId } })).status).toBe(403);
  });

  it('the admin without a project lists across projects', async () => {
    const body = await list(t.admin, '/v1/containers?limit=0');
    for (const id of [...aIds, ...bIds]) expect(ids(body)).toContain(id);
    expect(ids(body)).toEqual(sorted(ids(body)));
    const accounts = new Set(body.data.map((d: any) => d.accountId));
    expect(accounts.has(a.projectId) && accounts.has(b.projectId)).toBe(true);
    // accountId narrows the cross-project list
    expect(ids(await list(t.admin, `/v1/containers?accountId=${b.projectId}`))).toEqual(bIds);
    // cross-project paging
    const pages = await walk(t.admin, `/v1/containers?name_prefix=a&limit=2&sort=name`);
    expect(pages.flatMap((p) => p.data.map((d: any) => d.name)).filter((n: string) => /^a\d$/.test(n))).toEqual(['a0', 'a1', 'a2']);
  });

  it('the admin with X-API-Project-Id, ?projectId= or /v1/projects/<id>/ lists only that project', async () => {
    expect(ids(await list(t.admin.with({ 'X-API-Project-Id': a.projectId }), '/v1/containers'))).toEqual(aIds);
    expect(ids(await list(t.admin, `/v1/containers?projectId=${b.projectId}`))).toEqual(bIds);
    expect(ids(await list(t.admin, `/v1/projects/${a.projectId}/containers`))).toEqual(aIds);
    // projectId is a scope parameter, not a filter
    const body = await list(t.admin, `/v1/containers?projectId=${b.projectId}`);
    expect(Object.values(body.filters).every((v) => v === null)).toBe(true);
  });

  it('a marker issued to one project does not page another', async () => {
    const page = await list(a.client, '/v1/containers?limit=1');
    const m = encodeURIComponent(new URL(page.pagination.next).searchParams.get('marker')!);
    expect(await err(b.client, `/v1/containers?limit=1&marker=${m}`, 422)).toMatchObject({ code: 'InvalidFormat', fieldName: 'marker' });
    expect(ids(await list(a.client, `/v1/containers?limit=1&marker=${m}`))).toEqual([aIds[1]]);
  });
});
