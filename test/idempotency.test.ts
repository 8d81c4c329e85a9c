/**
 * `Idempotency-Key` on creates and actions over HTTP (issue 6 item 6): concurrent duplicates make one resource,
 * retries replay the first response byte for byte, a reused key with another request is a 422, keys are per
 * caller, error responses release the key, records expire, and large (`count`) responses replay whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from './helpers/client.js';
import { expectError } from './helpers/errors.js';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
let a: Client;
beforeAll(async () => {
  t = await startTestStack();
  a = t.admin;
});
afterAll(() => t.close());

let keys = 0;
/** A key no other test uses. */
const newKey = (label: string) => `${label}-${++keys}-${Date.now()}`;
const withKey = (key: string) => ({ headers: { 'Idempotency-Key': key } });

/** Names of the containers called `name` (the collection, so duplicates would show). */
async function containersNamed(name: string, client = a): Promise<string[]> {
  const r = await client.get(`/v1/containers?name=${name}&limit=-1`);
  expect(r.status).toBe(200);
  return r.body.data.map((c: { id: string }) => c.id);
}

describe('Idempotency-Key on creates', () => {
  it('twenty concurrent creates with one key and body make one instance, and all twenty get its 201', async () => {
    const key = newKey('twenty');
    const body = { name: 'idem-twenty', imageUuid: 'sim:web', startOnCreate: false };
    const replies = await Promise.all(Array.from({ length: 20 }, () => a.post('/v1/containers', body, withKey(key))));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await containersNamed('idem-twenty')).toEqual([replies[0].body.id]);
  });

  it('a retry after completion replays the first status and body byte for byte', async () => {
    const key = newKey('replay');
    const body = { name: 'idem-replay', imageUuid: 'sim:web' };
    const first = await a.post('/v1/containers', body, withKey(key));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // The instance has moved on (creating → running), yet the retry sees the first answer.
    expect((await a.get(`/v1/containers/${first.body.id}`)).body.state).toBe('running');
    const again = await a.post('/v1/containers', body, withKey(key));
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.headers.get('x-api-schemas')).toBe(first.headers.get('x-api-schemas'));
    expect(await containersNamed('idem-replay')).toEqual([first.body.id]);
  });

  it('the same key with a different body is a 422 IdempotencyKeyReused, and the first answer stays', async () => {
    const key = newKey('reused');
    const first = await a.post('/v1/containers', { name: 'idem-reused', imageUuid: 'sim:web' }, withKey(key));
    expect(first.status).toBe(201);
    const other = await a.post('/v1/containers', { name: 'idem-reused', imageUuid: 'sim:db' }, withKey(key));
    expectError(other, 422, 'IdempotencyKeyReused');
    expect(other.body.message).toContain(key);
    expect((await a.post('/v1/containers', { name: 'idem-reused', imageUuid: 'sim:web' }, withKey(key))).text).toBe(first.text);
    expect(await containersNamed('idem-reused')).toEqual([first.body.id]);
  });

  it('the same JSON with or without a Content-Type, in any key order, is the same request', async () => {
    const key = newKey('ctype');
    const first = await a.post('/v1/containers', { name: 'idem-ctype', imageUuid: 'sim:web' }, withKey(key));
    const typed = await a.request('POST', '/v1/containers', undefined, {
      headers: { 'Idempotency-Key': key, 'Content-Type': 'application/json' },
      raw: '{"imageUuid": "sim:web", "name": "idem-ctype"}',
    });
    expect([typed.status, typed.headers.get('idempotent-replayed'), typed.text]).toEqual([201, 'true', first.text]);
  });

  it('the project prefix and X-API-Project-Id name the same project scope; no project is another request', async () => {
    const { projectId } = await projectClient(a, 'idem-scope');
    const key = newKey('scope');
    const body = { name: 'idem-scope', imageUuid: 'sim:web' };
    const first = await a.post(`/v1/projects/${projectId}/containers`, body, withKey(key));
    expect(first.status).toBe(201);
    const viaHeader = await a.post('/v1/containers', body, { headers: { 'Idempotency-Key': key, 'X-API-Project-Id': projectId } });
    expect([viaHeader.headers.get('idempotent-replayed'), viaHeader.text]).toEqual(['true', first.text]);
    expectError(await a.post('/v1/containers', body, withKey(key)), 422, 'IdempotencyKeyReused');
  });

  it('keys are per caller: a project key and the admin using the same key do not collide', async () => {
    const { client: project } = await projectClient(a, 'idem-callers');
    const key = newKey('callers');
    const mine = await a.post('/v1/containers', { name: 'idem-callers-admin', imageUuid: 'sim:web' }, withKey(key));
    const theirs = await project.post('/v1/containers', { name: 'idem-callers-project', imageUuid: 'sim:web' }, withKey(key));
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(await containersNamed('idem-callers-project', project)).toEqual([theirs.body.id]);
  });

  it('an error response releases the key: the same mistake runs again, and the corrected request proceeds', async () => {
    const key = newKey('error');
    const wrong = await a.post('/v1/containers', { name: 'idem-error' }, withKey(key));
    expectError(wrong, 422, 'MissingRequired');
    const same = await a.post('/v1/containers', { name: 'idem-error' }, withKey(key));
    expectError(same, 422, 'MissingRequired');
    expect(same.headers.get('idempotent-replayed')).toBeNull();
    const fixed = await a.post('/v1/containers', { name: 'idem-error', imageUuid: 'sim:web' }, withKey(key));
    expect(fixed.status).toBe(201);
    expect(await containersNamed('idem-error')).toEqual([fixed.body.id]);
  });

  it('a bad header is a 400 InvalidFormat naming it', async () => {
    for (const bad of ['', 'x'.repeat(256), 'caf\u00e9']) {
      const r = await a.post('/v1/containers', { name: 'idem-bad', imageUuid: 'sim:web' }, withKey(bad));
      expectError(r, 400, 'InvalidFormat');
      expect(r.body.fieldName).toBe('Idempotency-Key');
      expect(r.body.message).toContain('Idempotency-Key');
    }
    expect((await a.post('/v1/containers', { name: 'idem-bad', imageUuid: 'sim:web' }, withKey('k'.repeat(255)))).status).toBe(201);
    expect(await containersNamed('idem-bad')).toHaveLength(1);
  });

  it('without the header, two identical creates make two instances, as before', async () => {
    const body = { name: 'idem-none', imageUuid: 'sim:web' };
    const [x, y] = [await a.post('/v1/containers', body), await a.post('/v1/containers', body)];
    expect(x.body.id).not.toBe(y.body.id);
    expect(await containersNamed('idem-none')).toHaveLength(2);
  });

  it('a create with count: 1000 (a 2 MB collection) replays whole', async () => {
    const key = newKey('count');
    const body = { name: 'idem-count', imageUuid: 'sim:web', startOnCreate: false, count: 1000 };
    const first = await a.post('/v1/containers', body, withKey(key));
    expect(first.status).toBe(201);
    expect(first.body.data).toHaveLength(1000);
    expect(first.text.length).toBeGreaterThan(1_000_000);
    const again = await a.post('/v1/containers', body, withKey(key));
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(again.text === first.text).toBe(true);
    expect(await containersNamed('idem-count')).toHaveLength(1000);
  }, 60_000);
});

describe('Idempotency-Key on actions', () => {
  it('a repeated stop with the same key replays instead of running twice', async () => {
    const c = (await a.post('/v1/containers', { name: 'idem-stop', imageUuid: 'sim:web' })).body;
    expect((await a.get(`/v1/containers/${c.id}`)).body.state).toBe('running');
    const key = newKey('stop');
    const stops = await Promise.all([1, 2, 3].map(() => a.post(`/v1/containers/${c.id}/?action=stop`, { timeout: 5 }, withKey(key))));
    expect(stops.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(stops.map((r) => r.text)).size).toBe(1);
    expect((await a.get(`/v1/containers/${c.id}`)).body.state).toBe('stopped');
    // Without the key the same stop is refused now: it did run once, and only once.
    expectError(await a.post(`/v1/containers/${c.id}/?action=stop`, { timeout: 5 }), 422, 'ActionNotAvailable');
    const later = await a.post(`/v1/containers/${c.id}?action=stop`, { timeout: 5 }, withKey(key));
    expect([later.status, later.headers.get('idempotent-replayed'), later.text]).toEqual([202, 'true', stops[0].text]);
  });

  it('the same key on another action or resource is a 422', async () => {
    const c = (await a.post('/v1/containers', { name: 'idem-act', imageUuid: 'sim:web', startOnCreate: false })).body;
    const key = newKey('act');
    expect((await a.post(`/v1/containers/${c.id}/?action=start`, {}, withKey(key))).status).toBe(202);
    expectError(await a.post(`/v1/containers/${c.id}/?action=restart`, {}, withKey(key)), 422, 'IdempotencyKeyReused');
    expectError(await a.post('/v1/containers', { name: 'idem-act', imageUuid: 'sim:web' }, withKey(key)), 422, 'IdempotencyKeyReused');
    expect((await a.get(`/v1/containers/${c.id}`)).body.startCount).toBe(1);
  });
});

describe('Idempotency-Key retention', () => {
  let short: TestStack;
  beforeAll(async () => {
    short = await startTestStack({ env: { DROVER_IDEMPOTENCY_SECONDS: '1' } });
  });
  afterAll(() => short.close());

  it('after DROVER_IDEMPOTENCY_SECONDS the key is free again and the request runs anew', async () => {
    const body = { name: 'idem-expiry', imageUuid: 'sim:web', startOnCreate: false };
    const first = await short.admin.post('/v1/containers', body, withKey('expiring'));
    expect(first.status).toBe(201);
    const deadline = Date.now() + 5_000;
    let r = await short.admin.post('/v1/containers', body, withKey('expiring'));
    expect(r.text).toBe(first.text);
    while (r.headers.get('idempotent-replayed') === 'true' && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 100));
      r = await short.admin.post('/v1/containers', body, withKey('expiring'));
    }
    expect(r.headers.get('idempotent-replayed')).toBeNull();
    expect(r.status).toBe(201);
    expect(r.body.id).not.toBe(first.body.id);
    expect(await containersNamed('idem-expiry', short.admin)).toEqual([first.body.id, r.body.id]);
  });
});
