/**
 * A generated fuzz suite over the schemas (issue 6): every creatable type, field and action the API document
 * lists gets wrong types, huge values, prototype names and malformed JSON; paths get bad ids; lists get bad
 * filters; requests get bad headers. Whatever arrives, Drover answers below 500, every error is a Rancher error
 * resource whose `status` is the HTTP status, and nothing unexpected reaches the server's error log. The
 * generator is seeded, so a failure names a request that can be replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from './helpers/client.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/** mulberry32: a small seeded generator, so every run sends the same requests. */
function seeded(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];
const STRINGS = ['', ' ', 'x', '%', '%00', '\u0000', '\r\n', '☃', '\ud800', '1i1', '1a1', '-1', '1e999', 'true', 'null', '{}', '<script>', ...PROTOTYPE_NAMES];

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Values that are wrong for most fields: other types, extremes, sizes just over and far over every limit. */
function badValue(r: ReturnType<typeof seeded>): unknown {
  switch (r.int(14)) {
    case 0: return r.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER + 2]);
    case 1: return r.pick([true, false, null]);
    case 2: return r.pick(STRINGS);
    case 3: return 'y'.repeat(r.pick([256, 1025, 4097, 65536, 200_000]));
    case 4: return [];
    case 5: return Array.from({ length: r.pick([2, 65, 257, 5000]) }, (_, i) => (i % 2 ? `v${i}` : i));
    case 6: return {};
    case 7: return Object.fromEntries(Array.from({ length: r.pick([1, 65, 300]) }, (_, i) => [`k${i}`, r.pick(['v', 1, null, {}])]));
    case 8: return Object.fromEntries(PROTOTYPE_NAMES.map((k) => [k, r.pick(['v', {}, []])]));
    case 9: return nested(r.pick([3, 40, 400]));
    case 10: return { [r.pick(PROTOTYPE_NAMES)]: { [r.pick(PROTOTYPE_NAMES)]: 'x' } };
    case 11: return ['x'.repeat(r.pick([300, 5000])), ...STRINGS];
    case 12: return { port: r.pick([0, 80, 70000, 'x']), name: r.pick(STRINGS), strategy: r.pick(['none', 'bogus']) };
    default: return `${r.int(1000)}`;
  }
}

/** A raw request body: usually a JSON object, sometimes not JSON or not an object, sometimes form data. */
function badBody(r: ReturnType<typeof seeded>, fields: string[]): { raw: string; contentType?: string } {
  switch (r.int(10)) {
    case 0: return { raw: r.pick(['[]', '"x"', '1', 'null', 'true', '{', '{"a":', '\u0000', '{"a":1}}', '[{}]']) };
    case 1: return { raw: `${r.pick(fields)}=${encodeURIComponent(JSON.stringify(badValue(r)) ?? "")}&__proto__=x`, contentType: 'application/x-www-form-urlencoded' };
    case 2: return { raw: `{"__proto__": {"imageUuid": "sim:x"}, "constructor": {"prototype": 1}}` };
    default: {
      const body: Record<string, unknown> = {};
      for (let i = 0, n = 1 + r.int(3); i < n; i++) body[r.pick(fields)] = badValue(r);
      if (r.int(2)) body.imageUuid = 'sim:fuzz';
      return { raw: JSON.stringify(body), contentType: r.pick([undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '\u00ff']) };
    }
  }
}

interface Sent {
  method: string;
  path: string;
  raw?: string;
  headers?: Record<string, string>;
}

let t: TestStack;
const logged: unknown[] = [];
beforeAll(async () => {
  t = await startTestStack({ logError: (e) => logged.push(e) });
});
afterAll(() => t.close());

/** Sends a request and checks the answer; returns a failure description or nothing. */
async function check(client: Client, req: Sent): Promise<string | undefined> {
  let reply: Reply;
  try {
    reply = await client.request(req.method, req.path, undefined, { raw: req.raw, headers: req.headers });
  } catch (e) {
    return `no answer (${(e as Error).message}: ${String((e as { cause?: Error }).cause?.message)}; headers ${JSON.stringify(req.headers)})`;
  }
  if (reply.status >= 500) return `${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)}`;
  if (req.method === 'HEAD') return reply.body === null ? undefined : 'HEAD answered with a body';
  if (reply.status >= 400 && !(req.path.startsWith('/agent'))) {
    const b = reply.body;
    if (!b || b.type !== 'error' || b.status !== reply.status || typeof b.code !== 'string' || b.baseType !== 'error') {
      return `error not in Rancher's shape: ${reply.status} ${JSON.stringify(b).slice(0, 200)}`;
    }
  }
  return undefined;
}

async function runAll(client: Client, reqs: Sent[]): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < reqs.length; i += 8) {
    const batch = reqs.slice(i, i + 8);
    const results = await Promise.all(batch.map((req) => check(client, req)));
    results.forEach((f, j) => f && failures.push(`${batch[j].method} ${batch[j].path.slice(0, 120)} (${(batch[j].raw ?? '').length} bytes) ${(batch[j].raw ?? '').slice(0, 120)} → ${f}`));
  }
  return failures;
}

describe('fuzzing the API from its own schemas', () => {
  it('answers every generated request below 500, with Rancher errors, and logs no unexpected error', async () => {
    const r = seeded(6);
    const a = t.admin;
    const schemas: any[] = (await a.get('/v1/schemas')).body.data;
    const creatable = schemas.filter((s) => s.collectionMethods.includes('POST') && s.links.collection);
    // Some resources to aim actions, updates and links at.
    const targets: { plural: string; id: string; schema: any }[] = [];
    for (const s of creatable) {
      const body = s.id === 'apiKey' ? { accountId: t.stack.defaultProjectId } : s.resourceFields.imageUuid ? { imageUuid: 'sim:x', instanceLinks: { db: null } } : s.resourceFields.url?.required ? { name: 'fuzz', url: 'http://127.0.0.1:9/fuzz' } : { name: 'fuzz' };
      const made = await a.post(`/v1/${s.pluralName.toLowerCase()}`, body);
      expect(made.status, `${s.id}: ${JSON.stringify(made.body)}`).toBe(201);
      targets.push({ plural: s.pluralName.toLowerCase(), id: made.body.id, schema: s });
    }
    const container = targets.find((x) => x.schema.id === 'container')!;
    const link = (await a.get(`/v1/containers/${container.id}/instancelinks`)).body.data[0];
    targets.push({ plural: 'instancelinks', id: link.id, schema: schemas.find((s) => s.id === 'instanceLink') });

    const reqs: Sent[] = [];
    const withBody = (method: string, path: string, body: { raw: string; contentType?: string }, headers: Record<string, string> = {}) =>
      reqs.push({ method, path, raw: body.raw, headers: body.contentType ? { ...headers, 'content-type': body.contentType } : headers });

    // Creates: every writable field of every creatable type, with bad values.
    for (const s of creatable) {
      const fields = [...Object.keys(s.resourceFields).filter((f) => s.resourceFields[f].create), ...PROTOTYPE_NAMES];
      for (const field of fields) for (let i = 0; i < 5; i++) withBody('POST', `/v1/${s.pluralName.toLowerCase()}`, badBody(r, [field]));
      for (let i = 0; i < 30; i++) withBody('POST', `/v1/${s.pluralName.toLowerCase()}`, badBody(r, fields));
    }
    // Updates, actions (real ones with bad input, prototype names, random names) and links of each target.
    for (const { plural, id, schema } of targets) {
      const base = `/v1/${plural}/${id}`;
      const fields = [...Object.keys(schema.resourceFields), ...PROTOTYPE_NAMES];
      for (let i = 0; i < 30; i++) withBody(r.pick(['PUT', 'POST']), r.int(2) ? base : `${base}?_method=PUT`, badBody(r, fields));
      const actions = [...Object.keys(schema.resourceActions), ...PROTOTYPE_NAMES, 'x'.repeat(300), '%00', ''];
      for (const action of actions) {
        const input = schema.resourceActions[action]?.input;
        const inputFields = input ? Object.keys(schemas.find((s) => s.id === input)?.resourceFields ?? {}) : ['remove', 'timeout', 'labels'];
        for (let i = 0; i < 3; i++) withBody('POST', `${base}/?action=${encodeURIComponent(action)}`, badBody(r, [...inputFields, ...PROTOTYPE_NAMES]));
      }
      for (const seg of [...Object.keys(schema.links ?? {}), ...PROTOTYPE_NAMES, '%00', '..', 'x'.repeat(2000)]) {
        reqs.push({ method: r.pick(['GET', 'HEAD', 'POST', 'DELETE']), path: `${base}/${seg}` });
      }
    }
    // Paths: bad ids and segments on every collection, and outside them.
    const badIds = ['%00', '%0d%0a', '%E2%98%83', '%ZZ', '..', '1i0', '1i-1', '1i99999999999999999999', 'x'.repeat(1100), ...PROTOTYPE_NAMES];
    for (const s of schemas) {
      for (const id of badIds) reqs.push({ method: r.pick(['GET', 'HEAD', 'PUT', 'DELETE', 'POST', 'PATCH', 'OPTIONS']), path: `/v1/${s.pluralName.toLowerCase()}/${id}` });
    }
    for (const id of badIds) {
      reqs.push({ method: 'GET', path: `/v1/projects/${id}/containers` });
      reqs.push({ method: 'GET', path: `/v1/${id}` });
      reqs.push({ method: 'GET', path: `/v1/schemas/${id}` });
    }
    // Lists: every filter with random modifiers and bad values, bad sorts, limits and markers.
    for (const s of schemas.filter((x) => x.links.collection)) {
      const filters = Object.keys(s.collectionFilters);
      for (let i = 0; i < 25; i++) {
        const q = new URLSearchParams();
        for (let j = 0, n = 1 + r.int(4); j < n; j++) {
          const f = r.pick([...filters, ...PROTOTYPE_NAMES]);
          const mod = r.pick(['', '_eq', '_ne', '_lt', '_gte', '_prefix', '_like', '_notlike', '_null', '_bogus']);
          q.append(`${f}${mod}`, String(r.pick([...STRINGS, '%a%a%a%a%a%a%a%b', 'x'.repeat(2000), '2016-02-30T00:00:00Z', '1e20'])));
        }
        if (r.int(3) === 0) q.set('sort', r.pick([...filters, ...PROTOTYPE_NAMES]));
        if (r.int(3) === 0) q.set('order', r.pick(['desc', 'asc', 'x']));
        if (r.int(3) === 0) q.set('limit', r.pick(['-1', '0', 'abc', '99999999999999999999', '1.5']));
        if (r.int(3) === 0) q.set('marker', r.pick(['x', 'm1', 'x'.repeat(3000), '%00']));
        reqs.push({ method: r.pick(['GET', 'HEAD']), path: `/v1/${s.pluralName.toLowerCase()}?${q}` });
      }
    }
    // Headers: forwarded values, project selection, content types and credentials that are wrong.
    const headerCases: Record<string, string>[] = [
      { 'X-Forwarded-Host': 'exa mple.com' }, { 'X-Forwarded-Proto': '1x' }, { 'X-Forwarded-Port': '99999999' },
      { 'X-Forwarded-Host': '[::1' }, { 'X-Forwarded-Host': 'a'.repeat(4000) }, { 'X-Forwarded-Proto': 'javascript' },
      { 'X-API-Project-Id': '1a999999' }, { 'X-API-Project-Id': '__proto__' }, { 'X-API-Project-Id': 'x'.repeat(3000) },
      { 'X-API-Project-Id': '1a1%00' }, { 'content-type': 'application/json; charset=x' }, { 'x-api-no-challenge': 'true' },
    ];
    for (const headers of headerCases) {
      for (const path of ['/', '/v1', '/v1/containers', `/v1/containers/${container.id}`, '/v1/schemas']) reqs.push({ method: 'GET', path, headers });
      withBody('POST', '/v1/containers', badBody(r, ['imageUuid', 'name']), headers);
    }
    const failures = await runAll(a, reqs);

    // Credentials that are wrong in every way still get a 401 error resource.
    const authCases = ['Basic', 'Basic !!!', `Basic ${'A'.repeat(10_000)}`, `Basic ${Buffer.from(':').toString('base64')}`,
      `Basic ${Buffer.from(`${'k'.repeat(3000)}:s`).toString('base64')}`, `Basic ${Buffer.from('__proto__:x').toString('base64')}`, 'Bearer x', 'Basic \u00ff'];
    for (const authorization of authCases) {
      const res = await fetch(`${t.stack.url}/v1/containers`, { headers: { authorization } }).catch((e) => e as Error);
      if (res instanceof Error) failures.push(`auth ${authorization.slice(0, 30)}: ${res.message}`);
      else if (res.status !== 401) failures.push(`auth ${authorization.slice(0, 30)}: ${res.status}`);
    }

    expect(reqs.length).toBeGreaterThan(1800);
    expect(failures, failures.slice(0, 20).join('\n')).toEqual([]);
    expect(logged.map((e) => String((e as Error)?.stack ?? e).slice(0, 300))).toEqual([]);
  }, 240_000);
});
