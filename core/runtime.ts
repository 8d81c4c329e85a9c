/**
 * @module
 * Wires one Drover instance from its parts: store → engine → service → Hono app. Both hosts of the app use
 * it: the Lambda entry (`functions/api.ts`) and the embedded local stack (`core/embedded/stack.ts`).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Hono } from 'hono';
import { createApp } from './api/app.js';
import type { DroverConfig } from './config.js';
import { bootstrap } from './domain/bootstrap.js';
import { Authenticator } from './domain/credentials.js';
import { InlineRunner, ProcessEngine, type ProcessRunner } from './domain/engine.js';
import { DroverService } from './domain/service.js';
import { Store } from './store/store.js';

export interface DroverOptions {
  config: DroverConfig;
  client: DynamoDBClient;
  tableName: string;
  /** Admin key to install on start; when absent the stored one stays in force. */
  admin?: { accessKey: string; secretKey: string };
  /** Runs process work (default: inline, no hosts). */
  runner?: ProcessRunner;
  logError?: (err: unknown) => void;
}

export interface Drover {
  app: Hono;
  service: DroverService;
  store: Store;
  defaultProjectId: string;
}

/**
 * Builds the app and its services over a table, running the stage bootstrap first.
 *
 * @example
 * const { app } = await createDrover({ config, client: new DynamoDBClient({}), tableName: 'drover-prod' });
 */
export async function createDrover(opts: DroverOptions): Promise<Drover> {
  const store = new Store({ client: opts.client, tableName: opts.tableName });
  const { defaultProjectId, cursorSecret } = await bootstrap(store, {
    admin: opts.admin,
    cursorSecret: opts.config.cursorSecret,
  });
  const engine = new ProcessEngine(store, opts.runner ?? new InlineRunner(), {
    purgedRetentionSeconds: opts.config.purgedRetentionSeconds,
  });
  const auth = new Authenticator(store);
  const service = new DroverService({ store, engine, auth, defaultProjectId, cursorSecret });
  return { app: createApp({ service, logError: opts.logError }), service, store, defaultProjectId };
}
