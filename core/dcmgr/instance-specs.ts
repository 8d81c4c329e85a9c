/**
 * @module
 * `/instance_specs` (`is-`, 11.12 only): the presets of hypervisor, arch, cores and memory an 11.12 instance
 * create names (spec W§2.7). The caller sees its account's and the shared pool's; they are read-only.
 */
import type { Resource } from '../store/item.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { recordIdentity, recordReadRoutes, recordTimes } from './record-routes.js';

/**
 * An instance spec as 11.12's `to_api_document` showed it: its columns without `config`, which dcmgr kept to
 * itself.
 *
 * @example
 * await presentInstanceSpec(ctx, spec) // { id: 'is-small', uuid: 'is-small', account_id: 'a-shpoolxx', cpu_cores: 1, memory_size: 256, ... }
 */
export async function presentInstanceSpec(ctx: DcmgrContext, res: Resource): Promise<Record<string, unknown>> {
  const f = res.fields;
  return {
    ...(await recordIdentity(ctx, res)),
    hypervisor: f.hypervisor,
    arch: f.arch,
    cpu_cores: f.cpu_cores,
    memory_size: f.memory_size,
    quota_weight: f.quota_weight ?? 1.0,
    vifs: f.vifs ?? {},
    drives: f.drives ?? {},
    ...recordTimes(res),
  };
}

/** Read-only, and 11.12 only: 12.03 dropped instance specs for explicit cores and memory. */
export const INSTANCE_SPEC_ROUTES: DcmgrRoute[] = recordReadRoutes('instance_specs', 'instanceSpec', presentInstanceSpec, [], ['11.12']);
