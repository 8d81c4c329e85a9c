/**
 * @module
 * Lambda entry point of the API: the same Hono app as the local stack, behind API Gateway (HTTP API).
 * Configuration comes from the environment the stack sets (`DROVER_TABLE_NAME`, admin key, ...).
 */
import { handle } from 'hono/aws-lambda';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { loadConfig } from '../core/config.js';
import { createDrover } from '../core/runtime.js';
import { dynamoClient } from '../core/store/connect.js';

const config = loadConfig();
if (!config.tableName) throw new Error('DROVER_TABLE_NAME is not set');

// Built once per Lambda container, on the first request (bootstrap reads and writes the table).
const ready = createDrover({
  config,
  client: dynamoClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  tableName: config.tableName,
  admin: config.adminAccessKey ? { accessKey: config.adminAccessKey, secretKey: config.adminSecretKey! } : undefined,
}).then((d) => handle(d.app));

/** API Gateway v2 / function URL handler. */
export const handler = async (event: LambdaEvent, context: LambdaContext) => (await ready)(event, context);
