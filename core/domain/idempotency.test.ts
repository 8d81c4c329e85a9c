/**
 * Idempotency keys over the real store (dynalite through the AWS SDK) with an injected clock, so waiting and
 * lease expiry take no real time: replay, wait then replay, wait then 409, lease takeover, release, expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../errors.js';
import { IdempotencyRecords } from '../store/idempotency.js';
import { startTestStore, type TestStore } from '../../test/helpers/store.js';
import { fingerprint, Idempotency, isValidKey, type IdempotencyOptions, type IdempotentRequest } from './idempotency.js';

let t: TestStore;
let clock = 1_800_000_000_000;
const now = () => clock;
let records: IdempotencyRecords;

beforeAll(async () => {
  t = await startTestStore();
  records = new IdempotencyRecords(t.store, { now });
});
afterAll(() => t.close());

const LEASE_MS = 30_000;
const WAIT_MS = 5_000;

/** One process's view; `sleep` advances the shared clock by the delay and then runs `onSleep`, if any. */
function keysWith(opts: Partial<IdempotencyOptions> & { onSleep?: (n: number) => Promise<void> | void } = {}) {
  const slept: number[] = [];
  const keys = new Idempotency({
    records,
    retentionSeconds: 60,
    leaseMs: LEASE_MS,
    waitMs: WAIT_MS,
    now,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
      await opts.onSleep?.(slept.length);
    },
    logError: (e) => {
      throw e;
    },
    ...opts,
  });
  return { keys, slept };
}

let n = 0;
const request = (body: unknown = { imageUuid: 'sim:web' }): IdempotentRequest => ({
  callerId: 'admin',
  key: `k${++n}`,
  fingerprint: fingerprint({ method: 'POST', path: ['container'], body }),
});
const created = (text: string) => ({ status: 201, headers: { 'content-type': 'application/json' }, body: Buffer.from(text) });

async function claimed(keys: Idempotency, req: IdempotentRequest) {
  const begun = await keys.begin(req);
  if (begun.kind !== 'claimed') throw new Error('expected a claim');
  return begun.claim;
}

describe('Idempotency', () => {
  it('runs the first request and replays its stored 2xx response to the next', async () => {
    const { keys } = keysWith();
    const req = request();
    let runs = 0;
    const first = await keys.run(req, async () => (runs++, created('one')));
    const again = await keys.run(req, async () => (runs++, created('two')));
    expect(runs).toBe(1);
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(Buffer.from(again.response.body).toString()).toBe('one');
    expect([again.response.status, again.response.headers]).toEqual([201, { 'content-type': 'application/json' }]);
  });

  it('refuses the same key with another request with 422 IdempotencyKeyReused, even while the first runs', async () => {
    const { keys, slept } = keysWith();
    const req = request({ imageUuid: 'sim:web' });
    await claimed(keys, req);
    const other = { ...req, fingerprint: fingerprint({ method: 'POST', path: ['container'], body: { imageUuid: 'sim:db' } }) };
    const err = await keys.begin(other).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code]).toEqual([422, 'IdempotencyKeyReused']);
    expect(slept).toEqual([]);
  });

  it('a concurrent duplicate waits for the first and replays its response', async () => {
    const first = keysWith().keys;
    const req = request();
    const claim = await claimed(first, req);
    const { keys: second, slept } = keysWith({ onSleep: (i) => (i === 3 ? first.complete(claim, created('first')).then(() => undefined) : undefined) });
    const begun = await second.begin(req);
    expect(begun.kind).toBe('replay');
    expect(begun.kind === 'replay' && Buffer.from(begun.response.body).toString()).toBe('first');
    expect(slept).toHaveLength(3);
    // Polls back off: each delay is at least half the nominal 10 ms × 1.5^n.
    slept.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(5 * 1.5 ** i));
  });

  it('a concurrent duplicate answers 409 when the first is still running after the wait bound', async () => {
    const first = keysWith().keys;
    const req = request();
    await claimed(first, req);
    const start = clock;
    const { keys: second } = keysWith();
    const err = await second.begin(req).catch((e) => e);
    expect([err.status, err.code]).toEqual([409, 'Conflict']);
    expect(err.message).toContain('still in progress');
    expect(clock - start).toBeGreaterThanOrEqual(WAIT_MS);
    expect(clock - start).toBeLessThan(LEASE_MS);
  });

  it('takes over a claim whose lease ran out (its holder crashed); the old holder can no longer finish it', async () => {
    const crashed = keysWith().keys;
    const req = request();
    const old = await claimed(crashed, req);
    clock += LEASE_MS + 1;
    const { keys: next } = keysWith();
    const taken = await claimed(next, req);
    expect(taken.lease).not.toBe(old.lease);
    expect(await crashed.complete(old, created('late'))).toBe(false);
    expect(await crashed.release(old)).toBe(false);
    expect(await next.complete(taken, created('taken'))).toBe(true);
    const replay = await keysWith().keys.begin(req);
    expect(replay.kind === 'replay' && Buffer.from(replay.response.body).toString()).toBe('taken');
  });

  it('does not take over a claim whose lease was renewed', async () => {
    const first = keysWith().keys;
    const req = request();
    const claim = await claimed(first, req);
    clock += LEASE_MS - 1;
    expect(await records.renew(claim, clock + LEASE_MS)).toBe(true);
    clock += 2;
    const err = await keysWith().keys.begin(req).catch((e) => e);
    expect(err.status).toBe(409);
  });

  it('a waiter claims the key when the first request fails and releases it', async () => {
    const first = keysWith().keys;
    const req = request();
    const claim = await claimed(first, req);
    const { keys: second } = keysWith({ onSleep: () => first.release(claim).then(() => undefined) });
    const begun = await second.begin(req);
    expect(begun.kind).toBe('claimed');
  });

  it('run releases the key on an error response or a throw, so the next request with it runs', async () => {
    const { keys } = keysWith();
    const req = request();
    const refused = await keys.run(req, async () => ({ status: 422, headers: {}, body: Buffer.from('no') }));
    expect(refused.response.status).toBe(422);
    await expect(keys.run(req, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const ok = await keys.run(req, async () => created('ok'));
    expect([ok.replayed, ok.response.status]).toEqual([false, 201]);
  });

  it('forgets a response after the retention window', async () => {
    const { keys } = keysWith();
    const req = request();
    await keys.run(req, async () => created('old'));
    clock += 59_000;
    expect((await keys.run(req, async () => created('new'))).replayed).toBe(true);
    clock += 2_000;
    const fresh = await keys.run(req, async () => created('new'));
    expect([fresh.replayed, Buffer.from(fresh.response.body).toString()]).toEqual([false, 'new']);
  });

  it('fingerprints ignore key order; keys are 1 to 255 printable ASCII characters', () => {
    expect(fingerprint({ a: 1, b: [{ x: 1, y: 2 }] })).toBe(fingerprint({ b: [{ y: 2, x: 1 }], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: '1' }));
    expect([isValidKey('a'), isValidKey('~ !'), isValidKey('k'.repeat(255))]).toEqual([true, true, true]);
    expect([isValidKey(''), isValidKey('k'.repeat(256)), isValidKey('caf\u00e9'), isValidKey('a\tb')]).toEqual([false, false, false, false]);
  });
});
