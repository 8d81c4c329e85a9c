/**
 * @module
 * The agent protocol's shapes, shared by the server (`core/agent/`) and the host agent (`agent/`): command names,
 * a command as the agent sees it, how a command ends, what an agent says about its host, and the host-access tokens
 * its access server verifies. Imports nothing of Drover's (only Node's crypto), so the agent program depends on this
 * module alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Names of host commands, as cattle named the agent events. */
export type HostCommandName = 'compute.instance.activate' | 'compute.instance.deactivate' | 'compute.instance.remove';

export type CommandStatus = 'pending' | 'acked' | 'done';

/** Longest progress message an agent may send (characters). */
export const PROGRESS_MESSAGE_MAX = 1024;

/** Longest error an agent may complete a command with (characters): Step Functions' limit on a failure's cause. */
export const COMMAND_ERROR_MAX = 32_768;

/** How a command ended, as the agent reported it: a result (success) or an error message. */
export type CommandOutcome = { result: Record<string, unknown> } | { error: string };

/** A command as an agent sees it: no task token, the deadline as seconds remaining (agent clocks may be off). */
export interface AgentCommand {
  id: string;
  hostId: string;
  name: HostCommandName;
  /** The process the command serves (`start`, `stop`, `restart`, `migrate`, `purge`). */
  action: string;
  resourceId: string;
  actionId: string;
  /** A snapshot of the instance: everything the agent needs. */
  data: Record<string, unknown>;
  /** Process input the agent honours, e.g. `{ timeout }` of a stop. */
  processData: Record<string, unknown>;
  heartbeatSeconds: number;
  timeoutSeconds: number;
  status: CommandStatus;
  /** Epoch ms. */
  createdAt: number;
  secondsRemaining: number;
}

/**
 * Where a Lambda-hosted control plane rings its agents (the stage's agent WebSocket API), in every poll answer
 * (`GET /agent/commands` → `{ data, doorbell }`). An agent holds a WebSocket open to `url` (authenticated with its
 * host credential), polls at once when it receives `{ "ring": … }` and when it (re)connects, sends
 * `{ "action": "keepalive" }` every `keepaliveSeconds` (which also stamps its liveness), and otherwise polls only
 * every `fallbackPollSeconds`. Without a doorbell (the embedded stack) the agent long-polls as before.
 */
export interface Doorbell {
  url: string;
  keepaliveSeconds: number;
  fallbackPollSeconds: number;
}

/** The doorbell's ring, as posted to an agent's connection. */
export interface DoorbellRing {
  ring: { hostId: string };
}

/** What an agent says about its host when it registers. */
export interface HostFacts {
  /** Stable identity of the machine (the agent keeps it in its state file). */
  uuid: string;
  hostname: string;
  vcpu: number;
  memoryMb: number;
  labels: Record<string, string>;
  /** The driver that runs its instances (`sim`, `process`). */
  driver?: string;
  /**
   * The host-access kinds its access server serves (`execute`, `logs`, `proxy`, `console`); absent: the host serves
   * none of its own (the simulator), and the API offers what it always offered for the instance's kind.
   */
  capabilities?: AccessKind[];
  /** Where its access server is reached (`http://203.0.113.5:9345`, or `https://…` behind a TLS proxy). */
  accessUrl?: string;
  /** The address its instances are reached at (their `primaryIpAddress`). */
  address?: string;
  /** What the driver applies to each instance and what it cannot here, in words (`user: nobody`, `cgroups: …`). */
  sandbox?: Record<string, string>;
}

/**
 * A change in an instance's health, as the agent's checks saw it (`POST /agent/health`, `{ data: HealthReport[] }`).
 * The agent sends transitions only: `healthy` after `healthyThreshold` passing checks in a row, unhealthy after
 * `unhealthyThreshold` failing ones.
 */
export interface HealthReport {
  resourceId: string;
  healthy: boolean;
  /** Why, in a word or a line (`connection refused`, `HTTP 503`). */
  message?: string;
}

/** A running instance that stopped on its own (`POST /agent/exits`, `{ data: ExitReport[] }`). */
export interface ExitReport {
  resourceId: string;
  exitCode: number;
  message?: string;
}

/** Most reports in one `POST /agent/health` or `/agent/exits`. */
export const REPORTS_MAX = 100;

/** An instance's `healthCheck` as the agent reads it from a command's `data` (Rancher's `instanceHealthCheck`). */
export interface HealthCheckSpec {
  port: number;
  /** Milliseconds between checks (Rancher's default 2000). */
  interval?: number | null;
  /** Milliseconds a check may take (default 2000). */
  responseTimeout?: number | null;
  healthyThreshold?: number | null;
  unhealthyThreshold?: number | null;
  /** An HTTP request line (`GET /healthz HTTP/1.0`); without one the check is a TCP connect. */
  requestLine?: string | null;
  strategy?: 'none' | 'recreate' | 'recreateOnQuorum' | null;
}

/**
 * The kinds of host access a host may serve (cattle's handler actions on an instance), and the key each puts its
 * part of a token's payload under: `exec`, `logs`, `proxy`, `console` (spec §2.7).
 */
export const ACCESS_KINDS = { execute: 'exec', logs: 'logs', proxy: 'proxy', console: 'console' } as const;
export type AccessKind = keyof typeof ACCESS_KINDS;

/** The host access server's paths, one per kind, as cattle's host API named them. */
export const ACCESS_PATHS: Readonly<Record<AccessKind, string>> = {
  execute: '/v1/exec/',
  logs: '/v1/logs/',
  proxy: '/v1/container-proxy/',
  console: '/v1/console/',
};

/**
 * What a host-access token says (cattle's JWT payload): the host and instance it is bound to, its expiry, and under
 * exactly one kind's key (`exec`, `logs`, `proxy`, `console`) what to open.
 */
export interface AccessTokenPayload {
  hostUuid: string;
  hostId: string;
  resourceId: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  exec?: { AttachStdin: boolean; AttachStdout: boolean; Tty: boolean; Cmd: string[]; Container: string };
  logs?: { Container: string; Lines: number; Follow: boolean };
  proxy?: { Container: string; address: string; scheme: string };
  console?: { container: string };
}

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const hs256 = (key: string, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * An HS256 JWT over `payload` that expires in `ttlSeconds`, signed with a host's access key.
 *
 * @example
 * signAccessToken(hostAccessKey, { hostId: '1h1', resourceId: '1i5', logs: { Container: 'c', Lines: 10, Follow: false } }, 300)
 */
export function signAccessToken(key: string, payload: Record<string, unknown>, ttlSeconds: number, now = Date.now()): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ ...payload, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + ttlSeconds }));
  return `${header}.${body}.${b64url(hs256(key, `${header}.${body}`))}`;
}

/**
 * Verifies a token from `signAccessToken`: its payload, or `undefined` when it is malformed, forged (another key,
 * another algorithm, a changed payload) or expired.
 *
 * @example
 * const payload = verifyAccessToken(hostAccessKey, token);
 * if (!payload?.logs || payload.resourceId !== wanted) refuse();
 */
export function verifyAccessToken(key: string, token: string, now = Date.now()): AccessTokenPayload | undefined {
  const [header, body, sig, extra] = token.split('.');
  if (!header || !body || !sig || extra !== undefined) return undefined;
  const want = hs256(key, `${header}.${body}`);
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  try {
    if ((JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg !== 'HS256') return undefined;
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as AccessTokenPayload;
    return typeof payload.exp === 'number' && payload.exp * 1000 > now ? payload : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one kind a token grants (its payload holds exactly one kind's key), or `undefined`.
 *
 * @example
 * accessKindOf({ ..., logs: { Container: 'c', Lines: 10, Follow: true } }) // 'logs'
 */
export function accessKindOf(payload: AccessTokenPayload): AccessKind | undefined {
  const kinds = (Object.keys(ACCESS_KINDS) as AccessKind[]).filter((k) => payload[ACCESS_KINDS[k]] !== undefined);
  return kinds.length === 1 ? kinds[0] : undefined;
}
