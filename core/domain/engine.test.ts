/**
 * The process engine against the embedded DynamoDB with a runner that only records work, so each step of a
 * process (begin → complete / fail, chaining, fencing) is observable (spec §3.1, D6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transitioningFields } from '../api/render.js';
import { ApiError, ConflictError } from '../errors.js';
import type { Resource } from '../store/resource.js';
import type { Store } from '../store/store.js';
import { putResource, startTestStore, type TestStore } from '../../test/helpers/store.js';
import { ProcessEngine, type ActionRef, type ProcessRunner } from './engine.js';

class RecordingRunner implements ProcessRunner {
  readonly refs: ActionRef[] = [];
  async run(_engine: ProcessEngine, ref: ActionRef) {
    this.refs.push(ref);
  }
  take(): ActionRef {
    const r = this.refs.shift();
    if (!r) throw new Error('no work queued');
    return r;
  }
}

let t: TestStore;
let store: Store;
let runner: RecordingRunner;
let engine: ProcessEngine;
let clock = 1_700_000_000_000;

beforeAll(async () => {
  t = await startTestStore({ now: () => clock });
  store = t.store;
  runner = new RecordingRunner();
  engine = new ProcessEngine(store, runner, { now: () => clock, removeDelaySeconds: 60, purgedRetentionSeconds: 3600 });
});
afterAll(() => t.close());

async function instance(state: string, fields: Record<string, unknown> = {}): Promise<Resource> {
  return putResource(store, { type: 'container', baseType: 'instance', state, fields: { startCount: 0, ...fields } }, clock);
}

const reload = async (id: string) => (await store.get(id))!;

describe('ProcessEngine', () => {
  it('begin moves to the transitioning state and records the action; complete reaches the done state', async () => {
    const c = await instance('stopped');
    const started = await engine.begin(c, 'start', {}, 'admin');
    expect(started.state).toBe('starting');
    expect(started.action).toMatchObject({ name: 'start', from: 'stopped', caller: 'admin' });
    expect(transitioningFields(started)).toEqual({ transitioning: 'yes', transitioningMessage: 'In Progress', transitioningProgress: null });
    const ref = runner.take();
    expect(ref).toEqual({ id: c.id, actionId: started.action!.id, baseType: 'instance', action: 'start' });
    const done = await engine.complete(ref);
    expect(done?.state).toBe('running');
    expect(done?.action).toBeNull();
    expect(done?.fields.startCount).toBe(1);
    expect(done?.fields.firstRunning).toBe(clock);
  });

  it('a duplicate completion has no second effect', async () => {
    const c = await instance('stopped');
    await engine.begin(c, 'start', {}, 'admin');
    const ref = runner.take();
    await engine.complete(ref);
    expect(await engine.complete(ref)).toBeUndefined();
    const after = await reload(c.id);
    expect(after.fields.startCount).toBe(1);
    expect(after.state).toBe('running');
  });

  it('begin from a state the process does not start from is 409, and writes nothing', async () => {
    const c = await instance('running');
    await expect(engine.begin(c, 'start', {}, 'admin')).rejects.toBeInstanceOf(ConflictError); // the API's 409 Conflict (core/api/errors.ts)
    const after = await reload(c.id);
    expect(after.version).toBe(c.version);
    expect(runner.refs).toHaveLength(0);
  });

  it('an unknown process is 422 InvalidAction', async () => {
    const c = await instance('running');
    const err = await engine.begin(c, 'fly', {}, 'admin').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: 'InvalidAction', fieldName: 'action' });
  });

  it('begin re-checks the stored state, not the caller\'s stale copy', async () => {
    const c = await instance('running');
    await engine.begin(c, 'stop', {}, 'admin');
    // `c` still says running; the stored item is stopping.
    await expect(engine.begin(c, 'stop', {}, 'admin')).rejects.toBeInstanceOf(ConflictError);
    await engine.complete(runner.take());
    expect((await reload(c.id)).state).toBe('stopped');
  });

  it('a later process supersedes the running one; the late completion is ignored', async () => {
    const c = await instance('stopped');
    const starting = await engine.begin(c, 'start', {}, 'admin');
    const startRef = runner.take();
    const stopping = await engine.begin(starting, 'stop', {}, 'admin'); // stop is allowed from starting
    expect(stopping.state).toBe('stopping');
    const stopRef = runner.take();
    expect(await engine.complete(startRef)).toBeUndefined();
    expect((await reload(c.id)).state).toBe('stopping');
    expect((await engine.complete(stopRef))?.state).toBe('stopped');
    expect((await reload(c.id)).fields.startCount).toBe(0);
  });

  it('create chains into start when startOnCreate, from the parent\'s transitioning state', async () => {
    const c = await instance('requested', { startOnCreate: true });
    await engine.begin(c, 'create', {}, 'admin');
    const afterCreate = await engine.complete(runner.take());
    expect(afterCreate?.state).toBe('starting');
    // from the parent's transitioning state (cattle), so a failed start can tell it came from create
    expect(afterCreate?.action).toMatchObject({ name: 'start', from: 'creating' });
    const ref = runner.take();
    expect(ref.actionId).toBe(afterCreate!.action!.id);
    expect((await engine.complete(ref))?.state).toBe('running');

    const off = await instance('requested', { startOnCreate: false });
    await engine.begin(off, 'create', {}, 'admin');
    expect((await engine.complete(runner.take()))?.state).toBe('stopped');
    expect(runner.refs).toHaveLength(0);
  });

  it('stop with remove chains into remove, which sets removed and removeTime', async () => {
    const c = await instance('running');
    await engine.begin(c, 'stop', { remove: true }, 'admin');
    expect((await engine.complete(runner.take()))?.state).toBe('removing');
    const removed = await engine.complete(runner.take());
    expect(removed?.state).toBe('removed');
    expect(removed?.fields.removed).toBe(clock);
    expect(removed?.fields.removeTime).toBe(clock + 60_000);
  });

  it('fail returns to the start state with transitioning "error"; the next process clears it', async () => {
    const c = await instance('stopped');
    await engine.begin(c, 'start', {}, 'admin');
    const failed = await engine.fail(runner.take(), 'Failing [compute.instance.activate]');
    expect(failed?.state).toBe('stopped');
    expect(failed?.action).toBeNull();
    expect(transitioningFields(failed!)).toEqual({
      transitioning: 'error',
      transitioningMessage: 'Failing [compute.instance.activate]',
      transitioningProgress: null,
    });
    const again = await engine.begin(failed!, 'start', {}, 'admin');
    expect(transitioningFields(again).transitioning).toBe('yes');
    expect(transitioningFields(again).transitioningMessage).toBe('In Progress');
    const done = await engine.complete(runner.take());
    expect(transitioningFields(done!)).toEqual({ transitioning: 'no', transitioningMessage: null, transitioningProgress: null });
  });

  it('fail can name the failure state, and a stale fail is ignored', async () => {
    const c = await instance('stopped');
    await engine.begin(c, 'error', {}, 'admin');
    const ref = runner.take();
    expect((await engine.fail(ref, 'boom', 'error'))?.state).toBe('error');
    expect(await engine.fail(ref, 'again')).toBeUndefined();
    expect(await engine.complete(ref)).toBeUndefined();
  });

  it('purge marks the record to expire; reads treat it as gone after that', async () => {
    const c = await instance('removed', { removed: clock, removeTime: clock });
    await engine.begin(c, 'purge', {}, 'admin');
    const purged = await engine.complete(runner.take());
    expect(purged?.state).toBe('purged');
    expect(purged?.expiresAt).toBe(Math.floor(clock / 1000) + 3600);
    expect(await store.get(c.id)).toBeDefined();
    const saved = clock;
    clock += 3601_000;
    try {
      expect(await store.get(c.id)).toBeUndefined();
    } finally {
      clock = saved;
    }
  });
});
