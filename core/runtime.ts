/**
 * @module
 * Wires one Drover instance from its parts: store → scheduler, outbox, lifecycle ledger, runs (workflow engine) →
 * service → Hono app, plus the workflow tasks, the sweeper and the reconciler. Every host uses it: the Lambda
 * entry points (`functions/*.ts`) and the embedded local stack (`core/embedded/local-server.ts`).
 */
import type { StoreClient } from './store/connect.js';
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { Outbox } from './agent/outbox.js';
import { AgentDoorbell } from './agent/doorbell.js';
import { Liveness } from './agent/liveness.js';
import { AgentBells } from './store/agent-bells.js';
import { createApp } from './api/app.js';
import type { DroverConfig } from './config.js';
import { AdminKeyFollower, type AdminKey, type AdminKeySource } from './domain/admin-key.js';
import { bootstrapStage } from './domain/bootstrap.js';
import { Authenticator } from './domain/credentials.js';
import { Ledger } from './domain/ledger.js';
import { EventFeed } from './domain/events.js';
import { EventLog } from './store/events.js';
import { WebhookDispatcher, type DeliveryQueue } from './domain/webhooks.js';
import type { EventBridgePublisher } from './events/event-bridge.js';
import { WebSocketFanOut, type ConnectionPoster } from './events/websocket-gateway.js';
import { StreamConnections } from './store/connections.js';
import { toWireEvent } from './api/render.js';
import { UrlBuilder } from './api/urls.js';
import { AuditWriter } from './domain/audit.js';
import { AuditStore } from './store/audit.js';
import { InlineRuns, type Runs } from './domain/runs.js';
import { Scheduler } from './domain/scheduler.js';
import { Idempotency } from './domain/idempotency.js';
import { InstanceHealth } from './domain/health.js';
import { DroverService } from './domain/service.js';
import { IdempotencyRecords } from './store/idempotency.js';
import { Store } from './store/store.js';
import { allDefinitions, LOCAL_TASKS_FUNCTION_ARN } from './workflows/asl.js';
import { WorkflowRuns } from './workflows/runs.js';
import { AwsStepFunctions } from './workflows/aws-step-functions.js';
import { Reconciler } from './workflows/reconciler.js';
import { Sweeper } from './workflows/sweeper.js';
import { createTaskHandler } from './workflows/tasks.js';
import type { TaskPayload, StepFunctions } from './workflows/types.js';
import type { StoredEvent } from './store/events.js';

export interface DroverOptions {
  config: DroverConfig;
  client: StoreClient;
  tableName: string;
  /** Admin key to install on start; when absent the stored one stays in force. */
  admin?: AdminKey;
  /**
   * Where the admin key is kept instead (AWS: the stage's secret): read on start and installed, then followed as
   * `config.adminSecret` says, so a rotated key replaces the stored one (`core/domain/admin-key.ts`).
   */
  adminKeySource?: AdminKeySource;
  /** Overrides where begun actions' runs go (tests that hold work back); gets the ledger to finish them with. */
  runs?: (ledger: Ledger) => Runs;
  /** Overrides the workflow engine the configuration picks (tests that stand in for Step Functions). */
  workflows?: StepFunctions;
  logError?: (err: unknown) => void;
  /** Longest agent long-poll in seconds. Default 0: on Lambda a held request is billed wall time. */
  agentPollWaitSeconds?: number;
  /** Turn this process's committed changes into events (the embedded stack; in AWS the table's stream does). */
  events?: boolean;
  /** The server's WebSocket upgrade, for `/v1/subscribe` over WebSocket (the embedded stack's). */
  upgradeWebSocket?: UpgradeWebSocket;
  /**
   * Where webhook delivery attempts go instead of this process (AWS: the stage's SQS queue, built by the entry
   * points that use it, so no other Lambda bundle carries its client).
   */
  webhookQueue?: DeliveryQueue;
  /**
   * The stage's EventBridge bus, for the stream consumer (with `DROVER_EVENT_BUS_NAME`): built by its entry point
   * (`eventBusOf`), so no other Lambda bundle carries the client.
   */
  eventBus?: (config: DroverConfig, render: (event: StoredEvent) => Record<string, unknown>) => EventBridgePublisher | undefined;
  /**
   * API Gateway's management API of the WebSocket stage (with `DROVER_WEBSOCKET_ENDPOINT`), for the entry points that
   * push (`connectionPosterOf`), so no other Lambda bundle carries the client.
   */
  connectionPoster?: (config: DroverConfig) => ConnectionPoster | undefined;
  /**
   * API Gateway's management API of the agents' doorbell (with `DROVER_AGENT_DOORBELL_ENDPOINT`), for the entry point
   * that enqueues host commands (`doorbellPosterOf`; the tasks function).
   */
  doorbellPoster?: (config: DroverConfig) => ConnectionPoster | undefined;
}

export interface Drover {
  app: Hono;
  service: DroverService;
  store: Store;
  /** The one writer of every action's life. */
  ledger: Ledger;
  /** Where begun actions' runs go: their workflows, or (inline) finished in-process. */
  runs: Runs;
  scheduler: Scheduler;
  /** The host command outbox the agent routes deliver from; enqueue through this one (its doorbell is local). */
  outbox: Outbox;
  /** The agent doorbell (AWS): the agent WebSocket API's events, and rings when commands are enqueued. */
  doorbell: AgentDoorbell;
  /** Step Functions in AWS (`DROVER_STATE_MACHINES` set), else the embedded interpreter. */
  workflows: StepFunctions;
  /** The code behind every Task state. */
  runTask: (payload: TaskPayload) => Promise<unknown>;
  sweeper: Sweeper;
  /** Finds orphaned work by a consistent scan and recomputes host allocations. */
  reconciler: Reconciler;
  defaultProjectId: string;
  /** `resource.change` events: the log, and (with `events`) the feed filling it from this process's changes. */
  events: EventFeed;
  /** Where the stream consumer puts events for other services (AWS, with `DROVER_EVENT_BUS_NAME`). */
  bus?: EventBridgePublisher;
  /** `/v1/subscribe` clients of the stage's WebSocket API (AWS): recorded at `$connect`, forgotten at `$disconnect`. */
  streamConnections: StreamConnections;
  /** What pushes events and pings to them (AWS, with `DROVER_WEBSOCKET_ENDPOINT`; fed by the stream consumer). */
  live?: WebSocketFanOut;
  /** Webhooks out: deliveries of events, and their worker (started by the embedded stack with `start`). */
  webhooks: WebhookDispatcher;
  /**
   * Health and exit reports of agents, and automatic recovery: it decides on the event feed where events run (`events`,
   * or the stream consumer, which records attempts only), and begins due recoveries by timer (embedded) or `runDue`.
   */
  health: InstanceHealth;
  /**
   * The audit trail's writer: with `events`, it records every action from the event feed (in AWS the stream
   * consumer will feed it).
   */
  audit: AuditWriter;
  /** Stops what `createDrover` started in the background (the event feed). */
  stop(): void;
}

/**
 * Builds the app and its services over a table, running the stage bootstrap and the Wakame seeding first.
 *
 * @example
 * const { app } = await createDrover({ config, client: dynamoClient({ region: 'eu-west-1' }), tableName: 'drover-prod' });
 */
export async function createDrover(opts: DroverOptions): Promise<Drover> {
  const { config } = opts;
  const log = opts.logError ?? ((e: unknown) => console.error(e));
  const logCause = (m: string, e: unknown) => log(new Error(m, { cause: e }));
  const store = new Store({ client: opts.client, tableName: opts.tableName });
  const adminKey = opts.adminKeySource
    ? new AdminKeyFollower(store, opts.adminKeySource, {
        maxAgeMs: config.adminSecret.maxAgeSeconds * 1000,
        recheckMs: config.adminSecret.recheckSeconds * 1000,
        logError: log,
      })
    : undefined;
  const admin = adminKey ? await adminKey.read() : opts.admin;
  // One read of the stage's bootstrap marker once the stage is set up (the default project, keys, the Wakame seed).
  const { defaultProjectId, cursorSecret } = await bootstrapStage(store, { admin, cursorSecret: config.cursorSecret });
  const scheduler = new Scheduler(store);
  const auth = new Authenticator(store, { adminKey });
  // In AWS agents hold the stage's agent WebSocket API open; enqueuing a command rings its host there.
  const doorbell = new AgentDoorbell({
    bells: new AgentBells(store),
    auth,
    // Stamps as a host's doorbell opens and closes (keepalives stamp nothing: the host is online while it is open).
    liveness: new Liveness(store),
    poster: opts.doorbellPoster?.(config),
    logError: log,
  });
  const outbox = new Outbox(store, { ring: config.agentDoorbellEndpoint ? (hostId) => doorbell.ring(hostId) : undefined });
  const bounds = { heartbeatSeconds: config.heartbeatSeconds, timeoutSeconds: config.actionTimeoutSeconds };
  const ledger = new Ledger(store, {
    bounds,
    capacity: scheduler,
    purgedRetentionSeconds: config.purgedRetentionSeconds,
    removeDelaySeconds: config.removeDelaySeconds,
  });

  // The tasks function is made for the engine it runs under, as the tasks Lambda is made for Step Functions.
  const tasksFor = (workflows: StepFunctions) => createTaskHandler({ ledger, store, scheduler, outbox, workflows, log: logCause });
  // The embedded interpreter is loaded only where it runs (no state machines): a Lambda bundle leaves it out.
  const workflows: StepFunctions =
    opts.workflows ??
    (config.stateMachineArns
      ? new AwsStepFunctions({ client: (sdk) => new sdk.SFNClient({ region: config.region }), stateMachineArns: config.stateMachineArns })
      : new (await import('./workflows/embedded-step-functions.js')).EmbeddedStepFunctions({
          definitions: allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, ...bounds }),
          tasks: tasksFor,
        }));
  const runTask = tasksFor(workflows);
  const runs: Runs =
    opts.runs?.(ledger) ?? (config.runner === 'inline' ? new InlineRuns(ledger) : new WorkflowRuns(workflows, ledger, logCause));
  const sweeper = new Sweeper({ store, ledger, workflows, runs });
  const reconciler = new Reconciler({ store, ledger, runs, sweeper, log: (m) => console.log(`reconciler: ${m}`) });

  const service = new DroverService({ store, ledger, runs, auth, defaultProjectId, cursorSecret });
  // Without the local feed this process is the table stream's consumer, whose batches may come twice.
  const events = new EventFeed(store, new EventLog(store, { retentionSeconds: config.eventRetentionSeconds }), log, !opts.events);
  const stopEvents = opts.events ? events.start() : () => undefined;
  // Webhook bodies are the stream's events, rendered as a project key sees them, with links from the server's origin.
  const webhooks = new WebhookDispatcher({
    store,
    settings: config.webhooks,
    render: (e, origin) => toWireEvent(e, new UrlBuilder(origin, '/v1'), 'project'),
    queue: opts.webhookQueue,
    log,
  });
  // In AWS the table stream's consumer feeds what follows from events (a schedule does what is due later).
  const consumer = config.streamConsumerOrigin;
  // The URLs events carry where they leave the API (the bus, the WebSocket API's connections): the API's.
  const eventUrls = new UrlBuilder(consumer ?? '', '/v1');
  // Recovery decides on the event feed. In a Lambda (the stream consumer) a timer would not outlive the batch: it
  // records attempts, and the scheduled `functions/recovery.ts` begins them when due (`health.runDue`).
  const health = new InstanceHealth({ store, ledger, runs, options: config.restart, log });
  const stopHealth = opts.events ? health.start(events) : consumer ? health.start(events, { timers: false }) : () => undefined;
  // The audit trail is derived from the events, so it runs where they do.
  const audit = new AuditWriter(new AuditStore(store), { retentionSeconds: config.auditRetentionSeconds, logError: log });
  // The consumer also feeds the audit trail and records webhook deliveries (onto the delivery queue, where there is one).
  const stopAudit = opts.events || consumer ? audit.start(events) : () => undefined;
  const stopCapture = consumer ? webhooks.capture(events, { origin: consumer }) : () => undefined;
  // And puts every event on the stage's EventBridge bus, rendered as a project key sees it.
  const bus = consumer
    ? opts.eventBus?.(config, (e) => toWireEvent(e, eventUrls, 'project') as Record<string, unknown>)
    : undefined;
  const stopBus = bus ? events.subscribe((e) => bus.add(e)) : () => undefined;
  // And pushes them to `/v1/subscribe` clients of the stage's WebSocket API; the ping schedule uses the same pusher.
  const streamConnections = new StreamConnections(store);
  const poster = opts.connectionPoster?.(config);
  const live = poster
    ? new WebSocketFanOut({
        connections: streamConnections,
        feed: events,
        poster,
        render: (e, role) => toWireEvent(e, eventUrls, role) as Record<string, unknown>,
        resumeOverlapMs: config.eventResumeOverlapSeconds * 1000,
        logError: log,
      })
    : undefined;
  const stopLive = live && consumer ? events.subscribe((e) => live.add(e)) : () => undefined;
  const app = createApp({
    service,
    events: {
      feed: events,
      pingSeconds: config.eventPingSeconds,
      live: !!opts.events,
      upgradeWebSocket: opts.upgradeWebSocket,
      websocketUrl: config.websocketUrl,
      connections: config.websocketUrl ? streamConnections : undefined,
    },
    logError: opts.logError,
    agent: {
      outbox,
      workflows: () => workflows,
      maxWaitSeconds: opts.agentPollWaitSeconds ?? 0,
      instances: health,
      doorbell: config.agentDoorbellUrl
        ? { url: config.agentDoorbellUrl, keepaliveSeconds: config.agentKeepaliveSeconds, fallbackPollSeconds: config.agentFallbackPollSeconds }
        : undefined,
    },
    idempotency: new Idempotency({ records: new IdempotencyRecords(store), retentionSeconds: config.idempotencySeconds, logError: log }),
  });
  const stop = () => {
    stopLive();
    stopBus();
    stopCapture();
    stopAudit();
    stopHealth();
    stopEvents();
  };
  return { app, service, store, ledger, runs, scheduler, outbox, doorbell, workflows, runTask, sweeper, reconciler, defaultProjectId, events, bus, streamConnections, live, webhooks, health, audit, stop };
}
