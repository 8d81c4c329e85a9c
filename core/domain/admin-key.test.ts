/**
 * The admin key kept outside the table, against the embedded DynamoDB with a key source of plain values (the
 * keeper itself, Secrets Manager, is played over HTTP in `functions/admin-secret.test.ts`): what is accepted as a
 * key, and a follower's reads on an injected clock (no waiting).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { startTestStore, type TestStore } from '../../test/helpers/store.js';
import { AdminKeyFollower, installAdminKey, parseAdminKey, type AdminKey } from './admin-key.js';
import { Authenticator, hashSecret } from './credentials.js';

let t: TestStore;
let store: Store;

beforeEach(async () => {
  t = await startTestStore();
  store = t.store;
});
afterEach(() => t.close());

const basic = (k: AdminKey) => `Basic ${Buffer.from(`${k.accessKey}:${k.secretKey}`).toString('base64')}`;

describe('parseAdminKey', () => {
  it('takes {"accessKey", "secretKey"} and names what is wrong otherwise, never the value', () => {
    expect(parseAdminKey('{"accessKey":"admin","secretKey":"s3cret","extra":1}', 'the secret')).toEqual({ accessKey: 'admin', secretKey: 's3cret' });
    for (const bad of [undefined, 'not json s3cret', 'null', '{"secretKey":"s3cret"}', '{"accessKey":"a:b","secretKey":"s3cret"}', '{"accessKey":"admin","secretKey":""}']) {
      expect(() => parseAdminKey(bad, 'the secret'), bad).toThrow(/^the secret/);
      try {
        parseAdminKey(bad, 'the secret');
      } catch (e) {
        expect(String(e)).not.toContain('s3cret');
      }
    }
  });
});

describe('AdminKeyFollower', () => {
  it('installs a changed key only, re-reads when its read is old or after a refusal, and keeps the stored key when the keeper fails', async () => {
    let now = 0;
    let held: AdminKey | Error = { accessKey: 'admin', secretKey: 'one' };
    let reads = 0;
    const errors: unknown[] = [];
    const follower = new AdminKeyFollower(
      store,
      async () => {
        reads++;
        if (held instanceof Error) throw held;
        return held;
      },
      { maxAgeMs: 300_000, recheckMs: 10_000, now: () => now, logError: (e) => errors.push(e) },
    );
    const auth = new Authenticator(store, { adminKey: follower, now: () => now });
    expect(await installAdminKey(store, await follower.read())).toBe(true);
    expect(await installAdminKey(store, { accessKey: 'admin', secretKey: 'one' })).toBe(false);
    expect(await store.getConfig('adminKey')).toEqual({ accessKey: 'admin', secretHash: hashSecret('one') });

    // Rotated: the old key works until a refusal past the recheck interval, or the read's age limit.
    held = { accessKey: 'admin', secretKey: 'two' };
    await expect(auth.authenticate(basic(held))).rejects.toMatchObject({ status: 401 });
    expect(reads).toBe(1);
    now = 10_000;
    expect(await auth.authenticate(basic(held))).toMatchObject({ role: 'admin' });
    expect(reads).toBe(2);
    await expect(auth.authenticate(basic({ accessKey: 'admin', secretKey: 'one' }))).rejects.toMatchObject({ status: 401 });

    held = { accessKey: 'root', secretKey: 'three' };
    now = 10_000 + 300_000;
    // The age limit: read before this request, the old key refused though nobody used the new one.
    await expect(auth.authenticate(basic({ accessKey: 'admin', secretKey: 'two' }))).rejects.toMatchObject({ status: 401 });
    expect(reads).toBe(3);
    expect(await auth.authenticate(basic(held))).toMatchObject({ role: 'admin' });

    // The keeper failing: logged, the stored key stays, and it is not asked again before the recheck interval.
    held = new Error('denied');
    now += 300_000;
    expect(await auth.authenticate(basic({ accessKey: 'root', secretKey: 'three' }))).toMatchObject({ role: 'admin' });
    await expect(auth.authenticate(basic({ accessKey: 'root', secretKey: 'nope' }))).rejects.toMatchObject({ status: 401 });
    expect(reads).toBe(4);
    expect(errors).toHaveLength(1);
  });
});
