/**
 * @module
 * Stamping a host's liveness (`agentSeenAt`) when its agent is heard from: one atomic write, no read, at most once
 * per interval per host from one process. Both the `/agent` routes (every request) and the AWS doorbell (its
 * `$connect` and `$disconnect`: a host is online while its doorbell is open, `core/domain/hosts.ts`) stamp through it.
 */
import type { Store } from '../store/store.js';

export interface LivenessOptions {
  /** Least time between two stamps of one host from this process (default 5000 ms). */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Stamps hosts' `agentSeenAt`.
 *
 * @example
 * const liveness = new Liveness(store, { intervalMs: 5000 });
 * await liveness.stamp('1h1');
 */
export class Liveness {
  private readonly lastSeen = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    opts: LivenessOptions = {},
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
    let stamped;
    try {
      stamped = await this.store.updateFields(hostId, { set: { agentSeenAt: t } });
    } finally {
      if (!stamped) this.lastSeen.delete(hostId);
    }
  }

  /**
   * Stamps the host as its doorbell opened (`openForMs`: how long it can stay open at most, API Gateway's connection
   * limit) or closed (`null`). While it is open the host is online (`isOnline`), so the keepalives that hold it open write
   * nothing: an idle host costs a stamp per connection, not per keepalive.
   *
   * @example
   * await liveness.doorbell('1h1', 2 * 3600_000); ... await liveness.doorbell('1h1', null);
   */
  async doorbell(hostId: string, openForMs: number | null): Promise<void> {
    const t = this.now();
    this.lastSeen.set(hostId, t);
    // Closed is 0, a time long past (the field cannot be removed by this write).
    await this.store.updateFields(hostId, { set: { agentSeenAt: t, agentConnectedUntil: openForMs === null ? 0 : t + openForMs } });
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
