/**
 * @module
 * `/volumes` (`vol-`): each instance's boot volume, derived from the instance (spec W§2.6): Drover stores no
 * volumes, so the id comes from the instance's number and the state from the instance's. They are read-only.
 */
import type { Resource } from '../store/item.js';
import { wakameIdOf } from '../domain/wakame/ids.js';
import { wakameStateOf, type WakameState } from '../domain/wakame/instances.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { accountIdOf, checkIdSyntax, oncePerRequest, resourceOfDerivedId, resourcesIn } from './lookup.js';
import { listPage, notSupported, recordTimes, stateFilter } from './record-routes.js';
import { CREATION_ORDER, isoTime } from './response.js';

/** Why volumes are not written through `/api`. */
const BOOT_VOLUMES_ONLY = 'Drover has only the boot volume of each instance, made and deleted with the instance';

/**
 * The volume state a boot volume shows for its instance's Wakame state: being placed while the instance is,
 * `available` while a stopped instance has given its host back, `deleted` with the instance, else attached.
 */
const VOLUME_STATE: Partial<Record<WakameState, string>> = {
  scheduling: 'scheduling',
  stopped: 'available',
  terminated: 'deleted',
};

/**
 * The state of an instance's boot volume, from the instance's Wakame state.
 *
 * @example
 * bootVolumeState(runningVm) // 'attached'
 */
export function bootVolumeState(instance: Resource): string {
  return VOLUME_STATE[wakameStateOf(instance)] ?? 'attached';
}

/** The volume states a list filters on (dcmgr `VOLUME_STATE`). */
const VOLUME_STATES = ['available', 'attached', 'deleted'];

/** The image an instance was made from (`wakameImageId`, a `wmi-` id), read once per request; `undefined` if none. */
async function imageOf(ctx: DcmgrContext, instance: Resource): Promise<Resource | undefined> {
  const imageId = instance.fields.wakameImageId;
  if (typeof imageId !== 'string') return undefined;
  return oncePerRequest(ctx, `image:${imageId}`, () => ctx.service.store.get(imageId));
}

/**
 * An instance's boot volume as dcmgr shows a volume: its size from the image (MB; 0 when the image says none),
 * a local store, the instance's account and times.
 *
 * @example
 * await presentVolume(ctx, vm) // { id: 'vol-…', instance_id: 'i-…', state: 'attached', store_type: 'local', ... }
 */
export async function presentVolume(ctx: DcmgrContext, instance: Resource): Promise<Record<string, unknown>> {
  const id = wakameIdOf('volume', instance.num);
  const state = bootVolumeState(instance);
  const image = await imageOf(ctx, instance);
  const size = image?.fields.size;
  return {
    [CREATION_ORDER]: instance.num,
    id,
    uuid: id,
    account_id: await accountIdOf(ctx, instance.projectId),
    state,
    size: typeof size === 'number' ? size : 0,
    instance_id: wakameIdOf('instance', instance.num),
    boot_dev: 1,
    guest_device_name: null,
    service_type: 'std',
    display_name: '',
    backup_object_id: image?.fields.backup_object_id ?? null,
    volume_type: 'Dcmgr::Models::LocalVolume',
    deleted_at: state === 'deleted' ? isoTime(instance.fields.removed ?? instance.updated) : null,
    attached_at: isoTime(instance.fields.firstRunning),
    detached_at: null,
    ...recordTimes(instance),
    store_type: 'local',
    volume_device: { mount_label: 'root', path: id },
    labels: [],
  };
}

/**
 * The volumes of an instance, as `GET /instances/:id/volumes` lists them: its boot volume.
 *
 * @example
 * await volumesOf(ctx, vm) // [{ id: 'vol-…', instance_id: 'i-…', ... }]
 */
export async function volumesOf(ctx: DcmgrContext, instance: Resource): Promise<Record<string, unknown>[]> {
  return [await presentVolume(ctx, instance)];
}

/** `GET /volumes`: the boot volumes of the instances the caller sees. */
async function listVolumes(ctx: DcmgrContext): Promise<unknown> {
  const inState = stateFilter(ctx.params, VOLUME_STATES, 'alive_with_deleted');
  return listPage(ctx, [], async () => {
    const volumes = await Promise.all((await resourcesIn(ctx, 'instance', ctx.scope.projectId)).map((i) => presentVolume(ctx, i)));
    return volumes.filter((v) => inState(v.state as string));
  });
}

/** `GET /volumes/:id`: the boot volume of the instance with the same number, if the caller sees that instance. */
async function showVolume(ctx: DcmgrContext): Promise<unknown> {
  checkIdSyntax('volume', ctx.path.id);
  const instance = await resourceOfDerivedId(ctx, 'volume', 'instance', ctx.path.id);
  if (!instance) throw new DcmgrError('UnknownUUIDResource', ctx.path.id);
  return presentVolume(ctx, instance);
}

export const VOLUME_ROUTES: DcmgrRoute[] = [
  { method: 'GET', path: 'volumes', handle: listVolumes },
  { method: 'GET', path: 'volumes/:id', handle: showVolume },
  notSupported('POST', 'volumes', `${BOOT_VOLUMES_ONLY}: there are no other volumes to create`),
  notSupported('PUT', 'volumes/:id/attach', `${BOOT_VOLUMES_ONLY}: it cannot be attached elsewhere`),
  notSupported('PUT', 'volumes/:id/detach', `${BOOT_VOLUMES_ONLY}: it cannot be detached`),
  notSupported('PUT', 'volumes/:id/backup', `${BOOT_VOLUMES_ONLY}, and no backup storage to back it up to`),
  notSupported('DELETE', 'volumes/:id', `${BOOT_VOLUMES_ONLY}: delete the instance instead`),
];
