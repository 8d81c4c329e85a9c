/**
 * Request parsing details of spec §1.1–1.2: form bodies, schema lookup by plural name, and parameter names
 * that must never reach object prototypes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());

describe('request parsing', () => {
  it('reads a form-encoded body as parameters (cattle merges form parameters)', async () => {
    const r = await t.admin.post('/v1/containers', undefined, {
      raw: 'imageUuid=sim%3Aform&name=formed&dns=1.1.1.1&dns=8.8.8.8',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(201);
    expect([r.body.imageUuid, r.body.name, r.body.dns]).toEqual(['sim:form', 'formed', ['1.1.1.1', '8.8.8.8']]);
  });

  it('still reads JSON when the Content-Type claims something else', async () => {
    const r = await t.admin.post('/v1/containers', undefined, {
      raw: JSON.stringify({ imageUuid: 'sim:x', name: 'texty' }),
      headers: { 'content-type': 'text/plain' },
    });
    expect([r.status, r.body.name]).toEqual([201, 'texty']);
  });

  it('finds a schema by its plural name, in any case', async () => {
    for (const path of ['/v1/schemas/containers', '/v1/schemas/VirtualMachines', '/v1/schemas/virtualmachine']) {
      const r = await t.admin.get(path);
      expect(r.status, path).toBe(200);
      expect(r.body.type).toBe('schema');
    }
    expect((await t.admin.get('/v1/schemas/containers')).body.id).toBe('container');
  });

  it('ignores prototype-named parameters instead of failing', async () => {
    const created = await t.admin.post('/v1/containers?__proto__=x&__proto__=y&constructor=z', { imageUuid: 'sim:p' });
    expect(created.status).toBe(201);
    const listed = await t.admin.get('/v1/containers?__proto__=1&constructor=1&hasOwnProperty=1');
    expect(listed.status).toBe(200);
    expect(listed.body.data.some((c: { id: string }) => c.id === created.body.id)).toBe(true);
  });
});

describe('links and actions a caller cannot use are not offered', () => {
  it('POST to a collection with ?action= is InvalidAction, and creates nothing', async () => {
    const before = await t.admin.get('/v1/containers?name=not-created');
    const r = await t.admin.post('/v1/containers?action=stop', { imageUuid: 'sim:x', name: 'not-created' });
    expect([r.status, r.body.code, r.body.fieldName]).toEqual([422, 'InvalidAction', 'action']);
    const after = await t.admin.get('/v1/containers?name=not-created');
    expect(after.body.data.length).toBe(before.body.data.length);
  });

  it('a project key gets no account link (it cannot read projects); the admin does', async () => {
    const { client } = await projectClient(t.admin, 'linkless');
    const c = await client.post('/v1/containers', { imageUuid: 'sim:x' });
    expect(c.body.links.account).toBeUndefined();
    expect(c.body.links.instanceLinks).toBeDefined();
    for (const url of Object.values(c.body.links) as string[]) expect((await client.get(url)).status, url).toBe(200);
    const asAdmin = await t.admin.get(`/v1/containers/${c.body.id}`);
    expect((await t.admin.get(asAdmin.body.links.account)).body.type).toBe('project');
  });
});

describe('expiry of purged records', () => {
  it('a purged container expires after DROVER_PURGED_RETENTION_SECONDS and then reads as absent', async () => {
    const short = await startTestStack({ env: { DROVER_PURGED_RETENTION_SECONDS: '2' } });
    try {
      const c = await short.admin.post('/v1/containers', { imageUuid: 'sim:x', name: 'ephemeral', startOnCreate: false });
      await short.admin.del(`/v1/containers/${c.body.id}`);
      const before = Date.now();
      const purged = await short.admin.post(`/v1/containers/${c.body.id}/?action=purge`);
      const after = Date.now();
      const expiresAt = (await short.stack.store.get(c.body.id))?.expiresAt;
      expect(purged.status).toBe(202);
      // Retention is 2 s, kept to the second: the record expires 1 to 3 s after its purge. A read answered before
      // that instant sees it purged (one answered later, on a loaded machine, may rightly miss it: it failed once so).
      const read = await short.admin.get(`/v1/containers/${c.body.id}`);
      if (Date.now() < expiresAt! * 1000) expect(read.body.state).toBe('purged');
      expect(expiresAt! * 1000).toBeGreaterThan(before + 1000);
      expect(expiresAt! * 1000).toBeLessThanOrEqual(after + 3000);
      // Wait for that instant (not a guess at it), after which a read must miss it.
      while (Date.now() < expiresAt! * 1000) await new Promise((r) => setTimeout(r, expiresAt! * 1000 - Date.now()));
      expect((await short.admin.get(`/v1/containers/${c.body.id}`)).status).toBe(404);
      const list = await short.admin.get('/v1/containers?removed_notnull=true');
      expect(list.body.data.map((x: { id: string }) => x.id)).not.toContain(c.body.id);
    } finally {
      await short.close();
    }
  });
});
