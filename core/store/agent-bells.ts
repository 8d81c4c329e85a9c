/**
 * @module
 * Host agents' doorbell connections to the stage's agent WebSocket API (AWS): two small items per connection, one
 * under its host (`bell#<hostId>`, queried when a command is enqueued for the host) and one under its connection id
 * (`bellconn#<id>`, read at `$disconnect` and on keepalives, which API Gateway names by connection only). Kept until
 * the connection ends, is found gone, or outlives API Gateway's two-hour connection limit (`expiresAt`).
 */
import { CONNECTION_LIFETIME_SECONDS } from './connections.js';
import { keys } from './keys.js';
import { isExpired, type Store } from './store.js';

/** One doorbell connection of a host agent. */
export interface AgentBell {
  hostId: string;
  connectionId: string;
  /** Epoch ms. */
  connectedAt: number;
}

/**
 * Reads and writes doorbell connections.
 *
 * @example
 * const bells = new AgentBells(store);
 * await bells.add({ hostId: '1h1', connectionId: 'Ab1=', connectedAt: Date.now() });
 * (await bells.ofHost('1h1')).map((b) => b.connectionId) // ['Ab1=']
 */
export class AgentBells {
  constructor(private readonly store: Store) {}

  /**
   * Records a connection (at `$connect`): its host's item last, so a ring never finds a connection that
   * `$disconnect` could not trace back.
   *
   * @example
   * await bells.add({ hostId: '1h1', connectionId: 'Ab1=', connectedAt: Date.now() });
   */
  async add(b: AgentBell): Promise<void> {
    const expiresAt = Math.floor(b.connectedAt / 1000) + CONNECTION_LIFETIME_SECONDS;
    for (const key of [keys.agentBellConnection(b.connectionId), keys.agentBell(b.hostId, b.connectionId)]) {
      await this.store.write({ key, put: { pk: key.pk, sk: key.sk, ...b, expiresAt }, provenOld: null });
    }
  }

  /**
   * The host a connection belongs to, or `undefined` when it is not (or no longer) recorded.
   *
   * @example
   * const hostId = await bells.hostOf('Ab1=');
   */
  async hostOf(connectionId: string): Promise<string | undefined> {
    const item = await this.store.readItem(keys.agentBellConnection(connectionId));
    return item && !isExpired(item, Date.now()) ? (item.hostId as string) : undefined;
  }

  /**
   * The host's current connections (usually one; two for a moment while its agent reconnects).
   *
   * @example
   * for (const b of await bells.ofHost('1h1')) await poster.post(b.connectionId, ring);
   */
  async ofHost(hostId: string): Promise<AgentBell[]> {
    const now = Date.now();
    const key = keys.agentBell(hostId, '');
    const out: AgentBell[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': key.pk },
    });
    for await (const items of pages) {
      for (const item of items) {
        if (!isExpired(item, now)) out.push({ hostId, connectionId: item.connectionId as string, connectedAt: item.connectedAt as number });
      }
    }
    return out;
  }

  /**
   * Forgets a connection (at `$disconnect`, or found gone); one already forgotten is no error.
   *
   * @example
   * await bells.remove('Ab1=');
   * await bells.remove('Ab1=', '1h1'); // the host known: no read
   */
  async remove(connectionId: string, hostId?: string): Promise<void> {
    const host = hostId ?? (await this.hostOf(connectionId));
    if (host) await this.store.write({ key: keys.agentBell(host, connectionId), delete: true });
    await this.store.write({ key: keys.agentBellConnection(connectionId), delete: true });
  }
}
