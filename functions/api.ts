/**
 * @module
 * Lambda entry point of the API: the same Hono app as the local stack (the Rancher API and the agent channel),
 * behind API Gateway (HTTP API).
 */
import { handle } from 'hono/aws-lambda';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { stageDrover } from './stage.js';

const ready = stageDrover().then((d) => handle(d.app));

/** API Gateway v2 / function URL handler. */
export const handler = async (event: LambdaEvent, context: LambdaContext) => (await ready)(event, context);
