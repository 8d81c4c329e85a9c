/**
 * @module
 * Lambda entry point of the sweeper, run on a schedule (EventBridge): resolves transitions past their deadline.
 */
import { loadConfig } from '../core/config.js';
import { createDrover } from '../core/runtime.js';
import { dynamoClient } from '../core/store/connect.js';

const config = loadConfig();
if (!config.tableName) throw new Error('DROVER_TABLE_NAME is not set');

const ready = createDrover({
  config,
  client: dynamoClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  tableName: config.tableName,
});

/** Scheduled handler; returns what it did, which shows in the Lambda's logs. */
export const handler = async () => {
  const report = await (await ready).sweeper.sweep();
  console.log(JSON.stringify({ message: 'sweep', ...report }));
  return report;
};
