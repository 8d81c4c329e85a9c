/**
 * @module
 * Lambda entry point of the workflow tasks: every Task state of every state machine invokes this function
 * with a `TaskPayload` (`core/workflows/types.ts`). The embedded stack runs the same `runTask`.
 */
import { loadConfig } from '../core/config.js';
import { createDrover } from '../core/runtime.js';
import { dynamoClient } from '../core/store/connect.js';
import type { TaskPayload } from '../core/workflows/types.js';

const config = loadConfig();
if (!config.tableName) throw new Error('DROVER_TABLE_NAME is not set');

const ready = createDrover({
  config,
  client: dynamoClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  tableName: config.tableName,
});

/** Step Functions `lambda:invoke` handler; a thrown error becomes the state's error (Error = its name). */
export const handler = async (event: TaskPayload) => (await ready).runTask(event);
