/**
 * @module
 * `/ssh_key_pairs` (`ssh-`): the public keys instances are given (spec W§2.5). A key pair is registered from a
 * public key, or generated, in which case the create answer alone carries the private key: it is never stored.
 */
import type { Resource } from '../store/item.js';
import { randomWakameId } from '../domain/wakame/ids.js';
import { generateKeyPair, InvalidSshPublicKeyError, parsePublicKey } from '../domain/wakame/ssh-keys.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { labelsParam, presentLabels } from './labels.js';
import { instancesUsing, newRecordProject, recordsOf } from './lookup.js';
import { serviceTypeParam, stringParam, stringParams } from './params.js';
import { deleteRecordRoute, recordIdentity, recordReadRoutes, recordTimes, updateRecordRoute } from './record-routes.js';
import { isoTime } from './response.js';

/**
 * A key pair as dcmgr shows it; `privateKey` (only in the answer to the create that generated it) adds `private_key`.
 *
 * @example
 * await presentSshKeyPair(ctx, key) // { id: 'ssh-…', finger_print: '1a:2b:…', public_key: 'ssh-rsa AAAA… ssh-…', ... }
 */
export async function presentSshKeyPair(ctx: DcmgrContext, res: Resource, privateKey?: string): Promise<Record<string, unknown>> {
  const f = res.fields;
  return {
    ...(await recordIdentity(ctx, res)),
    finger_print: f.finger_print,
    public_key: f.public_key,
    description: f.description ?? '',
    display_name: f.display_name ?? '',
    service_type: f.service_type ?? 'std',
    deleted_at: isoTime(f.deleted_at),
    ...recordTimes(res),
    labels: presentLabels(res),
    ...(privateKey === undefined ? {} : { private_key: privateKey }),
  };
}

/** The texts and service type a `POST` or `PUT` sets. */
function keyPairFields(params: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = stringParams(params, ['description', 'display_name']);
  const serviceType = serviceTypeParam(params);
  if (serviceType !== undefined) fields.service_type = serviceType;
  return fields;
}

/** `POST /ssh_key_pairs`: registers `public_key` (400/173 if it is no OpenSSH public key), else generates a pair. */
async function createKeyPair(ctx: DcmgrContext): Promise<unknown> {
  const fields = keyPairFields(ctx.params);
  const labels = labelsParam(ctx.params);
  if (labels !== undefined) fields.labels = labels;
  const publicKey = stringParam(ctx.params, 'public_key')?.trim();
  // The generated key's comment is the pair's id, as dcmgr's `ssh-keygen -C`: the id is drawn first.
  const id = randomWakameId('sshKeyPair');
  let privateKey: string | undefined;
  if (publicKey) {
    try {
      fields.finger_print = parsePublicKey(publicKey).fingerprint;
    } catch (e) {
      if (e instanceof InvalidSshPublicKeyError) throw new DcmgrError('InvalidSshPublicKey', e.message);
      throw e;
    }
    fields.public_key = publicKey;
  } else {
    const generated = await generateKeyPair(id);
    fields.public_key = generated.publicKey;
    fields.finger_print = generated.fingerprint;
    privateKey = generated.privateKey;
  }
  const created = await recordsOf(ctx).create('sshKeyPair', { projectId: newRecordProject(ctx), id, fields });
  return presentSshKeyPair(ctx, created, privateKey);
}

export const SSH_KEY_PAIR_ROUTES: DcmgrRoute[] = [
  ...recordReadRoutes('ssh_key_pairs', 'sshKeyPair', presentSshKeyPair, ['service_type', 'display_name']),
  { method: 'POST', path: 'ssh_key_pairs', handle: createKeyPair },
  // dcmgr answers a key pair update with its id only.
  updateRecordRoute('ssh_key_pairs', 'sshKeyPair', keyPairFields, (_ctx, key) => [key.id]),
  // `force=true` deletes a pair alive instances still use (they keep the key they were given).
  deleteRecordRoute(
    'ssh_key_pairs',
    'sshKeyPair',
    async (ctx, key) => (stringParam(ctx.params, 'force') === 'true' ? [] : instancesUsing(ctx, key)),
    (id, users) => new DcmgrError('ExistsRegisteredInstance', `${id} is used by ${users.join(', ')}; delete with force=true to delete it anyway`),
  ),
];
