/**
 * @module
 * Drover's configuration, read once from environment variables. Every variable is listed in the README.
 */

export interface DroverConfig {
  /** HTTP port of the embedded server (`PORT`, default 8080). */
  port: number;
  /** Listen address of the embedded server (`HOST`, default 127.0.0.1). */
  host: string;
  /** Where the embedded store keeps its files (`DROVER_DATA_DIR`, default `./.drover`). */
  dataDir: string;
  /** Admin API key (`DROVER_ADMIN_ACCESS_KEY` / `DROVER_ADMIN_SECRET_KEY`); generated when unset. */
  adminAccessKey?: string;
  adminSecretKey?: string;
  /** Use this DynamoDB table instead of the embedded store (`DROVER_TABLE_NAME`). */
  tableName?: string;
  /** Custom DynamoDB endpoint (`DROVER_DYNAMODB_ENDPOINT`), e.g. a DynamoDB-compatible server. */
  dynamodbEndpoint?: string;
  /** Create the table when it does not exist (`DROVER_CREATE_TABLE=true`); the embedded store always does. */
  createTable: boolean;
  /** AWS region (`AWS_REGION`, default us-east-1). */
  region: string;
  /** Key that signs pagination markers (`DROVER_CURSOR_SECRET`); generated and stored when unset. */
  cursorSecret?: string;
  /** Seconds a purged record is kept before it expires (`DROVER_PURGED_RETENTION_SECONDS`, default 86400). */
  purgedRetentionSeconds: number;
}

function int(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/**
 * Reads the configuration from an environment.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): DroverConfig {
  const access = env.DROVER_ADMIN_ACCESS_KEY || undefined;
  const secret = env.DROVER_ADMIN_SECRET_KEY || undefined;
  if (!!access !== !!secret) {
    throw new Error('Set both DROVER_ADMIN_ACCESS_KEY and DROVER_ADMIN_SECRET_KEY, or neither');
  }
  return {
    port: int(env.PORT, 8080, 'PORT'),
    host: env.HOST || '127.0.0.1',
    dataDir: env.DROVER_DATA_DIR || './.drover',
    adminAccessKey: access,
    adminSecretKey: secret,
    tableName: env.DROVER_TABLE_NAME || undefined,
    dynamodbEndpoint: env.DROVER_DYNAMODB_ENDPOINT || undefined,
    createTable: env.DROVER_CREATE_TABLE === 'true',
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    cursorSecret: env.DROVER_CURSOR_SECRET || undefined,
    purgedRetentionSeconds: int(env.DROVER_PURGED_RETENTION_SECONDS, 86_400, 'DROVER_PURGED_RETENTION_SECONDS'),
  };
}
