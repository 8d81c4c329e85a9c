/**
 * @module
 * What every Lambda entry point of a stage shares: the configuration from the environment the stack sets, and
 * one Drover wired over the stage's table, built on the first invocation and reused by the container.
 */
import { loadConfig } from '../core/config.js';
import { createDrover, type Drover } from '../core/runtime.js';
import { dynamoClient } from '../core/store/connect.js';

let ready: Promise<Drover> | undefined;

/**
 * The stage's Drover (built once per Lambda container).
 *
 * @example
 * export const handler = async (event) => (await stageDrover()).runTask(event);
 */
export function stageDrover(): Promise<Drover> {
  if (!ready) {
    const config = loadConfig();
    if (!config.tableName) throw new Error('DROVER_TABLE_NAME is not set');
    ready = createDrover({
      config,
      client: dynamoClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
      tableName: config.tableName,
      admin: config.adminAccessKey ? { accessKey: config.adminAccessKey, secretKey: config.adminSecretKey! } : undefined,
    });
  }
  return ready;
}
