/**
 * @module
 * First-start setup of a stage, safe to run on every start: the default project, the admin key and the
 * marker-signing secret, then the Wakame seed records. Concurrent starts (several Lambdas) converge on one value of
 * each; once done, a marker item lets a start skip it all with one read (`bootstrapStage`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { WriteConflictError } from '../errors.js';
import { formatId, parseId } from '../ids.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { hashSecret, type AdminKeyRecord } from './credentials.js';
import { seedWakame } from './wakame/seed.js';
import { installAdminKey, type AdminKey } from './admin-key.js';

export interface BootstrapOptions {
  /** Admin key to install (replacing another stored one); when absent the stored one is kept. */
  admin?: AdminKey;
  cursorSecret?: string;
}

export interface BootstrapResult {
  defaultProjectId: string;
  cursorSecret: string;
}

/**
 * Ensures the stage's singletons exist and returns them.
 *
 * @example
 * const { defaultProjectId } = await bootstrap(store, { admin: { accessKey, secretKey } });
 */
export async function bootstrap(store: Store, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  // Independent of the rest, so it costs a start no extra round trip.
  const accessKeys = indexAccessKeys(store);
  accessKeys.catch(() => undefined); // awaited (and its error thrown) below; this only marks it handled meanwhile
  // A key given unlike the stored one (a rotated key) replaces it.
  if (opts.admin) await installAdminKey(store, opts.admin);
  const cursorSecret =
    opts.cursorSecret ?? (await store.putConfig('cursorSecret', randomBytes(32).toString('hex'), { onlyIfAbsent: true }));
  // Concurrent first starts agree on one id through the conditional config write, then both make sure that
  // project exists (the create is conditional too), so no orphan "Default" project appears and a start that
  // died between the two writes is healed by the next one.
  let defaultProjectId = await store.getConfig<string>('defaultProject');
  if (!defaultProjectId) {
    const proposed = formatId('account', await store.nextId('account'));
    defaultProjectId = await store.putConfig('defaultProject', proposed, { onlyIfAbsent: true });
  }
  if (!(await store.get(defaultProjectId))) {
    const num = parseId('account', defaultProjectId);
    if (num === null) throw new Error(`stored default project id ${defaultProjectId} is not a project id`);
    const now = Date.now();
    try {
      await store.create({
        id: defaultProjectId,
        num,
        type: 'project',
        baseType: 'account',
        projectId: defaultProjectId,
        state: 'active',
        version: 0,
        created: now,
        updated: now,
        fields: { name: 'Default', description: 'Created on first start', uuid: randomUUID() },
      });
    } catch (e) {
      if (!(e instanceof WriteConflictError)) throw e;
    }
  }
  await accessKeys;
  return { defaultProjectId, cursorSecret };
}

/**
 * Credentials stored before access-key items existed get theirs, once per stage (a config flag records it), so
 * their keys keep working: authentication reads only access-key items.
 */
async function indexAccessKeys(store: Store): Promise<void> {
  if (await store.getConfig<number>('accessKeyItems')) return;
  for await (const page of store.queryIndex({ index: 'byKind', partition: partitions.byKind('credential') })) {
    for (const res of page) await store.ensureAccessKeyItem(res);
  }
  await store.putConfig('accessKeyItems', 1);
}

/**
 * What the stage bootstrap does, numbered: raise it when `bootstrapStage` must run again on stages that have the
 * marker (a new singleton, a new seed record), and every start after the deploy runs it once more.
 */
export const BOOTSTRAP_VERSION = 1;

/** The marker `bootstrapStage` writes last (config item `config#bootstrap`): what a start needs, in one read. */
export interface BootstrapMarker extends BootstrapResult {
  version: number;
  /** The admin key installed then (its access key and secret hash), so a changed one is installed again. */
  admin?: AdminKeyRecord;
}

/**
 * The stage's setup once per stage rather than per start: one read of the marker, and only when it is missing, older
 * than `BOOTSTRAP_VERSION` or records another admin key, the full `bootstrap` and the Wakame seeding, then the marker.
 * Both are idempotent and the marker is written last, so a start that dies midway leaves the work to the next one.
 *
 * @example
 * const { defaultProjectId, cursorSecret } = await bootstrapStage(store, { admin: { accessKey, secretKey } });
 */
export async function bootstrapStage(store: Store, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  const admin = opts.admin && { accessKey: opts.admin.accessKey, secretHash: hashSecret(opts.admin.secretKey) };
  const marker = await store.getConfig<BootstrapMarker>('bootstrap');
  const current =
    marker &&
    marker.version >= BOOTSTRAP_VERSION &&
    (!admin || (marker.admin?.accessKey === admin.accessKey && marker.admin.secretHash === admin.secretHash));
  if (current) return { defaultProjectId: marker.defaultProjectId, cursorSecret: opts.cursorSecret ?? marker.cursorSecret };
  // The marker holds the stored secret, never a configured override (it would pin one start's setting).
  const stored = await bootstrap(store, { admin: opts.admin });
  // The Wakame demo records mussel's scripts name (wmi-centos1d64, nw-demo1).
  await seedWakame(store, stored.defaultProjectId);
  await store.putConfig<BootstrapMarker>('bootstrap', { version: BOOTSTRAP_VERSION, ...stored, admin: admin ?? marker?.admin });
  return { defaultProjectId: stored.defaultProjectId, cursorSecret: opts.cursorSecret ?? stored.cursorSecret };
}
