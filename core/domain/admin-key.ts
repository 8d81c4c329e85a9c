/**
 * @module
 * The admin key when it is kept outside the table (in AWS the stage's Secrets Manager secret,
 * `core/secrets/admin-secret.ts`): read when a process starts and installed as the stored admin credential, then
 * followed. A process reads it again once its read is older than an age limit, and sooner (at most once per recheck
 * interval) when an authentication fails, as a rotated key's first use does. Whenever the key read differs from the
 * stored one it replaces it, so the old key stops working in every process of the stage at once (they all
 * authenticate against the stored credential).
 */
import type { Store } from '../store/store.js';
import { hashSecret, type AdminKeyRecord } from './credentials.js';

/** The admin's Basic credential. */
export interface AdminKey {
  accessKey: string;
  secretKey: string;
}

/** Reads the admin key where it is kept. */
export type AdminKeySource = () => Promise<AdminKey>;

/**
 * Makes `key` the stage's admin credential unless it already is; true when it replaced another (or none).
 *
 * @example
 * if (await installAdminKey(store, { accessKey: 'admin', secretKey })) auth.invalidate();
 */
export async function installAdminKey(store: Store, key: AdminKey): Promise<boolean> {
  const record: AdminKeyRecord = { accessKey: key.accessKey, secretHash: hashSecret(key.secretKey) };
  const stored = await store.getConfig<AdminKeyRecord>('adminKey');
  if (stored && stored.accessKey === record.accessKey && stored.secretHash === record.secretHash) return false;
  await store.putConfig<AdminKeyRecord>('adminKey', record);
  return true;
}

/**
 * The admin key as its keeper holds it, or an error naming what is wrong (never the value): a JSON object with a
 * non-empty `accessKey` (without `:`, which ends it in a Basic credential) and a non-empty `secretKey`.
 *
 * @example
 * parseAdminKey('{"accessKey":"admin","secretKey":"s3cret"}', 'the secret') // { accessKey: 'admin', secretKey: 's3cret' }
 */
export function parseAdminKey(text: string | undefined, where: string): AdminKey {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    throw new Error(`${where} does not hold JSON: expected {"accessKey": "...", "secretKey": "..."}`);
  }
  const { accessKey, secretKey } = (value ?? {}) as Record<string, unknown>;
  if (typeof accessKey !== 'string' || !accessKey || accessKey.includes(':')) {
    throw new Error(`${where}: "accessKey" must be a non-empty string without ":"`);
  }
  if (typeof secretKey !== 'string' || !secretKey) throw new Error(`${where}: "secretKey" must be a non-empty string`);
  return { accessKey, secretKey };
}

export interface AdminKeyFollowerOptions {
  /** How long a read is trusted before the next request reads the key again. */
  maxAgeMs: number;
  /** How soon after a read a failed authentication may read it again. */
  recheckMs: number;
  now?: () => number;
  logError?: (err: unknown) => void;
}

/**
 * Follows an admin key kept outside the table for one process (see the module comment). Reads never throw after
 * the first: a keeper that cannot be reached leaves the stored key in force, and is tried again after `recheckMs`.
 *
 * @example
 * const follower = new AdminKeyFollower(store, source, { maxAgeMs: 300_000, recheckMs: 10_000 });
 * await bootstrap(store, { admin: await follower.read() });
 * const auth = new Authenticator(store, { adminKey: follower });
 */
export class AdminKeyFollower {
  private readAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<boolean> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly source: AdminKeySource,
    private readonly opts: AdminKeyFollowerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The key as its keeper holds it now (the process's start: what `bootstrap` installs). Throws when unreadable. */
  async read(): Promise<AdminKey> {
    const key = await this.source();
    this.readAt = this.now();
    return key;
  }

  /** Before each authentication: reads the key again if the last read is older than `maxAgeMs`; true when it changed the stored key. */
  follow(): Promise<boolean> {
    return this.readIfOlder(this.opts.maxAgeMs);
  }

  /** After a failed authentication: reads the key again unless it was read within `recheckMs`; true when it changed the stored key. */
  recheck(): Promise<boolean> {
    return this.readIfOlder(this.opts.recheckMs);
  }

  private readIfOlder(ms: number): Promise<boolean> {
    if (this.pending) return this.pending;
    if (this.now() - this.readAt < ms) return Promise.resolve(false);
    // Counted from the attempt, so a keeper that cannot be reached is not asked again on every request.
    this.readAt = this.now();
    this.pending = this.source()
      .then((key) => installAdminKey(this.store, key))
      .catch((e: unknown) => {
        (this.opts.logError ?? console.error)(new Error('reading the admin key failed; the stored one stays in force', { cause: e }));
        return false;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
