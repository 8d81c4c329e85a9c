/**
 * Receivers: a secret URL that runs an action on the instances of its project that its label selector matches,
 * through the same lifecycle, with the receiver as the caller. On a stack whose workflows run on a sim host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectClient, startTestStack, type TestStack } from './helpers/stack.js';
import { until } from './helpers/wait.js';
import type { Client } from './helpers/client.js';

let t: TestStack;
let team: Client;

/** Calls a receiver's URL as an outside system would: no credentials but its key. */
const trigger = (url: string) => fetch(`${t.stack.url}${url}`, { method: 'POST', body: '{}' });

const stateOf = async (id: string) => (await t.admin.get(`/v1/containers/${id}`)).body;

beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '1' }, simWorkMs: 5 });
  team = (await projectClient(t.admin, 'receivers-team')).client;
}, 60_000);
afterAll(() => t.close());

describe('receivers', () => {
  it('shows its URL once, and starts exactly the instances its selector matches, as itself', async () => {
    const made = await t.admin.post('/v1/receivers', { name: 'deploy', action: 'start', selector: { app: 'web' } });
    expect(made.status).toBe(201);
    expect(made.body.url).toMatch(/^\/v1-webhooks\/endpoint\?key=[A-Z0-9]+:\S+$/);
    expect((await t.admin.get(`/v1/receivers/${made.body.id}`)).body.url).toBeNull();
    const web = [
      await t.admin.post('/v1/containers', { imageUuid: 'sim:w', labels: { app: 'web', tier: 'a' }, startOnCreate: false }),
      await t.admin.post('/v1/containers', { imageUuid: 'sim:w', labels: { app: 'web' }, startOnCreate: false }),
    ];
    const db = await t.admin.post('/v1/containers', { imageUuid: 'sim:d', labels: { app: 'db' }, startOnCreate: false });
    // Another project's instance with the same labels is not the receiver's to touch.
    const theirs = await team.post('/v1/containers', { imageUuid: 'sim:w', labels: { app: 'web' }, startOnCreate: false });

    const r = await trigger(made.body.url);
    expect(r.status).toBe(200);
    const body = (await r.json()) as any;
    expect(body).toMatchObject({ type: 'receiverResult', receiverId: made.body.id, action: 'start' });
    expect(body.instances.map((i: any) => i.instanceId).sort()).toEqual(web.map((w) => w.body.id).sort());
    for (const w of web) await until(async () => (await stateOf(w.body.id)).state === 'running', 10_000);
    expect((await stateOf(db.body.id)).state).toBe('stopped');
    expect((await team.get(`/v1/containers/${theirs.body.id}`)).body.state).toBe('stopped');

    // Called again: the running ones do not offer start, so they are skipped, with the reason.
    const again = (await (await trigger(made.body.url)).json()) as any;
    expect(again.instances.every((i: any) => i.result === 'skipped' && /does not offer start/.test(i.reason))).toBe(true);
  });

  it('recreates matching instances: a copy with the same create fields, and the old one removed', async () => {
    const receiver = await t.admin.post('/v1/receivers', { action: 'recreate', selector: { role: 'worker' } });
    const old = await t.admin.post('/v1/containers', { imageUuid: 'sim:job', name: 'worker-1', labels: { role: 'worker' }, environment: { A: '1' } });
    await until(async () => (await stateOf(old.body.id)).state === 'running', 10_000);
    const body = (await (await trigger(receiver.body.url)).json()) as any;
    const [outcome] = body.instances;
    expect(outcome).toMatchObject({ instanceId: old.body.id, result: 'recreated', newInstanceId: expect.any(String) });
    const copy = await stateOf(outcome.newInstanceId);
    expect(copy).toMatchObject({ imageUuid: 'sim:job', name: 'worker-1', labels: { role: 'worker' }, environment: { A: '1' } });
    await until(async () => (await stateOf(outcome.newInstanceId)).state === 'running', 10_000);
    await until(async () => ['removed', 'purging', 'purged'].includes((await stateOf(old.body.id)).state), 10_000);
  });

  it('refuses a wrong key and a receiver that was removed or deactivated', async () => {
    const receiver = await t.admin.post('/v1/receivers', { action: 'restart', selector: { x: 'y' } });
    expect((await trigger(receiver.body.url.replace(/.$/, 'x'))).status).toBe(401);
    expect((await trigger('/v1-webhooks/endpoint')).status).toBe(401);
    expect((await trigger(receiver.body.url)).status).toBe(200);
    await t.admin.post(`/v1/receivers/${receiver.body.id}?action=deactivate`, {});
    const refused = await trigger(receiver.body.url);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ type: 'error', status: 401 });
  });

  it('validates the action and the selector', async () => {
    expect((await t.admin.post('/v1/receivers', { action: 'explode', selector: { a: 'b' } })).body).toMatchObject({ status: 422, code: 'InvalidOption', fieldName: 'action' });
    expect((await t.admin.post('/v1/receivers', { action: 'start' })).body).toMatchObject({ status: 422, code: 'MissingRequired', fieldName: 'selector' });
  });
});
