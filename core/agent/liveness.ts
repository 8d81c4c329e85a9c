/**
 * @module
 * Stamping a host's liveness (`agentSeenAt`) when its agent is heard from: one atomic write, no read, at most once
 * per interval per host from one process. Both the `/agent` routes (every request) and the AWS doorbell (its
 * `$connect` and keepalives) stamp through it. Where agents are woken by a doorbell and check in only every
 * `checkInSeconds`, the stamp carries that too (`agentCheckInSeconds`), so `agentState` waits that long before
 * calling the host offline (`core/domain/hosts.ts`).
 */
import type { Store } from '../store/store.js';

export interface LivenessOptions {
  /** Least time between two stamps of one host from this process (default 5000 ms). */
  intervalMs?: number;
  /** How often agents are asked to check in at the least (the doorbell's keepalive), recorded with each stamp. */
  checkInSeconds?: number;
  now?: () => number;
}

/**
 * Stamps hosts' `agentSeenAt`.
 *
 * @example
 * const liveness = new Liveness(store, { checkInSeconds: 300 });
 * await liveness.stamp('1h1');
 */
export class Liveness {
  private readonly lastSeen = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly opts: LivenessOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Stamps the host unless this process did less than the interval ago. It bumps `version`, so a
   * read-modify-write of the host that raced it retries instead of writing an older `agentSeenAt` back.
   *
   * @example
   * await liveness.stamp(agent.hostId);
   */
  async stamp(hostId: string): Promise<void> {
    const t = this.now();
    if (t - (this.lastSeen.get(hostId) ?? 0) < this.intervalMs) return;
    this.lastSeen.set(hostId, t);
    if (this.lastSeen.size > 10_000) this.lastSeen.clear();
    const checkIn = this.opts.checkInSeconds;
    let stamped;
    try {
      stamped = await this.store.updateFields(hostId, { set: { agentSeenAt: t, ...(checkIn ? { agentCheckInSeconds: checkIn } : {}) } });
    } finally {
      if (!stamped) this.lastSeen.delete(hostId);
    }
  }

  /**
   * Notes a stamp written elsewhere (registration writes `agentSeenAt` itself).
   *
   * @example
   * liveness.noteSeen(reg.hostId);
   */
  noteSeen(hostId: string): void {
    this.lastSeen.set(hostId, this.now());
  }
}
