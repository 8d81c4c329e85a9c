/**
 * @module
 * Wires one Drover instance from its parts: store → scheduler, outbox, workflow engine → process engine →
 * service → Hono app, plus the workflow tasks, the sweeper and the reconciler. Every host uses it: the Lambda
 * entry points (`functions/*.ts`) and the embedded local stack (`core/embedded/stack.ts`).
 */
import type { StoreClient } from './store/connect.js';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Hono } from 'hono';
import { Outbox } from './agent/outbox.js';
import { createApp } from './api/app.js';
import type { DroverConfig } from './config.js';
import { bootstrap } from './domain/bootstrap.js';
import { Authenticator } from './domain/credentials.js';
import { InlineRunner, ProcessEngine, type ProcessRunner } from './domain/engine.js';
import { Scheduler } from './domain/scheduler.js';
import { Idempotency } from './domain/idempotency.js';
import { DroverService } from './domain/service.js';
import { IdempotencyRecords } from './store/idempotency.js';
import { Store } from './store/store.js';
import { allDefinitions, LOCAL_TASKS_FUNCTION_ARN } from './workflows/asl.js';
import { LocalWorkflowEngine } from './workflows/local-engine.js';
import { WorkflowRunner } from './workflows/runner.js';
import { SfnWorkflowEngine } from './workflows/sfn-engine.js';
import { Reconciler } from './workflows/reconciler.js';
import { Sweeper, sweptStep } from './workflows/sweeper.js';
import { createTaskHandler } from './workflows/tasks.js';
import type { TaskPayload, WorkflowEngine } from './workflows/types.js';

export interface DroverOptions {
  config: DroverConfig;
  client: StoreClient;
  tableName: string;
  /** Admin key to install on start; when absent the stored one stays in force. */
  admin?: { accessKey: string; secretKey: string };
  /** Overrides the runner the configuration picks (tests). */
  runner?: ProcessRunner;
  /** Overrides the workflow engine the configuration picks (tests that stand in for Step Functions). */
  workflows?: WorkflowEngine;
  logError?: (err: unknown) => void;
  /** Longest agent long-poll in seconds. Default 0: on Lambda a held request is billed wall time. */
  agentPollWaitSeconds?: number;
}

export interface Drover {
  app: Hono;
  service: DroverService;
  store: Store;
  engine: ProcessEngine;
  scheduler: Scheduler;
  /** The host command outbox the agent routes deliver from; enqueue through this one (its doorbell is local). */
  outbox: Outbox;
  /** Step Functions in AWS (`DROVER_STATE_MACHINES` set), else the embedded interpreter. */
  workflows: WorkflowEngine;
  /** The code behind every Task state. */
  runTask: (payload: TaskPayload) => Promise<unknown>;
  sweeper: Sweeper;
  /** Finds orphaned work by a consistent scan and recomputes host allocations. */
  reconciler: Reconciler;
  defaultProjectId: string;
}

/**
 * Builds the app and its services over a table, running the stage bootstrap first.
 *
 * @example
 * const { app } = await createDrover({ config, client: dynamoClient({ region: 'eu-west-1' }), tableName: 'drover-prod' });
 */
export async function createDrover(opts: DroverOptions): Promise<Drover> {
  const { config } = opts;
  const log = opts.logError ?? ((e: unknown) => console.error(e));
  const store = new Store({ client: opts.client, tableName: opts.tableName });
  const { defaultProjectId, cursorSecret } = await bootstrap(store, { admin: opts.admin, cursorSecret: config.cursorSecret });
  const scheduler = new Scheduler(store);
  const outbox = new Outbox(store);

  // The tasks need the engine and the engine needs the runner, which needs the workflow engine: tie the knot
  // through this late-bound function.
  let runTask: (payload: TaskPayload) => Promise<unknown> = async () => {
    throw new Error('tasks are not wired yet');
  };
  const bounds = { heartbeatSeconds: config.heartbeatSeconds, timeoutSeconds: config.actionTimeoutSeconds };
  const workflows: WorkflowEngine = opts.workflows ?? (config.stateMachineArns
    ? new SfnWorkflowEngine({ client: new SFNClient({ region: config.region }), stateMachineArns: config.stateMachineArns })
    : new LocalWorkflowEngine({
        definitions: allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, ...bounds }),
        invokeTask: (p) => runTask(p),
      }));
  const runner: ProcessRunner =
    opts.runner ??
    (config.runner === 'inline' ? new InlineRunner() : new WorkflowRunner(workflows, { ...bounds, log: (m, e) => log(new Error(m, { cause: e })) }));
  const engine = new ProcessEngine(store, runner, {
    purgedRetentionSeconds: config.purgedRetentionSeconds,
    removeDelaySeconds: config.removeDelaySeconds,
  });
  runTask = createTaskHandler({ engine, scheduler, outbox, workflows: () => workflows });
  const sweeper = new Sweeper({
    engine,
    workflows,
    redriveDeadlineMs: (baseType, action) => runner.deadlineMs?.(baseType, action) ?? 60_000,
    // The same failure path as a workflow's Catch, so held capacity (a migration target) is given back.
    fail: async (res, workflow, message) => {
      const out = (await runTask({
        task: 'fail',
        id: res.id,
        actionId: res.action!.id,
        workflow,
        stepName: sweptStep(workflow),
        error: { Error: 'Drover.Swept', Cause: message },
      })) as { failed?: boolean };
      return !!out.failed;
    },
  });

  const reconciler = new Reconciler({ engine, sweeper, log: (m) => console.log(`reconciler: ${m}`) });

  const auth = new Authenticator(store);
  const service = new DroverService({ store, engine, auth, defaultProjectId, cursorSecret });
  const app = createApp({
    service,
    logError: opts.logError,
    agent: { outbox, workflows: () => workflows, maxWaitSeconds: opts.agentPollWaitSeconds ?? 0 },
    idempotency: new Idempotency({ records: new IdempotencyRecords(store), retentionSeconds: config.idempotencySeconds, logError: log }),
  });
  return { app, service, store, engine, scheduler, outbox, workflows, runTask, sweeper, reconciler, defaultProjectId };
}
