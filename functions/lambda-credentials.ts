/**
 * @module
 * The AWS SDK's credentials inside a Lambda function: the runtime puts the function role's session credentials in the
 * environment, so the SDK's default chain always stops at its first link there. The bundler puts this module in
 * place of `@aws-sdk/credential-provider-node` (`stacks/bundling.ts`, `credentialsFromEnvironment`), which keeps the
 * chain's other links (SSO, profiles, processes, web identity, instance metadata) and the STS and SSO clients they
 * bring out of every function.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * What a client's `credentialDefaultProvider` is given in a function: the environment's credentials.
 *
 * @example
 * const credentials = await defaultProvider()();
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
