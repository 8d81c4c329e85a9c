/**
 * Idempotency records on the embedded DynamoDB (dynalite) through the real AWS SDK: conditional claims,
 * takeover of exactly the claim read, lease-fenced completion, and bodies beyond the 400 KB item limit.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStore, type TestStore } from '../../test/helpers/store.js';
import { IdempotencyRecords, type IdempotencyRecord } from './idempotency.js';

let t: TestStore;
let clock = 1_800_000_000_000;
const now = () => clock;
let records: IdempotencyRecords;

beforeAll(async () => {
  t = await startTestStore();
  records = new IdempotencyRecords(t.store, { now });
});
afterAll(() => t.close());

let n = 0;
function newClaim(lease = `lease-${++n}`, key = `key-${n}`): Omit<IdempotencyRecord, 'response'> {
  return { callerId: 'admin', key, fingerprint: 'fp', lease, leaseUntil: clock + 30_000, expiresAt: Math.ceil(clock / 1000) + 60 };
}
const response = (body: Uint8Array) => ({ status: 201, headers: { 'content-type': 'application/json' }, body });

describe('IdempotencyRecords', () => {
  it('claims a free key once; a second claim fails until the first is released', async () => {
    const a = newClaim();
    expect(await records.claim(a)).toBe(true);
    const b = { ...a, lease: 'other' };
    expect(await records.claim(b)).toBe(false);
    expect(await records.release(b)).toBe(false);
    expect(await records.release(a)).toBe(true);
    expect(await records.get('admin', a.key)).toBeUndefined();
    expect(await records.claim(b)).toBe(true);
  });

  it('takes over only the exact claim it read (same lease and lease end, not finished)', async () => {
    const a = newClaim();
    await records.claim(a);
    const seen = (await records.get('admin', a.key))!;
    expect(await records.renew(a, seen.leaseUntil + 1)).toBe(true);
    expect(await records.claim({ ...a, lease: 'taker' }, seen)).toBe(false);
    const renewed = (await records.get('admin', a.key))!;
    expect(await records.claim({ ...a, lease: 'taker' }, renewed)).toBe(true);
    expect(await records.complete(a, response(Buffer.from('late')), a.expiresAt)).toBe(false);
    expect(await records.complete({ ...a, lease: 'taker' }, response(Buffer.from('won')), a.expiresAt)).toBe(true);
    expect(await records.claim({ ...a, lease: 'third' }, (await records.get('admin', a.key))!)).toBe(false);
  });

  it('an expired record reads as absent and may be claimed again', async () => {
    const a = newClaim();
    await records.claim(a);
    await records.complete(a, response(Buffer.from('x')), a.expiresAt);
    clock = a.expiresAt * 1000;
    expect(await records.get('admin', a.key)).toBeUndefined();
    expect(await records.claim(newClaim('again', a.key))).toBe(true);
  });

  it('keeps an incompressible body larger than a DynamoDB item in parts and returns it whole', async () => {
    const body = randomBytes(1_200_000);
    // One item cannot hold it: the same write without parts is refused by the item size limit.
    const unsplit = new IdempotencyRecords(t.store, { now, partBytes: 10_000_000 });
    const big = newClaim();
    await unsplit.claim(big);
    await expect(unsplit.complete(big, response(body), big.expiresAt)).rejects.toThrow(/size/i);

    const a = newClaim();
    await records.claim(a);
    expect(await records.complete(a, response(body), a.expiresAt)).toBe(true);
    const got = (await records.get('admin', a.key))!;
    expect(got.response!.status).toBe(201);
    expect(Buffer.compare(Buffer.from(got.response!.body), body)).toBe(0);
  });

  it('parts of a claim that lost its lease never mix with the winner’s', async () => {
    const small = new IdempotencyRecords(t.store, { now, partBytes: 1_000 });
    const loser = newClaim();
    await small.claim(loser);
    const winner = { ...loser, lease: 'winner' };
    expect(await small.claim(winner, (await small.get('admin', loser.key))!)).toBe(true);
    const mine = randomBytes(20_000);
    const theirs = randomBytes(30_000);
    expect(await small.complete(winner, response(mine), loser.expiresAt)).toBe(true);
    expect(await small.complete(loser, response(theirs), loser.expiresAt)).toBe(false);
    const got = (await small.get('admin', loser.key))!;
    expect(Buffer.compare(Buffer.from(got.response!.body), mine)).toBe(0);
  });
});
