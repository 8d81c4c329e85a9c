/**
 * @module
 * First-start setup of a stage, safe to run on every start: the default project, the admin key and the
 * marker-signing secret. Concurrent starts (several Lambdas) converge on one value of each.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { formatId } from '../ids.js';
import type { Store } from '../store/store.js';
import { hashSecret, type AdminKeyRecord } from './credentials.js';

export interface BootstrapOptions {
  /** Admin key to install; when absent the stored one is kept. */
  admin?: { accessKey: string; secretKey: string };
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
  if (opts.admin) {
    await store.putConfig<AdminKeyRecord>('adminKey', {
      accessKey: opts.admin.accessKey,
      secretHash: hashSecret(opts.admin.secretKey),
    });
  }
  const cursorSecret =
    opts.cursorSecret ?? (await store.putConfig('cursorSecret', randomBytes(32).toString('hex'), { onlyIfAbsent: true }));
  let defaultProjectId = await store.getConfig<string>('defaultProject');
  if (!defaultProjectId) {
    const num = await store.nextId('account');
    const id = formatId('account', num);
    const now = Date.now();
    await store.create({
      id,
      num,
      type: 'project',
      baseType: 'account',
      projectId: id,
      state: 'active',
      version: 0,
      created: now,
      updated: now,
      fields: { name: 'Default', description: 'Created on first start', uuid: randomUUID() },
    });
    defaultProjectId = await store.putConfig('defaultProject', id, { onlyIfAbsent: true });
  }
  return { defaultProjectId, cursorSecret };
}
