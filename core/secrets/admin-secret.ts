/**
 * @module
 * The admin key in AWS: a Secrets Manager secret of the stage (made by the stack with a generated value, its ARN in
 * `DROVER_ADMIN_SECRET_ARN`), read with `GetSecretValue`. Only the entry points that authenticate use it, so only
 * their bundles carry its client.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DroverConfig } from '../config.js';
import { parseAdminKey, type AdminKeySource } from '../domain/admin-key.js';

/**
 * Reads the admin key from a secret holding `{"accessKey": "...", "secretKey": "..."}` (its current version).
 *
 * @example
 * const read = secretAdminKey(new SecretsManagerClient({}), arn); const { accessKey } = await read();
 */
export function secretAdminKey(client: SecretsManagerClient, secretId: string): AdminKeySource {
  return async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return parseAdminKey(out.SecretString, `the admin key secret ${secretId}`);
  };
}

/**
 * The stage's admin key secret, when the configuration names one (`DROVER_ADMIN_SECRET_ARN`). The client finds
 * Secrets Manager as the SDK does (`AWS_ENDPOINT_URL_SECRETS_MANAGER` overrides where).
 *
 * @example
 * const drover = await stageDrover({ adminKey: adminSecretOf });
 */
export function adminSecretOf(config: DroverConfig): AdminKeySource | undefined {
  const arn = config.adminSecretArn;
  return arn ? secretAdminKey(new SecretsManagerClient({ region: config.region }), arn) : undefined;
}
