/**
 * @module
 * What an idle host costs a month in AWS, by the agent channel's design (`docs/architecture.md`, "The agent doorbell
 * in AWS"): the requests an idle host makes (`idleHostRequests`) and their price at list prices (`idleHostCost`), for
 * the doorbell design and for plain polling, so the deploy guide's cost model can import the counts instead of
 * restating them. Pure arithmetic; nothing is measured here. The assumptions per request (reads, write units, Lambda
 * memory and duration) are estimates named in `PER_REQUEST`.
 */

/** Minutes in the month the costs are for (30 days). */
export const MONTH_MINUTES = 43_200;

/** List prices in USD (us-east-1) the cost model uses. */
export const PRICES = {
  wsConnectionMinute: 0.25 / 1e6,
  /** Per message of up to 32 KB, either way. */
  wsMessage: 1.0 / 1e6,
  httpApiRequest: 1.0 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  lambdaGbSecondX86: 0.0000166667,
  /** On-demand: one read unit is a strongly consistent read of up to 4 KB (an eventually consistent one is half). */
  dynamoReadUnit: 0.25 / 1e6,
  dynamoWriteUnit: 1.25 / 1e6,
} as const;

/**
 * What one request of each kind costs the stage beyond its own price (estimates): the functions' memory and warm
 * duration, the table's read and write units, and that every liveness stamp (a host write) wakes the table stream's
 * consumer once when the fleet is idle.
 */
export const PER_REQUEST = {
  /** The agent doorbell's route function: arm64, 256 MB, ~20 ms warm. */
  doorbellFunction: { gb: 0.25, seconds: 0.02, arm: true },
  /** The API function: x86, 1024 MB, ~30 ms warm for an empty poll. */
  apiFunction: { gb: 1, seconds: 0.03, arm: false },
  /** The stream consumer: x86, 1024 MB, ~50 ms for a batch of one quiet change. */
  streamConsumer: { gb: 1, seconds: 0.05, arm: false },
  /** An empty poll reads the access key, the key's resource, the host's commands (strongly consistent, small items). */
  pollReadUnits: 5,
  /** A keepalive reads the connection's item. */
  keepaliveReadUnits: 1,
  /** `$connect` authenticates (access key and its resource); `$disconnect` reads the connection's item. */
  connectReadUnits: 2,
  disconnectReadUnits: 1,
  /** A liveness stamp rewrites the host item (up to 2 KB). */
  stampWriteUnits: 2,
  /** Recording or forgetting a connection writes its two items. */
  bellWriteUnits: 2,
} as const;

/** How an idle host's agent talks to the stage. */
export type ChannelDesign =
  | { kind: 'doorbell'; keepaliveSeconds: number; fallbackPollSeconds: number; connectionHours?: number }
  | { kind: 'polling'; pollSeconds: number };

/** An idle host's requests in a month, by kind. */
export interface IdleHostRequests {
  wsConnectionMinutes: number;
  /** Keepalives (agent → API Gateway); an idle host is never rung. */
  wsMessages: number;
  /** `$connect` and `$disconnect` (one each per reconnect) and keepalives: invocations of the doorbell function. */
  doorbellInvocations: number;
  /** Polls over the HTTP API: fallback polls, and one when the doorbell opens and one when it closes. */
  polls: number;
  /** Host writes that stamp liveness (each also wakes the stream consumer). */
  livenessStamps: number;
  reconnects: number;
}

/**
 * The requests an idle host makes in a month.
 *
 * @example
 * idleHostRequests({ kind: 'doorbell', keepaliveSeconds: 300, fallbackPollSeconds: 900 }).polls // 3600
 * idleHostRequests({ kind: 'polling', pollSeconds: 5 }).polls // 518400
 */
export function idleHostRequests(design: ChannelDesign): IdleHostRequests {
  const seconds = MONTH_MINUTES * 60;
  if (design.kind === 'polling') {
    const polls = seconds / design.pollSeconds;
    return { wsConnectionMinutes: 0, wsMessages: 0, doorbellInvocations: 0, polls, livenessStamps: polls, reconnects: 0 };
  }
  // API Gateway closes a connection after two hours: the agent reconnects, polling when it closes and when it opens.
  const reconnects = MONTH_MINUTES / 60 / (design.connectionHours ?? 2);
  const keepalives = seconds / design.keepaliveSeconds;
  const polls = seconds / design.fallbackPollSeconds + 2 * reconnects;
  return {
    wsConnectionMinutes: MONTH_MINUTES,
    wsMessages: keepalives,
    doorbellInvocations: keepalives + 2 * reconnects,
    polls,
    // Keepalives, polls (a Lambda container rarely saw the host in the last 5 s) and each $connect stamp.
    livenessStamps: keepalives + polls + reconnects,
    reconnects,
  };
}

/** An idle host's monthly cost in USD, by item, and the total. */
export interface IdleHostCost {
  connectionMinutes: number;
  messages: number;
  doorbellFunction: number;
  httpApi: number;
  apiFunction: number;
  reads: number;
  writes: number;
  streamConsumer: number;
  total: number;
}

const lambda = (n: number, f: { gb: number; seconds: number; arm: boolean }) =>
  n * PRICES.lambdaRequest + n * f.gb * f.seconds * (f.arm ? PRICES.lambdaGbSecondArm : PRICES.lambdaGbSecondX86);

/**
 * What an idle host costs a month, at `PRICES` with the estimates of `PER_REQUEST`.
 *
 * @example
 * idleHostCost({ kind: 'doorbell', keepaliveSeconds: 300, fallbackPollSeconds: 900 }).total // ≈ 0.081
 * idleHostCost({ kind: 'polling', pollSeconds: 5 }).total // ≈ 3.4
 */
export function idleHostCost(design: ChannelDesign): IdleHostCost {
  const r = idleHostRequests(design);
  const p = PER_REQUEST;
  const reads = r.polls * p.pollReadUnits + (r.wsMessages * p.keepaliveReadUnits) + r.reconnects * (p.connectReadUnits + p.disconnectReadUnits);
  const writes = r.livenessStamps * p.stampWriteUnits + r.reconnects * 2 * p.bellWriteUnits;
  const cost = {
    connectionMinutes: r.wsConnectionMinutes * PRICES.wsConnectionMinute,
    messages: r.wsMessages * PRICES.wsMessage,
    doorbellFunction: lambda(r.doorbellInvocations, p.doorbellFunction),
    httpApi: r.polls * PRICES.httpApiRequest,
    apiFunction: lambda(r.polls, p.apiFunction),
    reads: reads * PRICES.dynamoReadUnit,
    writes: writes * PRICES.dynamoWriteUnit,
    streamConsumer: lambda(r.livenessStamps, p.streamConsumer),
  };
  return { ...cost, total: Object.values(cost).reduce((a, b) => a + b, 0) };
}

/** The stage's defaults (`DROVER_AGENT_KEEPALIVE_SECONDS` 300, `DROVER_AGENT_FALLBACK_POLL_SECONDS` 900). */
export const DEFAULT_DOORBELL: ChannelDesign = { kind: 'doorbell', keepaliveSeconds: 300, fallbackPollSeconds: 900 };

/** The target of issue 10: an idle host, liveness included, at most this a month (USD). */
export const IDLE_HOST_TARGET_USD = 0.1;
