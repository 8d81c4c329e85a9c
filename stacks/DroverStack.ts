/**
 * @module
 * The stage's resources: the DynamoDB table (keys and indexes from `core/store/table.ts`) and the HTTP API
 * whose default route is the Hono app in `functions/api.ts`. Wiring only.
 */
import { Api, Table, type StackContext } from 'sst/constructs';
import { INDEXES, TTL_ATTRIBUTE } from '../core/store/table.js';

export function DroverStack({ stack }: StackContext) {
  const keyFields = ['pk', 'sk', ...Object.values(INDEXES).flatMap((i) => [i.pk, i.sk])];
  const table = new Table(stack, 'Main', {
    fields: Object.fromEntries(keyFields.map((f) => [f, 'string' as const])),
    primaryIndex: { partitionKey: 'pk', sortKey: 'sk' },
    globalIndexes: Object.fromEntries(
      Object.entries(INDEXES).map(([name, i]) => [name, { partitionKey: i.pk, sortKey: i.sk }]),
    ),
    timeToLiveAttribute: TTL_ATTRIBUTE,
    // Streams carry committed state changes to automation (events arrive in a later change).
    stream: 'new_and_old_images',
  });

  const api = new Api(stack, 'Api', {
    defaults: {
      function: {
        runtime: 'nodejs22.x',
        timeout: 29,
        memorySize: 1024,
        permissions: [table],
        environment: {
          DROVER_TABLE_NAME: table.tableName,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          // The admin key of the stage, taken from the deploying shell (see README, "Deploying to AWS").
          ...(process.env.DROVER_ADMIN_ACCESS_KEY
            ? {
                DROVER_ADMIN_ACCESS_KEY: process.env.DROVER_ADMIN_ACCESS_KEY,
                DROVER_ADMIN_SECRET_KEY: process.env.DROVER_ADMIN_SECRET_KEY ?? '',
              }
            : {}),
        },
      },
    },
    routes: { $default: 'functions/api.handler' },
  });

  stack.addOutputs({ ApiUrl: api.url, TableName: table.tableName });
  return { table, api };
}
