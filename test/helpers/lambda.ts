/**
 * @module
 * Calling the API's Lambda entry point (`functions/api.ts`) in a test the way API Gateway v2 does, for the tests of
 * the other entry points that set up through the API.
 */

import { startDynalite, type EmbeddedDynamo } from '../../core/embedded/dynalite.js';
import { dynamoClient, ensureTable } from '../../core/store/connect.js';

/**
 * A DynamoDB-compatible server with the stage's table made, as a deployed stage has it (the stack makes it there).
 *
 * @example
 * const db = await stageTable('drover-ws-test'); process.env.DROVER_DYNAMODB_ENDPOINT = db.endpoint;
 */
export async function stageTable(tableName: string): Promise<EmbeddedDynamo> {
  const db = await startDynalite();
  const client = dynamoClient({ region: 'us-east-1', endpoint: db.endpoint, local: true });
  await ensureTable(client, tableName);
  client.destroy();
  return db;
}

/**
 * Sets the environment the stack gives a stage's functions, over `db`'s table: the table, the endpoint, fake
 * credentials (nothing here reaches AWS), processes finished inline (no hosts), and `extra`.
 *
 * @example
 * stageEnv('drover-ws-test', db, { DROVER_ADMIN_ACCESS_KEY: 'AK', DROVER_ADMIN_SECRET_KEY: 'SK' });
 */
export function stageEnv(tableName: string, db: EmbeddedDynamo, extra: Record<string, string>): void {
  Object.assign(process.env, {
    DROVER_TABLE_NAME: tableName,
    DROVER_DYNAMODB_ENDPOINT: db.endpoint,
    DROVER_RUNNER: 'inline',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    ...extra,
  });
}

/** A JSON answer of the API function. */
export interface LambdaAnswer {
  status: number;
  body: any;
}

/** The API function's handler, as one container loaded it. */
export type ApiHandler = (typeof import('../../functions/api.js'))['handler'];

/**
 * A caller of the API function with one `Authorization` header, from the host `api.example.com` over https; of the
 * module as first loaded unless a container's `handler` is given.
 *
 * @example
 * const api = lambdaApi(`Basic ${Buffer.from('AK:SK').toString('base64')}`);
 * const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s' });
 */
export function lambdaApi(authorization: string, container?: ApiHandler) {
  return async (method: string, path: string, body?: unknown, query = '', headers: Record<string, string> = {}): Promise<LambdaAnswer> => {
    const handler = container ?? (await import('../../functions/api.js')).handler;
    const out = await handler(
      {
        version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: query,
        headers: { host: 'api.example.com', authorization, 'x-forwarded-proto': 'https', ...headers },
        requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
        body: body === undefined ? undefined : JSON.stringify(body), isBase64Encoded: false,
      } as never,
      {} as never,
    );
    return { status: out.statusCode as number, body: out.body ? JSON.parse(out.body as string) : null };
  };
}
