/**
 * @module
 * The agent doorbell in AWS: host agents hold a WebSocket open to the stage's agent WebSocket API, and when a
 * command is enqueued for a host the outbox rings that host's connections with `{"ring":{"hostId"}}` through API
 * Gateway's management API. The ring carries no command: the agent polls `/agent/commands` over HTTPS, so commands
 * still travel through the durable outbox, and a lost ring costs only latency (the agent's fallback poll, and the
 * poll it makes on every (re)connect, find the command anyway).
 *
 *   $connect (Authorization: the host's Basic credential) ─▶ authenticate as /agent does ─▶ record per host, stamp liveness
 *   $default {"action":"keepalive"} (every keepaliveSeconds, under API Gateway's 10-minute idle limit) ─▶ nothing
 *   $disconnect ─▶ forget
 *   Outbox.enqueue ─▶ ring(hostId) ─▶ PostToConnection each of the host's connections (gone: forget it)
 */
import { ApiError } from '../errors.js';
import type { Authenticator } from '../domain/credentials.js';
import type { AgentBells } from '../store/agent-bells.js';
import type { Liveness } from './liveness.js';
import { CONNECTION_LIFETIME_SECONDS } from '../store/connections.js';
import type { DoorbellRing } from './protocol.js';

/** What posts to a connection: API Gateway's management API (`ApiGatewayPoster` in `core/events/api-gateway-poster.ts`). */
export interface RingPoster {
  /** Sends one message; `'gone'` when API Gateway has no such connection. */
  post(connectionId: string, data: string): Promise<'sent' | 'gone'>;
}

export interface AgentDoorbellDeps {
  bells: AgentBells;
  auth: Authenticator;
  /** Stamps liveness as connections open and close. */
  liveness: Liveness;
  /** API Gateway's management API of the agent WebSocket API; without one, `ring` does nothing. */
  poster?: RingPoster;
  logError?: (err: unknown) => void;
  now?: () => number;
}

/** An API Gateway WebSocket event, as the agent WebSocket API's function gets it (only what is read). */
export interface DoorbellEvent {
  requestContext: { routeKey: string; connectionId: string };
  headers?: Record<string, string | undefined>;
  body?: string | null;
}

/**
 * The doorbell: connections in, rings out.
 *
 * @example
 * const doorbell = new AgentDoorbell({ bells: new AgentBells(store), auth, liveness, poster });
 * await doorbell.ring('1h1'); // after a command for host 1h1 is stored
 */
export class AgentDoorbell {
  private readonly logError: (err: unknown) => void;
  private readonly now: () => number;

  constructor(private readonly deps: AgentDoorbellDeps) {
    this.logError = deps.logError ?? ((e) => console.error('agent doorbell:', e));
    this.now = deps.now ?? Date.now;
  }

  /**
   * Accepts a connection from the agent whose host credential is `authorization` (the check `/agent` routes make),
   * records it under its host and stamps the host's liveness. Throws the API's 401 otherwise.
   *
   * @example
   * const hostId = await doorbell.connect('Ab1=', 'Basic QUs6U0s=');
   */
  async connect(connectionId: string, authorization: string | undefined): Promise<string> {
    const agent = await this.deps.auth.authenticate(authorization, ['agent']);
    const hostId = agent.hostId!;
    await this.deps.bells.add({ hostId, connectionId, connectedAt: this.now() });
    // Online while connected, for API Gateway's connection limit at most (a lost `$disconnect` cannot keep it so).
    await this.deps.liveness.doorbell(hostId, CONNECTION_LIFETIME_SECONDS * 1000);
    return hostId;
  }

  /**
   * Forgets a connection (`$disconnect`); the host's last one closing leaves its liveness to its polls again.
   *
   * @example
   * await doorbell.disconnect('Ab1=');
   */
  async disconnect(connectionId: string): Promise<void> {
    const hostId = await this.deps.bells.hostOf(connectionId);
    if (!hostId) return;
    await this.deps.bells.remove(connectionId, hostId);
    // A reconnect's new connection may have opened before the old one's `$disconnect` came.
    if (!(await this.deps.bells.ofHost(hostId)).length) await this.deps.liveness.doorbell(hostId, null);
  }

  /**
   * Rings the host's connections, best effort: never throws (a lost ring is covered by the agent's fallback poll);
   * a connection API Gateway reports gone is forgotten. Answers how many were rung.
   *
   * @example
   * await doorbell.ring('1h1'); // 1
   */
  async ring(hostId: string): Promise<number> {
    const poster = this.deps.poster;
    if (!poster) return 0;
    const message: DoorbellRing = { ring: { hostId } };
    try {
      const sent = await Promise.all(
        (await this.deps.bells.ofHost(hostId)).map(async (b) => {
          try {
            if ((await poster.post(b.connectionId, JSON.stringify(message))) === 'sent') return 1;
            await this.deps.bells.remove(b.connectionId, hostId);
          } catch (e) {
            this.logError(e);
          }
          return 0;
        }),
      );
      return sent.reduce<number>((a, b) => a + b, 0);
    } catch (e) {
      this.logError(e);
      return 0;
    }
  }

  /**
   * Serves one event of the agent WebSocket API (routes `$connect`, `$disconnect`, `$default`). A refused
   * `$connect` answers 401, which API Gateway turns into a refused handshake.
   *
   * @example
   * export const handler = async (event) => (await stageDrover()).doorbell.handle(event);
   */
  async handle(event: DoorbellEvent): Promise<{ statusCode: number; body?: string }> {
    const { routeKey, connectionId } = event.requestContext;
    if (routeKey === '$connect') {
      const authorization = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
      try {
        await this.connect(connectionId, authorization);
      } catch (e) {
        if (e instanceof ApiError) return { statusCode: e.status, body: JSON.stringify({ message: e.message }) };
        throw e;
      }
      return { statusCode: 200 };
    }
    if (routeKey === '$disconnect') {
      await this.disconnect(connectionId);
      return { statusCode: 200 };
    }
    // `$default`: the keepalive, which only keeps API Gateway from closing an idle connection: nothing to read or
    // write (the host is online while its doorbell is open).
    return { statusCode: 200 };
  }
}
