/**
 * @module
 * Lambda entry point of the API: the same Hono app as the local stack (the Rancher API and the agent channel),
 * behind API Gateway (HTTP API).
 */
import { handle } from 'hono/aws-lambda';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { adminSecretOf } from '../core/secrets/admin-secret.js';
import { stageDrover } from './stage.js';

const stage = () => stageDrover({ adminKey: adminSecretOf });
// Started while Lambda initializes the container; a start that failed is tried again by the next request.
stage().catch(() => undefined);

/** The Lambda adapter of the stage's app, made once per app (a container keeps one, unless its start was retried). */
let served: { app: Awaited<ReturnType<typeof stage>>['app']; handler: ReturnType<typeof handle> } | undefined;

/** API Gateway v2 / function URL handler. */
export const handler = async (event: LambdaEvent, context: LambdaContext) => {
  const { app } = await stage();
  if (served?.app !== app) served = { app, handler: handle(app) };
  return served.handler(event, context);
};
