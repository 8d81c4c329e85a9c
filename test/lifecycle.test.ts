/**
 * End-to-end lifecycle over HTTP (spec §1.8, §2.2, §3.1–3.6): every user-reachable action, the state in its
 * response and the settled state after it, DELETE semantics, handler actions, instance links, and races.
 *
 * There are no hosts yet: the inline runner finishes each process inside the request, so a response shows the
 * transitioning state and the next GET shows the done state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from './helpers/client.js';
import { expectError } from './helpers/errors.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
let a: Client;
beforeAll(async () => {
  t = await startTestStack();
  a = t.admin;
});
afterAll(() => t.close());

const sorted = (o: Record<string, unknown>) => Object.keys(o).sort();

async function create(body: Record<string, unknown> = {}, path = '/v1/containers') {
  const r = await a.post(path, { imageUuid: 'sim:test', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function get(id: string, path = '/v1/containers') {
  const r = await a.get(`${path}/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function act(id: string, action: string, input: Record<string, unknown> = {}, path = '/v1/containers') {
  return a.post(`${path}/${id}/?action=${action}`, input);
}

/** A running container (created with startOnCreate). */
async function running(body: Record<string, unknown> = {}) {
  const c = await create(body);
  const r = await get(c.id);
  expect(r.state).toBe('running');
  return r;
}

/** A stopped container (created with startOnCreate false). */
async function stopped(body: Record<string, unknown> = {}) {
  const c = await create({ startOnCreate: false, ...body });
  const r = await get(c.id);
  expect(r.state).toBe('stopped');
  return r;
}

async function removed() {
  const c = await stopped();
  expect((await act(c.id, 'remove')).status).toBe(202);
  const r = await get(c.id);
  expect(r.state).toBe('removed');
  return r;
}

function expectTransitioning(body: any, state: string) {
  expect(body.state).toBe(state);
  expect(body.transitioning).toBe('yes');
  expect(body.transitioningMessage).toBe('In Progress');
  expect(body.transitioningProgress).toBeNull();
}

function expectSettled(body: any, state: string) {
  expect(body.state).toBe(state);
  expect(body.transitioning).toBe('no');
  expect(body.transitioningMessage).toBeNull();
  expect(body.transitioningProgress).toBeNull();
}

describe('create', () => {
  it('startOnCreate (default true): 201 creating, then running with firstRunning and startCount 1', async () => {
    const before = Date.now() - 1000;
    const c = await create({ name: 'web' });
    expectTransitioning(c, 'creating');
    expect(c.firstRunning).toBeNull();
    expect(c.startCount).toBe(0);
    expect(c.startOnCreate).toBe(true);
    expect(sorted(c.actions)).toEqual(['error', 'remove', 'setlabels', 'start', 'stop']);

    const r = await get(c.id);
    expectSettled(r, 'running');
    expect(r.startCount).toBe(1);
    expect(typeof r.firstRunning).toBe('string');
    expect(r.firstRunning).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(r.firstRunningTS).toBeGreaterThanOrEqual(before);
    expect(r.firstRunningTS).toBeLessThanOrEqual(Date.now() + 1000);
    expect(r.removed).toBeNull();
    expect(r.removeTime).toBeNull();
    expect(sorted(r.actions)).toEqual(['execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']);
    for (const [name, url] of Object.entries(r.actions)) {
      expect(url).toBe(`${t.stack.url}/v1/containers/${c.id}/?action=${name}`);
    }
  });

  it('startOnCreate false: ends stopped, never ran', async () => {
    const c = await create({ startOnCreate: false });
    expectTransitioning(c, 'creating');
    const r = await get(c.id);
    expectSettled(r, 'stopped');
    expect(r.firstRunning).toBeNull();
    expect(r.firstRunningTS).toBeUndefined();
    expect(r.startCount).toBe(0);
    expect(sorted(r.actions)).toEqual(['error', 'logs', 'remove', 'setlabels', 'start', 'update']);
  });

  it('a virtual machine runs and offers console only while running', async () => {
    const vm = await create({ name: 'vm1' }, '/v1/virtualmachines');
    expect(vm.type).toBe('virtualMachine');
    expectTransitioning(vm, 'creating');
    const r = await get(vm.id, '/v1/virtualmachines');
    expectSettled(r, 'running');
    expect(sorted(r.actions)).toEqual(['console', 'execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']);
    const s = await act(vm.id, 'stop', {}, '/v1/virtualmachines');
    expect(s.status).toBe(202);
    expect(s.body.actions.console).toBeUndefined();
    const st = await get(vm.id, '/v1/virtualmachines');
    expectSettled(st, 'stopped');
    expect(st.actions.console).toBeUndefined();
  });

  it('count creates several instances, each transitioning', async () => {
    const r = await a.post('/v1/containers', { imageUuid: 'sim:n', count: 3 });
    expect(r.status).toBe(201);
    expect(r.body.type).toBe('collection');
    expect(r.body.data).toHaveLength(3);
    for (const c of r.body.data) {
      expectTransitioning(c, 'creating');
      expectSettled(await get(c.id), 'running');
    }
  });
});

describe('process actions', () => {
  it('start: 202 starting → running; startCount+1, firstRunning unchanged', async () => {
    const c = await running();
    expect((await act(c.id, 'stop')).status).toBe(202);
    const r = await act(c.id, 'start');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'starting');
    expect(sorted(r.body.actions)).toEqual(['setlabels', 'stop']);
    const after = await get(c.id);
    expectSettled(after, 'running');
    expect(after.startCount).toBe(2);
    expect(after.firstRunning).toBe(c.firstRunning);
    expect(after.firstRunningTS).toBe(c.firstRunningTS);
  });

  it('start of a never-started container sets firstRunning', async () => {
    const c = await stopped();
    const r = await act(c.id, 'start');
    expect(r.status).toBe(202);
    expect(r.body.firstRunning).toBeNull();
    const after = await get(c.id);
    expect(after.startCount).toBe(1);
    expect(typeof after.firstRunningTS).toBe('number');
  });

  it('stop: 202 stopping → stopped; timeout is accepted', async () => {
    const c = await running();
    const r = await act(c.id, 'stop', { timeout: 10 });
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'stopping');
    expect(sorted(r.body.actions)).toEqual(['logs', 'setlabels']);
    const after = await get(c.id);
    expectSettled(after, 'stopped');
    expect(after.startCount).toBe(1);
    expect(after.removed).toBeNull();
  });

  it('stop with remove: true chains remove → removed with removed/removedTS/removeTime', async () => {
    const c = await running();
    const before = Date.now() - 1000;
    const r = await act(c.id, 'stop', { remove: true, timeout: 0 });
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'stopping');
    const after = await get(c.id);
    expectSettled(after, 'removed');
    expect(after.removed).toMatch(/Z$/);
    expect(after.removedTS).toBeGreaterThanOrEqual(before);
    expect(after.removeTime).toMatch(/Z$/);
    expect(after.removeTimeTS).toBeGreaterThan(after.removedTS);
    expect(sorted(after.actions)).toEqual(['purge', 'restore', 'setlabels']);
  });

  it('restart: 202 restarting → running; startCount+1, firstRunning unchanged', async () => {
    const c = await running();
    const r = await act(c.id, 'restart');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'restarting');
    expect(sorted(r.body.actions)).toEqual(['setlabels']);
    const after = await get(c.id);
    expectSettled(after, 'running');
    expect(after.startCount).toBe(2);
    expect(after.firstRunningTS).toBe(c.firstRunningTS);
  });

  it('update on running: 202 updating-running → running', async () => {
    const c = await running();
    const r = await act(c.id, 'update');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'updating-running');
    expect(sorted(r.body.actions)).toEqual(['remove', 'setlabels', 'stop']);
    const after = await get(c.id);
    expectSettled(after, 'running');
    expect(after.startCount).toBe(1);
  });

  it('update on stopped: 202 updating-stopped → stopped', async () => {
    const c = await stopped();
    const r = await act(c.id, 'update');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'updating-stopped');
    expectSettled(await get(c.id), 'stopped');
  });

  it('migrate: 202 migrating → running', async () => {
    const c = await running();
    const r = await act(c.id, 'migrate');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'migrating');
    expect(sorted(r.body.actions)).toEqual(['setlabels']);
    const after = await get(c.id);
    expectSettled(after, 'running');
    expect(after.startCount).toBe(1);
  });

  it('error on stopped: 202 erroring → error, which offers only remove and setlabels', async () => {
    const c = await stopped();
    const r = await act(c.id, 'error');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'erroring');
    expect(sorted(r.body.actions)).toEqual(['remove', 'setlabels']);
    const after = await get(c.id);
    expect(after.state).toBe('error');
    expect(sorted(after.actions)).toEqual(['remove', 'setlabels']);
    // Not a transitioning state, and no process failed.
    expect(after.transitioning).toBe('no');
    const rm = await act(c.id, 'remove');
    expect(rm.status).toBe(202);
    expectTransitioning(rm.body, 'removing');
    expectSettled(await get(c.id), 'removed');
  });

  it('remove on stopped: 202 removing → removed', async () => {
    const c = await stopped();
    const r = await act(c.id, 'remove');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'removing');
    expect(r.body.removed).toBeNull();
    const after = await get(c.id);
    expectSettled(after, 'removed');
    expect(typeof after.removedTS).toBe('number');
    expect(typeof after.removeTimeTS).toBe('number');
  });

  it('restore: 202 restoring → stopped, removed fields cleared; it can start again', async () => {
    const c = await removed();
    const r = await act(c.id, 'restore');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'restoring');
    const after = await get(c.id);
    expectSettled(after, 'stopped');
    expect(after.removed).toBeNull();
    expect(after.removedTS).toBeUndefined();
    expect(after.removeTime).toBeNull();
    expect((await act(c.id, 'start')).status).toBe(202);
    const again = await get(c.id);
    expectSettled(again, 'running');
    expect(again.startCount).toBe(1);
  });

  it('purge: 202 purging → purged; GET by id still works and only setlabels remains', async () => {
    const c = await removed();
    const r = await act(c.id, 'purge');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'purging');
    const after = await get(c.id);
    expectSettled(after, 'purged');
    expect(sorted(after.actions)).toEqual(['setlabels']);
    expectError(await act(c.id, 'restore'), 422, 'ActionNotAvailable', 'action');
  });

  it('a resource never offers actions of another type, and the response lists only available ones', async () => {
    const c = await running();
    expectError(await act(c.id, 'activate'), 422, 'InvalidAction', 'action');
    // Internal processes never show in `actions`, and run only when their own field allows (here: nothing is
    // allocated, so nothing to deallocate; no health check, so no health state to update).
    expect(Object.keys(c.actions)).not.toContain('allocate');
    expectError(await act(c.id, 'deallocate'), 422, 'ActionNotAvailable', 'action');
    expectError(await act(c.id, 'updatehealthy'), 422, 'ActionNotAvailable', 'action');
  });
});

describe('DELETE', () => {
  it('on running: 200 stopping → removed', async () => {
    const c = await running();
    const r = await a.del(`/v1/containers/${c.id}`);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(c.id);
    expectTransitioning(r.body, 'stopping');
    const after = await get(c.id);
    expectSettled(after, 'removed');
    expect(typeof after.removedTS).toBe('number');
  });

  it('on stopped: 200 removing → removed', async () => {
    const c = await stopped();
    const r = await a.del(`/v1/containers/${c.id}`);
    expect(r.status).toBe(200);
    expectTransitioning(r.body, 'removing');
    expectSettled(await get(c.id), 'removed');
  });

  it('on error: 200 removing → removed', async () => {
    const c = await stopped();
    await act(c.id, 'error');
    const r = await a.del(`/v1/containers/${c.id}`);
    expect(r.status).toBe(200);
    expectTransitioning(r.body, 'removing');
    expect((await get(c.id)).state).toBe('removed');
  });

  it('on removed: 200 with the resource unchanged (idempotent)', async () => {
    const c = await removed();
    const r = await a.del(`/v1/containers/${c.id}`);
    expect(r.status).toBe(200);
    expectSettled(r.body, 'removed');
    expect(r.body.removedTS).toBe(c.removedTS);
    expect(r.body.removeTimeTS).toBe(c.removeTimeTS);
    const again = await get(c.id);
    expect(again.removedTS).toBe(c.removedTS);
    expect((await a.del(`/v1/containers/${c.id}`)).status).toBe(200);
  });

  it('on purged: 200 unchanged', async () => {
    const c = await removed();
    await act(c.id, 'purge');
    const r = await a.del(`/v1/containers/${c.id}`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('purged');
  });

  it('of a virtual machine through /v1/virtualmachines and through /v1/instances (GET only: 405)', async () => {
    const vm = await create({}, '/v1/virtualmachines');
    expectError(await a.del(`/v1/instances/${vm.id}`), 405, 'Method not allowed');
    const r = await a.del(`/v1/virtualmachines/${vm.id}`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('stopping');
    expect((await get(vm.id, '/v1/virtualmachines')).state).toBe('removed');
  });

  it('of an unknown id: 404', async () => {
    expectError(await a.del('/v1/containers/1i999999'), 404, 'Not Found');
  });
});

describe('handler actions', () => {
  it('setlabels replaces the labels and returns 200 with the container', async () => {
    const c = await running({ labels: { a: '1', b: '2' } });
    expect(c.labels).toEqual({ a: '1', b: '2' });
    const r = await act(c.id, 'setlabels', { labels: { b: '3', c: '4' } });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('container');
    expect(r.body.id).toBe(c.id);
    expect(r.body.labels).toEqual({ b: '3', c: '4' });
    expectSettled(r.body, 'running');
    expect((await get(c.id)).labels).toEqual({ b: '3', c: '4' });
    // An empty map clears them.
    expect((await act(c.id, 'setlabels', { labels: {} })).body.labels).toEqual({});
  });

  it('setlabels works in every settled state, including removed', async () => {
    const c = await removed();
    const r = await act(c.id, 'setlabels', { labels: { x: 'y' } });
    expect(r.status).toBe(200);
    expect(r.body.labels).toEqual({ x: 'y' });
    expect(r.body.state).toBe('removed');
  });

  it('setlabels validates its input', async () => {
    const c = await running();
    expectError(await act(c.id, 'setlabels', {}), 422, 'MissingRequired', 'labels');
    const bad = await act(c.id, 'setlabels', { labels: ['a'] });
    expect(bad.status).toBe(422);
    expect(bad.body.fieldName).toBe('labels');
    const badValue = await act(c.id, 'setlabels', { labels: { a: 1 } });
    expect(badValue.status).toBe(422);
    expect((await get(c.id)).labels).toEqual({});
  });

  it('execute, logs and proxy on a container with no host: 404 error resource, state unchanged', async () => {
    const c = await running();
    expectError(await act(c.id, 'execute', { command: ['/bin/sh'] }), 404, 'Not Found');
    expectError(await act(c.id, 'logs', { lines: 10 }), 404, 'Not Found');
    expectError(await act(c.id, 'proxy', { port: 80 }), 404, 'Not Found');
    expectSettled(await get(c.id), 'running');
    // Input is still validated first.
    expectError(await act(c.id, 'execute', {}), 422, 'MissingRequired', 'command');
  });

  it('logs on a stopped container: 404 (no host); execute there: ActionNotAvailable', async () => {
    const c = await stopped();
    expectError(await act(c.id, 'logs'), 404, 'Not Found');
    expectError(await act(c.id, 'execute', { command: ['ls'] }), 422, 'ActionNotAvailable', 'action');
  });

  it('console on a running VM with no host: 404; on a container: ActionNotAvailable', async () => {
    const vm = await create({}, '/v1/virtualmachines');
    expectError(await act(vm.id, 'console', {}, '/v1/virtualmachines'), 404, 'Not Found');
    const c = await running();
    expectError(await act(c.id, 'console'), 422, 'ActionNotAvailable', 'action');
  });
});

describe('action errors', () => {
  it('start on running: 422 ActionNotAvailable with fieldName action, nothing changes', async () => {
    const c = await running();
    const r = await act(c.id, 'start');
    expectError(r, 422, 'ActionNotAvailable', 'action');
    expect(r.body.message).toBeNull();
    const after = await get(c.id);
    expect(after.state).toBe('running');
    expect(after.startCount).toBe(1);
  });

  it('every process action not offered in a state is refused', async () => {
    const c = await running();
    for (const action of ['start', 'remove', 'purge', 'restore', 'error', 'create']) {
      expectError(await act(c.id, action), 422, 'ActionNotAvailable', 'action');
    }
    const s = await stopped();
    for (const action of ['stop', 'restart', 'migrate', 'purge', 'restore', 'execute', 'proxy']) {
      expectError(await act(s.id, action), 422, 'ActionNotAvailable', 'action');
    }
  });

  it('a bogus action name: 422 InvalidAction', async () => {
    const c = await running();
    expectError(await act(c.id, 'explode'), 422, 'InvalidAction', 'action');
  });

  it('invalid action input: 422 on the input field', async () => {
    const c = await running();
    const r = await act(c.id, 'stop', { timeout: 'soon' });
    expect(r.status).toBe(422);
    expect(r.body.fieldName).toBe('timeout');
    expect((await get(c.id)).state).toBe('running');
  });

  it('an action on an unknown id: 404', async () => {
    expectError(await act('1i999999', 'stop'), 404, 'Not Found');
  });

  it('a non-JSON body: 400 InvalidBodyContent', async () => {
    const c = await running();
    const r = await a.request('POST', `/v1/containers/${c.id}/?action=stop`, undefined, { raw: '{nope' });
    expectError(r, 400, 'InvalidBodyContent');
    expect((await get(c.id)).state).toBe('running');
  });
});

describe('actions through other URLs', () => {
  it('/v1/instances/<id>?action=stop works and renders the container', async () => {
    const c = await running();
    const r = await act(c.id, 'stop', {}, '/v1/instances');
    expect(r.status).toBe(202);
    expect(r.body.type).toBe('container');
    expectTransitioning(r.body, 'stopping');
    expect((await get(c.id, '/v1/instances')).state).toBe('stopped');
    const s = await act(c.id, 'setlabels', { labels: { via: 'instances' } }, '/v1/instances');
    expect(s.status).toBe(200);
    expect(s.body.labels).toEqual({ via: 'instances' });
  });

  it('a VM action via /v1/containers (its parent collection)', async () => {
    const vm = await create({}, '/v1/virtualmachines');
    const r = await act(vm.id, 'restart');
    expect(r.status).toBe(202);
    expect(r.body.type).toBe('virtualMachine');
    expect(r.body.state).toBe('restarting');
  });

  it('a container is not reachable as a virtual machine', async () => {
    const c = await running();
    expectError(await act(c.id, 'stop', {}, '/v1/virtualmachines'), 404, 'Not Found');
  });

  it('without the slash before ?action, and via the project prefix', async () => {
    const c = await running();
    const r = await a.post(`/v1/containers/${c.id}?action=stop`, {});
    expect(r.status).toBe(202);
    const p = await a.post(`/v1/projects/${t.stack.defaultProjectId}/containers/${c.id}/?action=start`, {});
    expect(p.status).toBe(202);
    expect(p.body.links.self).toBe(`${t.stack.url}/v1/projects/${t.stack.defaultProjectId}/containers/${c.id}`);
    expect(p.body.actions.stop).toBe(`${t.stack.url}/v1/projects/${t.stack.defaultProjectId}/containers/${c.id}/?action=stop`);
  });
});

describe('PUT', () => {
  it('changes name/description only, returns the full resource, schedules no process on instances', async () => {
    const c = await running({ name: 'before' });
    const r = await a.put(`/v1/containers/${c.id}`, { name: 'after', description: 'd', imageUuid: 'sim:other', state: 'stopped' });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('after');
    expect(r.body.description).toBe('d');
    expect(r.body.imageUuid).toBe('sim:test');
    expectSettled(r.body, 'running');
  });
});

describe('instance links (spec §2.8, §3.6)', () => {
  async function linkOf(containerId: string, name = 'db') {
    const r = await a.get(`/v1/containers/${containerId}/instancelinks`);
    expect(r.status).toBe(200);
    const l = r.body.data.find((x: any) => x.linkName === name);
    expect(l, JSON.stringify(r.body.data)).toBeTruthy();
    return l;
  }
  const getLink = (id: string) => get(id, '/v1/instancelinks');
  const linkAct = (id: string, action: string, input: Record<string, unknown> = {}) => act(id, action, input, '/v1/instancelinks');

  it('created from instanceLinks; active while the container runs, inactive when stopped', async () => {
    const target = await running();
    const c = await running({ instanceLinks: { db: target.id, none: null } });
    const l = await linkOf(c.id);
    expect(l.type).toBe('instanceLink');
    expect(l.instanceId).toBe(c.id);
    expect(l.targetInstanceId).toBe(target.id);
    expectSettled(l, 'active');
    expect(sorted(l.actions)).toEqual(['deactivate', 'update']);
    expect(l.links.targetInstance).toBeDefined();
    const nul = await linkOf(c.id, 'none');
    expect(nul.targetInstanceId).toBeNull();
    expect(nul.links.targetInstance).toBeUndefined();
    expect(nul.state).toBe('active');

    // The target sees the link among its targetInstanceLinks.
    const back = await a.get(`/v1/containers/${target.id}/targetinstancelinks`);
    expect(back.body.data.map((x: any) => x.id)).toEqual([l.id]);

    await act(c.id, 'stop');
    expect((await getLink(l.id)).state).toBe('inactive');
    await act(c.id, 'start');
    expect((await getLink(l.id)).state).toBe('active');
  });

  it('a container created stopped has inactive links', async () => {
    const target = await running();
    const c = await stopped({ instanceLinks: { db: target.id } });
    const l = await linkOf(c.id);
    expectSettled(l, 'inactive');
    expect(sorted(l.actions)).toEqual(['activate', 'remove', 'update']);
  });

  it('follows the container through delete, restore, start and purge (cattle test_link_remove_restore)', async () => {
    const target = await running();
    const c = await running({ instanceLinks: { db: target.id } });
    const l = await linkOf(c.id);
    expect(l.state).toBe('active');
    await a.del(`/v1/containers/${c.id}`);
    expect((await get(c.id)).state).toBe('removed');
    expect((await getLink(l.id)).state).toBe('inactive');
    await act(c.id, 'restore');
    expect((await getLink(l.id)).state).toBe('inactive');
    await act(c.id, 'start');
    expect((await getLink(l.id)).state).toBe('active');
    await act(c.id, 'stop', { remove: true });
    expect((await getLink(l.id)).state).toBe('inactive');
    await act(c.id, 'purge');
    expect((await get(c.id)).state).toBe('purged');
    const gone = await getLink(l.id);
    expectSettled(gone, 'removed');
    expect(typeof gone.removedTS).toBe('number');
  });

  it('purging a container whose link is still active deactivates and removes it', async () => {
    const target = await running();
    const c = await stopped({ instanceLinks: { db: target.id } });
    const l = await linkOf(c.id);
    expect((await linkAct(l.id, 'activate')).status).toBe(202);
    expect((await getLink(l.id)).state).toBe('active');
    await act(c.id, 'remove');
    await act(c.id, 'purge');
    expect((await getLink(l.id)).state).toBe('removed');
  });

  it('PUT targetInstanceId on an active link: 200 updating-active → active', async () => {
    const t1 = await running();
    const t2 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    const r = await a.put(`/v1/instancelinks/${l.id}`, { targetInstanceId: t2.id });
    expect(r.status).toBe(200);
    expectTransitioning(r.body, 'updating-active');
    expect(r.body.targetInstanceId).toBe(t2.id);
    const after = await getLink(l.id);
    expectSettled(after, 'active');
    expect(after.targetInstanceId).toBe(t2.id);
  });

  it('PUT targetInstanceId on an inactive link: updating-inactive → inactive; an unchanged value starts nothing', async () => {
    const t1 = await running();
    const t2 = await running();
    const c = await stopped({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    const r = await a.put(`/v1/instancelinks/${l.id}`, { targetInstanceId: t2.id });
    expect(r.status).toBe(200);
    expectTransitioning(r.body, 'updating-inactive');
    expectSettled(await getLink(l.id), 'inactive');
    const same = await a.put(`/v1/instancelinks/${l.id}`, { targetInstanceId: t2.id });
    expect(same.status).toBe(200);
    expectSettled(same.body, 'inactive');
    const named = await a.put(`/v1/instancelinks/${l.id}`, { name: 'n', linkName: 'changed', instanceId: t1.id });
    expect(named.status).toBe(200);
    expectSettled(named.body, 'inactive');
    expect(named.body.name).toBe('n');
    expect(named.body.linkName).toBe('db');
    expect(named.body.instanceId).toBe(c.id);
  });

  it('PUT targetInstanceId to null, and to an unknown instance (422 InvalidReference)', async () => {
    const t1 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    const bad = await a.put(`/v1/instancelinks/${l.id}`, { targetInstanceId: '1i999999' });
    expectError(bad, 422, 'InvalidReference', 'targetInstanceId');
    expect((await getLink(l.id)).targetInstanceId).toBe(t1.id);
    const r = await a.put(`/v1/instancelinks/${l.id}`, { targetInstanceId: null });
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('updating-active');
    const after = await getLink(l.id);
    expectSettled(after, 'active');
    expect(after.targetInstanceId).toBeNull();
    expect(after.links.targetInstance).toBeUndefined();
  });

  it('link actions: deactivate, activate, remove, restore, purge', async () => {
    const t1 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);

    expectError(await linkAct(l.id, 'remove'), 422, 'ActionNotAvailable', 'action');
    expectError(await linkAct(l.id, 'activate'), 422, 'ActionNotAvailable', 'action');

    let r = await linkAct(l.id, 'deactivate');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'deactivating');
    expect(sorted(r.body.actions)).toEqual([]);
    expectSettled(await getLink(l.id), 'inactive');

    r = await linkAct(l.id, 'activate');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'activating');
    expect(sorted(r.body.actions)).toEqual(['deactivate']);
    expectSettled(await getLink(l.id), 'active');

    await linkAct(l.id, 'deactivate');
    r = await linkAct(l.id, 'remove');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'removing');
    let s = await getLink(l.id);
    expectSettled(s, 'removed');
    expect(typeof s.removedTS).toBe('number');
    expect(sorted(s.actions)).toEqual(['purge', 'restore']);

    r = await linkAct(l.id, 'restore');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'restoring');
    s = await getLink(l.id);
    expectSettled(s, 'inactive');
    expect(s.removed).toBeNull();

    await linkAct(l.id, 'remove');
    r = await linkAct(l.id, 'purge');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'purging');
    s = await getLink(l.id);
    expectSettled(s, 'purged');
    expect(sorted(s.actions)).toEqual([]);

    // A removed link is not re-activated by its container starting again.
    await act(c.id, 'restart');
    expect((await getLink(l.id)).state).toBe('purged');
  });

  it('link update action and bogus actions', async () => {
    const t1 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    const r = await linkAct(l.id, 'update');
    expect(r.status).toBe(202);
    expectTransitioning(r.body, 'updating-active');
    expectSettled(await getLink(l.id), 'active');
    expectError(await linkAct(l.id, 'setlabels', { labels: {} }), 422, 'InvalidAction', 'action');
    expectError(await linkAct(l.id, 'start'), 422, 'InvalidAction', 'action');
  });

  it('links cannot be created or deleted directly', async () => {
    const t1 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    expectError(await a.del(`/v1/instancelinks/${l.id}`), 405, 'Method not allowed');
    expectError(await a.post('/v1/instancelinks', { instanceId: c.id, linkName: 'x' }), 405, 'Method not allowed');
  });

  it('restart keeps links active', async () => {
    const t1 = await running();
    const c = await running({ instanceLinks: { db: t1.id } });
    const l = await linkOf(c.id);
    await act(c.id, 'restart');
    expect((await getLink(l.id)).state).toBe('active');
  });
});

describe('transitioning fields', () => {
  it('are "no"/null on settled resources in lists too', async () => {
    const c = await running();
    const list = await a.get('/v1/containers?limit=1000');
    const item = list.body.data.find((x: any) => x.id === c.id);
    expectSettled(item, 'running');
  });

  it('a later action clears nothing it should keep and leaves settled fields "no"', async () => {
    const c = await running();
    for (const action of ['stop', 'start', 'restart', 'migrate', 'update']) {
      const r = await act(c.id, action);
      expect(r.status, action).toBe(202);
      expect(r.body.transitioning).toBe('yes');
      const s = await get(c.id);
      expect(s.transitioning).toBe('no');
      expect(s.transitioningMessage).toBeNull();
    }
  });
});

describe('races', () => {
  it('10 concurrent stops: exactly one 202, the rest 409 or 422, never 500; ends stopped', async () => {
    const c = await running();
    const replies = await Promise.all(Array.from({ length: 10 }, () => act(c.id, 'stop')));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    for (const r of replies) {
      if (r.status === 202) continue;
      expect([409, 422], JSON.stringify(r.body)).toContain(r.status);
      expect(r.body.type).toBe('error');
      expect(r.body.code).toBe(r.status === 409 ? 'Conflict' : 'ActionNotAvailable');
    }
    const after = await get(c.id);
    expectSettled(after, 'stopped');
    expect(after.startCount).toBe(1);
  });

  it('10 concurrent DELETEs of a running container: all 200 (idempotent), one stop, ends removed', async () => {
    const c = await running();
    const replies = await Promise.all(Array.from({ length: 10 }, () => a.del(`/v1/containers/${c.id}`)));
    for (const r of replies) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.id).toBe(c.id);
      expect(['stopping', 'removing', 'removed']).toContain(r.body.state);
    }
    const after = await get(c.id);
    expectSettled(after, 'removed');
    expect(after.startCount).toBe(1);
  });

  it('concurrent DELETEs of a stopped container: all 200, ends removed', async () => {
    const c = await stopped();
    const replies = await Promise.all(Array.from({ length: 8 }, () => a.del(`/v1/containers/${c.id}`)));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expectSettled(await get(c.id), 'removed');
  });

  it('concurrent stops and DELETEs of a running container: never 500, ends removed', async () => {
    const c = await running();
    const replies = await Promise.all([
      ...Array.from({ length: 5 }, () => act(c.id, 'stop')),
      ...Array.from({ length: 5 }, () => a.del(`/v1/containers/${c.id}`)),
    ]);
    for (const r of replies) expect([200, 202, 409, 422], JSON.stringify(r.body)).toContain(r.status);
    // Every DELETE either started the removal or found the container on its way out, or stopped and removed it.
    for (const r of replies.slice(5)) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expectSettled(await get(c.id), 'removed');
  });

  it('concurrent start and stop on a stopped container: start wins or is refused, never 500', async () => {
    const c = await stopped();
    const replies = await Promise.all([
      ...Array.from({ length: 5 }, () => act(c.id, 'start')),
      ...Array.from({ length: 5 }, () => a.del(`/v1/containers/${c.id}`)),
    ]);
    for (const r of replies) expect([200, 202, 409, 422], JSON.stringify(r.body)).toContain(r.status);
    const after = await get(c.id);
    expect(['running', 'removed']).toContain(after.state);
    expect(after.transitioning).toBe('no');
    // At most one start took effect.
    expect(after.startCount).toBeLessThanOrEqual(1);
  });

  it('concurrent PUT name, PUT description, setlabels and stop: no update is lost', async () => {
    const c = await running({ labels: { old: 'x' } });
    const [n, d, l, s] = await Promise.all([
      a.put(`/v1/containers/${c.id}`, { name: 'renamed' }),
      a.put(`/v1/containers/${c.id}`, { description: 'described' }),
      act(c.id, 'setlabels', { labels: { fresh: 'y' } }),
      act(c.id, 'stop'),
    ]);
    expect(n.status).toBe(200);
    expect(d.status).toBe(200);
    expect(l.status).toBe(200);
    expect(s.status).toBe(202);
    const after = await get(c.id);
    expect(after.name).toBe('renamed');
    expect(after.description).toBe('described');
    expect(after.labels).toEqual({ fresh: 'y' });
    expectSettled(after, 'stopped');
  });

  it('10 concurrent writers on one container all succeed and each write is visible', async () => {
    const c = await running();
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0
          ? a.put(`/v1/containers/${c.id}`, { description: `d${i}` })
          : act(c.id, 'setlabels', { labels: { [`k${i}`]: `v${i}` } }),
      ),
    );
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const after = await get(c.id);
    // Every write landed: the final values are those of some successful writer of each field.
    expect(['d0', 'd2', 'd4', 'd6', 'd8']).toContain(after.description);
    const labelSets = replies.filter((_, i) => i % 2 === 1).map((r) => JSON.stringify(r.body.labels));
    expect(labelSets).toContain(JSON.stringify(after.labels));
    expectSettled(after, 'running');
  });

  it('concurrent creates get distinct ids', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => a.post('/v1/containers', { imageUuid: 'sim:par' })));
    for (const r of replies) expect(r.status).toBe(201);
    const ids = new Set(replies.map((r) => r.body.id));
    expect(ids.size).toBe(20);
  });
});
