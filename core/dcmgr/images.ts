/**
 * @module
 * `/images` (`wmi-`): machine images as dcmgr shows them (spec W§2.1). They are registered by the operator (the
 * seeded `wmi-centos1d64`), never posted; each keeps the Rancher `imageUuid` an instance made from it runs.
 */
import type { Resource } from '../store/item.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { presentLabels } from './labels.js';
import { findRecord, recordsOf } from './lookup.js';
import { boolParam, stringParams } from './params.js';
import { deleteRecordRoute, listPage, notSupported, recordIdentity, recordTimes, stateFilter, updateRecordRoute } from './record-routes.js';
import { isoTime } from './response.js';

/** The image states a list filters on (dcmgr `IMAGE_STATE`). */
const IMAGE_STATES = ['available', 'deleted'];

/**
 * An image as dcmgr shows it: every column, its canonical id and its labels. Drover's own `imageUuid` stays
 * inside.
 *
 * @example
 * await presentImage(ctx, image) // { id: 'wmi-centos1d64', uuid: 'wmi-centos1d64', account_id: 'a-shpoolxx', boot_dev_type: 2, ... }
 */
export async function presentImage(ctx: DcmgrContext, res: Resource): Promise<Record<string, unknown>> {
  const f = res.fields;
  return {
    ...(await recordIdentity(ctx, res)),
    boot_dev_type: f.boot_dev_type ?? 2,
    arch: f.arch ?? 'x86_64',
    description: f.description ?? '',
    is_public: f.is_public === true,
    state: res.state,
    features: f.features ?? {},
    file_format: f.file_format ?? 'raw',
    root_device: f.root_device ?? null,
    is_cacheable: f.is_cacheable === true,
    instance_model_name: f.instance_model_name ?? '',
    parent_image_id: f.parent_image_id ?? null,
    service_type: f.service_type ?? 'std',
    display_name: f.display_name ?? '',
    backup_object_id: f.backup_object_id ?? null,
    deleted_at: isoTime(f.deleted_at),
    volumes: f.volumes ?? [],
    vifs: f.vifs ?? [],
    os_type: f.os_type ?? 'linux',
    ...recordTimes(res),
    labels: presentLabels(res),
  };
}

/**
 * `GET /images`. Unlike dcmgr, which without `is_public` listed only the caller's own images, the caller sees
 * what it may show: its own and every public one; `is_public` then keeps the public or the private ones. Without
 * `state`, deleted images are left out.
 */
async function listImages(ctx: DcmgrContext): Promise<unknown> {
  const isPublic = boolParam(ctx.params, 'is_public');
  const inState = stateFilter(ctx.params, IMAGE_STATES, 'alive');
  return listPage(ctx, ['service_type'], async () => {
    const images = await recordsOf(ctx).list('image', ctx.scope.projectId, { withDeleted: inState('deleted') });
    const kept = images.filter((i) => inState(i.state) && (isPublic === undefined || (i.fields.is_public === true) === isPublic));
    return Promise.all(kept.map((i) => presentImage(ctx, i)));
  });
}

export const IMAGE_ROUTES: DcmgrRoute[] = [
  { method: 'GET', path: 'images', handle: listImages },
  {
    method: 'GET',
    path: 'images/:id',
    handle: async (ctx) => presentImage(ctx, await findRecord(ctx, 'image', ctx.path.id)),
  },
  updateRecordRoute('images', 'image', (params) => stringParams(params, ['display_name', 'description']), presentImage),
  // dcmgr deleted an image whatever used it: instances keep running what they were made from.
  deleteRecordRoute('images', 'image', async () => []),
  notSupported('POST', 'images', 'Images are not registered through the API: the operator seeds them, as dcmgr had vdc-manage do'),
  notSupported('PUT', 'images/:id/copy_to', 'Drover has no backup storages to copy an image to'),
];
