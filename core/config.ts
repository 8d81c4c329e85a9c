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
  /**
   * The Secrets Manager secret that holds the admin key instead (`DROVER_ADMIN_SECRET_ARN`; set by the stack in AWS
   * on the functions that authenticate), as JSON `{"accessKey", "secretKey"}`: read at start, then followed, so a
   * rotated key replaces the stored one (`core/domain/admin-key.ts`).
   */
  adminSecretArn?: string;
  /**
   * How long a process trusts its read of that secret before a request reads it again
   * (`DROVER_ADMIN_SECRET_MAX_AGE_SECONDS`, 300), and how soon after a read a failed authentication may read it again
   * (`DROVER_ADMIN_SECRET_RECHECK_SECONDS`, 10).
   */
  adminSecret: { maxAgeSeconds: number; recheckSeconds: number };
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
  /** Seconds an event is kept for subscribers to resume from (`DROVER_EVENT_RETENTION_SECONDS`, default 86400). */
  eventRetentionSeconds: number;
  /**
   * Seconds between pings on an event stream, so a client can tell quiet from dead (`DROVER_EVENT_PING_SECONDS`,
   * 20; in AWS a schedule sends them, rounded up to whole minutes).
   */
  eventPingSeconds: number;
  /**
   * How far before a resuming client's last event id the AWS stream replays (`DROVER_EVENT_RESUME_OVERLAP_SECONDS`,
   * 5): the table's stream shards are consumed concurrently, so an event may be logged just after one with a later
   * id. The embedded stack has one feed and replays exactly.
   */
  eventResumeOverlapSeconds: number;
  /** The stage's WebSocket API (`DROVER_WEBSOCKET_URL`, `wss://…`; AWS only): where `/v1/subscribe` clients connect. */
  websocketUrl?: string;
  /** The management endpoint of that API (`DROVER_WEBSOCKET_ENDPOINT`, `https://…`): where the stream consumer posts. */
  websocketEndpoint?: string;
  /**
   * The stage's agent doorbell (`DROVER_AGENT_DOORBELL_URL`, `wss://…`; AWS only): the WebSocket API host agents hold
   * open, told to them in every poll answer. Unset (the embedded stack): agents long-poll.
   */
  agentDoorbellUrl?: string;
  /** The management endpoint of that API (`DROVER_AGENT_DOORBELL_ENDPOINT`, `https://…`): where enqueuing rings. */
  agentDoorbellEndpoint?: string;
  /**
   * Seconds between an agent's keepalives on the doorbell (`DROVER_AGENT_KEEPALIVE_SECONDS`, 300; under API Gateway's
   * 10-minute idle limit). They only keep the connection open: the host is online while its doorbell is.
   */
  agentKeepaliveSeconds: number;
  /** Seconds between an agent's polls while its doorbell is open (`DROVER_AGENT_FALLBACK_POLL_SECONDS`, 900). */
  agentFallbackPollSeconds: number;
  /** How long a response to a request with an `Idempotency-Key` is kept for replay (`DROVER_IDEMPOTENCY_SECONDS`, 86400). */
  idempotencySeconds: number;
  /** Seconds an audit entry is kept after its action began (`DROVER_AUDIT_RETENTION_SECONDS`, default 30 days). */
  auditRetentionSeconds: number;
  /** HeartbeatSeconds of every host call: an agent silent this long fails the step (`DROVER_HEARTBEAT_SECONDS`, 60). */
  heartbeatSeconds: number;
  /** TimeoutSeconds of every host call (`DROVER_ACTION_TIMEOUT_SECONDS`, 600: image pulls can be slow). */
  actionTimeoutSeconds: number;
  /** How often the sweeper looks for stuck transitions and due purges (`DROVER_SWEEP_SECONDS`, 60). */
  sweepSeconds: number;
  /**
   * How often the reconciler scans the whole table for orphaned work and recomputes host allocations
   * (`DROVER_RECONCILE_SECONDS`, 600). Each pass is a consistent Scan of the table, billed as such in AWS.
   */
  reconcileSeconds: number;
  /** Seconds a removed instance waits before it is purged automatically (`DROVER_REMOVE_DELAY_SECONDS`, 60, as cattle). */
  removeDelaySeconds: number;
  /** Simulated hosts the embedded stack starts (`DROVER_SIM_HOSTS`, 2; 0 for none). */
  simHosts: number;
  /** Work that runs processes: `workflows` (Step Functions, the default) or `inline` (no hosts; `DROVER_RUNNER`). */
  runner: 'workflows' | 'inline';
  /** The SST stage this runs in (`DROVER_STAGE`, set by the stack; `local` otherwise): the metrics' dimension. */
  stage: string;
  /** State machine ARNs per workflow, JSON (`DROVER_STATE_MACHINES`; set by the stack in AWS). */
  stateMachineArns?: Record<string, string>;
  /**
   * Set on the table stream's consumer in AWS (`DROVER_STREAM_CONSUMER_ORIGIN`, the API's URL): that process feeds
   * events to the audit trail and records webhook deliveries, whose bodies link to this origin.
   */
  streamConsumerOrigin?: string;
  /** The stage's EventBridge bus the stream consumer publishes events to (`DROVER_EVENT_BUS_NAME`; AWS only). */
  eventBusName?: string;
  /**
   * The stage's webhook delivery queue (`DROVER_WEBHOOK_QUEUE_URL`; set by the stack in AWS on the stream consumer,
   * the queue's worker and the scheduled webhook function): delivery attempts are handed to it.
   */
  webhookQueueUrl?: string;
  /** Webhook deliveries: retry backoff, give-up cap, worker interval, request timeout (`DROVER_WEBHOOK_*`). */
  webhooks: WebhookConfig;
  /**
   * Automatic recovery (health-check recreates, restart policies; `core/domain/health.ts`): the first wait before
   * an attempt (`DROVER_RESTART_BACKOFF_MS`, 1000, doubling per attempt), the longest (`DROVER_RESTART_BACKOFF_CAP_MS`,
   * 60000), the attempts allowed when `restartPolicy.maximumRetryCount` does not say (`DROVER_RESTART_MAX_RETRIES`,
   * 5), and how far apart attempts may be to count together (`DROVER_RESTART_WINDOW_SECONDS`, 600).
   */
  restart: { backoffMs: number; backoffCapMs: number; maxRetries: number; windowSeconds: number };
}

/** How webhook deliveries are retried (`core/domain/webhooks.ts`). */
export interface WebhookConfig {
  /** First retry's backoff ceiling in ms; it doubles per attempt (`DROVER_WEBHOOK_RETRY_BASE_MS`, 2000). */
  retryBaseMs: number;
  /** Largest backoff ceiling in ms (`DROVER_WEBHOOK_RETRY_CAP_MS`, 600000: 10 minutes). */
  retryCapMs: number;
  /** Failed attempts in a row after which a delivery fails and its webhook is disabled (`DROVER_WEBHOOK_MAX_ATTEMPTS`, 30). */
  maxAttempts: number;
  /** How often the worker looks for due deliveries, in ms (`DROVER_WEBHOOK_POLL_MS`, 1000). */
  pollMs: number;
  /** How long one attempt may take, in ms (`DROVER_WEBHOOK_TIMEOUT_MS`, 10000). */
  timeoutMs: number;
}

function int(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

function positive(v: string | undefined, dflt: number, name: string): number {
  const n = int(v, dflt, name);
  if (n === 0) throw new Error(`${name} must be at least 1`);
  return n;
}

/** The doorbell's keepalive: API Gateway closes a connection idle for 10 minutes, so it must be shorter. */
function keepalive(v: string | undefined): number {
  const n = positive(v, 300, 'DROVER_AGENT_KEEPALIVE_SECONDS');
  if (n >= 600) throw new Error(`DROVER_AGENT_KEEPALIVE_SECONDS must be under 600 (API Gateway's idle limit), got ${n}`);
  return n;
}

function runnerOf(v: string | undefined): 'workflows' | 'inline' {
  if (v === undefined || v === '' || v === 'workflows') return 'workflows';
  if (v === 'inline') return 'inline';
  throw new Error(`DROVER_RUNNER must be "workflows" or "inline", got "${v}"`);
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
  const adminSecretArn = env.DROVER_ADMIN_SECRET_ARN || undefined;
  if (access && adminSecretArn) {
    throw new Error('Set DROVER_ADMIN_SECRET_ARN or DROVER_ADMIN_ACCESS_KEY and DROVER_ADMIN_SECRET_KEY, not both');
  }
  return {
    port: int(env.PORT, 8080, 'PORT'),
    host: env.HOST || '127.0.0.1',
    dataDir: env.DROVER_DATA_DIR || './.drover',
    adminAccessKey: access,
    adminSecretKey: secret,
    adminSecretArn,
    adminSecret: {
      maxAgeSeconds: int(env.DROVER_ADMIN_SECRET_MAX_AGE_SECONDS, 300, 'DROVER_ADMIN_SECRET_MAX_AGE_SECONDS'),
      recheckSeconds: int(env.DROVER_ADMIN_SECRET_RECHECK_SECONDS, 10, 'DROVER_ADMIN_SECRET_RECHECK_SECONDS'),
    },
    tableName: env.DROVER_TABLE_NAME || undefined,
    dynamodbEndpoint: env.DROVER_DYNAMODB_ENDPOINT || undefined,
    createTable: env.DROVER_CREATE_TABLE === 'true',
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    cursorSecret: env.DROVER_CURSOR_SECRET || undefined,
    purgedRetentionSeconds: int(env.DROVER_PURGED_RETENTION_SECONDS, 86_400, 'DROVER_PURGED_RETENTION_SECONDS'),
    agentDoorbellUrl: env.DROVER_AGENT_DOORBELL_URL || undefined,
    agentDoorbellEndpoint: env.DROVER_AGENT_DOORBELL_ENDPOINT || undefined,
    agentKeepaliveSeconds: keepalive(env.DROVER_AGENT_KEEPALIVE_SECONDS),
    agentFallbackPollSeconds: positive(env.DROVER_AGENT_FALLBACK_POLL_SECONDS, 900, 'DROVER_AGENT_FALLBACK_POLL_SECONDS'),
    idempotencySeconds: positive(env.DROVER_IDEMPOTENCY_SECONDS, 86_400, 'DROVER_IDEMPOTENCY_SECONDS'),
    eventRetentionSeconds: positive(env.DROVER_EVENT_RETENTION_SECONDS, 86_400, 'DROVER_EVENT_RETENTION_SECONDS'),
    eventPingSeconds: positive(env.DROVER_EVENT_PING_SECONDS, 20, 'DROVER_EVENT_PING_SECONDS'),
    eventResumeOverlapSeconds: int(env.DROVER_EVENT_RESUME_OVERLAP_SECONDS, 5, 'DROVER_EVENT_RESUME_OVERLAP_SECONDS'),
    websocketUrl: env.DROVER_WEBSOCKET_URL || undefined,
    websocketEndpoint: env.DROVER_WEBSOCKET_ENDPOINT || undefined,
    auditRetentionSeconds: positive(env.DROVER_AUDIT_RETENTION_SECONDS, 30 * 86_400, 'DROVER_AUDIT_RETENTION_SECONDS'),
    heartbeatSeconds: positive(env.DROVER_HEARTBEAT_SECONDS, 60, 'DROVER_HEARTBEAT_SECONDS'),
    actionTimeoutSeconds: positive(env.DROVER_ACTION_TIMEOUT_SECONDS, 600, 'DROVER_ACTION_TIMEOUT_SECONDS'),
    sweepSeconds: positive(env.DROVER_SWEEP_SECONDS, 60, 'DROVER_SWEEP_SECONDS'),
    reconcileSeconds: positive(env.DROVER_RECONCILE_SECONDS, 600, 'DROVER_RECONCILE_SECONDS'),
    removeDelaySeconds: int(env.DROVER_REMOVE_DELAY_SECONDS, 60, 'DROVER_REMOVE_DELAY_SECONDS'),
    simHosts: int(env.DROVER_SIM_HOSTS, 2, 'DROVER_SIM_HOSTS'),
    runner: runnerOf(env.DROVER_RUNNER),
    stage: env.DROVER_STAGE || 'local',
    stateMachineArns: env.DROVER_STATE_MACHINES ? (JSON.parse(env.DROVER_STATE_MACHINES) as Record<string, string>) : undefined,
    streamConsumerOrigin: env.DROVER_STREAM_CONSUMER_ORIGIN || undefined,
    eventBusName: env.DROVER_EVENT_BUS_NAME || undefined,
    webhookQueueUrl: env.DROVER_WEBHOOK_QUEUE_URL || undefined,
    webhooks: {
      retryBaseMs: positive(env.DROVER_WEBHOOK_RETRY_BASE_MS, 2000, 'DROVER_WEBHOOK_RETRY_BASE_MS'),
      retryCapMs: positive(env.DROVER_WEBHOOK_RETRY_CAP_MS, 600_000, 'DROVER_WEBHOOK_RETRY_CAP_MS'),
      maxAttempts: positive(env.DROVER_WEBHOOK_MAX_ATTEMPTS, 30, 'DROVER_WEBHOOK_MAX_ATTEMPTS'),
      pollMs: positive(env.DROVER_WEBHOOK_POLL_MS, 1000, 'DROVER_WEBHOOK_POLL_MS'),
      timeoutMs: positive(env.DROVER_WEBHOOK_TIMEOUT_MS, 10_000, 'DROVER_WEBHOOK_TIMEOUT_MS'),
    },
    restart: {
      backoffMs: positive(env.DROVER_RESTART_BACKOFF_MS, 1000, 'DROVER_RESTART_BACKOFF_MS'),
      backoffCapMs: positive(env.DROVER_RESTART_BACKOFF_CAP_MS, 60_000, 'DROVER_RESTART_BACKOFF_CAP_MS'),
      maxRetries: int(env.DROVER_RESTART_MAX_RETRIES, 5, 'DROVER_RESTART_MAX_RETRIES'),
      windowSeconds: positive(env.DROVER_RESTART_WINDOW_SECONDS, 600, 'DROVER_RESTART_WINDOW_SECONDS'),
    },
  };
}
