/**
 * @module
 * Opens the stage's table: a DynamoDB client for an endpoint (AWS by default) and, on request, the table.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { tableDefinition } from './table.js';

/** The client the store talks through; outside `core/store/` only passed around, never used to send. */
export type StoreClient = DynamoDBClient;

/**
 * A DynamoDB client; with `endpoint` it talks to a DynamoDB-compatible server (the embedded one uses
 * static dummy credentials, since it checks none).
 *
 * @example
 * const client = dynamoClient({ region: 'us-east-1' }); // real DynamoDB, credentials from the environment
 */
export function dynamoClient(opts: { region: string; endpoint?: string; local?: boolean }): DynamoDBClient {
  const config: DynamoDBClientConfig = { region: opts.region, maxAttempts: 5 };
  if (opts.endpoint) config.endpoint = opts.endpoint;
  if (opts.local) config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  return new DynamoDBClient(config);
}

/**
 * Creates the table if it does not exist and waits until it is active.
 *
 * @example
 * await ensureTable(client, 'drover-local');
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (e) {
    if (!(e instanceof ResourceInUseException) && (e as { name?: string }).name !== 'ResourceInUseException') throw e;
  }
  for (let i = 0; i < 600; i++) {
    try {
      const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const ready =
        out.Table?.TableStatus === 'ACTIVE' &&
        (out.Table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE');
      if (ready) return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`table ${tableName} did not become active`);
}
