/**
 * @module
 * The agent protocol's shapes, shared by the server (`core/agent/`) and the host agent (`agent/`): command names,
 * a command as the agent sees it, how a command ends, and what an agent says about its host. Imports nothing, so
 * the agent program depends on this module alone.
 */

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
