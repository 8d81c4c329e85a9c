/**
 * @module
 * What every Lambda entry point of a stage shares: the configuration from the environment the stack sets, and
 * one Drover wired over the stage's table, built on the first invocation and reused by the container. The admin key
 * comes from the stage's secret (read at the container's start, then followed: `core/domain/admin-key.ts`) in the
 * entry points that authenticate; the others keep the stored one.
 */
import { loadConfig, type DroverConfig } from '../core/config.js';
import type { AdminKeySource } from '../core/domain/admin-key.js';
import type { DeliveryQueue } from '../core/domain/webhooks.js';
import { createDrover, type Drover, type DroverOptions } from '../core/runtime.js';
import { dynamoClient } from '../core/store/connect.js';

/**
 * What an entry point adds to the stage's wiring: the AWS clients only it uses, so only its bundle carries them (a
 * Lambda runs one entry point: its first call's wiring holds).
 */
export interface StageWiring extends Pick<DroverOptions, 'eventBus' | 'connectionPoster' | 'doorbellPoster'> {
  /** The webhook delivery queue, for the entry points that use it. */
  webhookQueue?: (config: DroverConfig) => DeliveryQueue | undefined;
  /** Where the admin key is kept, for the entry points that authenticate (AWS: the stage's secret). */
  adminKey?: (config: DroverConfig) => AdminKeySource | undefined;
}

let ready: Promise<Drover> | undefined;

/**
 * The stage's Drover (built once per Lambda container; a start that failed is tried again by the next call).
 *
 * @example
 * export const handler = async (event) => (await stageDrover()).runTask(event);
 */
export function stageDrover(wiring: StageWiring = {}): Promise<Drover> {
  if (!ready) {
    const config = loadConfig();
    if (!config.tableName) throw new Error('DROVER_TABLE_NAME is not set');
    ready = createDrover({
      config,
      client: dynamoClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
      tableName: config.tableName,
      admin: config.adminAccessKey ? { accessKey: config.adminAccessKey, secretKey: config.adminSecretKey! } : undefined,
      adminKeySource: wiring.adminKey?.(config),
      webhookQueue: wiring.webhookQueue?.(config),
      eventBus: wiring.eventBus,
      connectionPoster: wiring.connectionPoster,
      doorbellPoster: wiring.doorbellPoster,
    });
    // A failed start (the table or the admin key's secret out of reach) is tried again by the next invocation.
    ready.catch(() => (ready = undefined));
  }
  return ready;
}
