/**
 * @module
 * The clients subscribed to `/v1/subscribe` through the stage's WebSocket API (AWS): one item per API Gateway
 * connection, with what it asked for and whether it is live yet, kept until it disconnects, is found gone, or
 * outlives API Gateway's two-hour connection limit (`expiresAt`). Written through `Store.write`.
 */
import { cond } from './expression.js';
import { keys, STREAM_CONNECTIONS_PARTITION } from './keys.js';
import { isExpired, type Store } from './store.js';

/** One subscriber connected through API Gateway. */
export interface StreamConnection {
  connectionId: string;
  /** The project it sees, or `null` for every project (the admin without one). */
  projectId: string | null;
  /** The caller's role: what it may see and how resources are rendered to it. */
  role: string;
  /** Filters it asked for (empty: all). */
  resourceTypes: string[];
  resourceIds: string[];
  /**
   * Whether the stream consumer sends it live events. A new connection is not live until the consumer has sent
   * it what it missed since `cursor` (API Gateway takes no message for a connection before `$connect` returns).
   */
  live: boolean;
  /** Replay from after this event id: the client's `lastEventId`, or the first id of the time it connected. */
  cursor: string;
  /** Whether `cursor` is the client's own `lastEventId` (a resume, which replays with an overlap). */
  resuming: boolean;
  /** Epoch ms. */
  connectedAt: number;
}

/** API Gateway closes a WebSocket connection after two hours; the item is kept a little longer, then expires. */
export const CONNECTION_LIFETIME_SECONDS = 2 * 3600 + 300;

/**
 * Reads and writes the WebSocket API's connections.
 *
 * @example
 * const connections = new StreamConnections(store);
 * await connections.add({ connectionId: 'Ab1=', projectId: '1a1', role: 'project', resourceTypes: [], resourceIds: [], live: false, cursor, connectedAt: Date.now() });
 */
export class StreamConnections {
  constructor(private readonly store: Store) {}

  /**
   * Records a connection (at `$connect`).
   *
   * @example
   * await connections.add(connection);
   */
  async add(c: StreamConnection): Promise<void> {
    const key = keys.streamConnection(c.connectionId);
    const expiresAt = Math.floor(c.connectedAt / 1000) + CONNECTION_LIFETIME_SECONDS;
    await this.store.write({ key, put: { pk: key.pk, sk: key.sk, ...c, expiresAt }, provenOld: null });
  }

  /**
   * Forgets a connection (at `$disconnect`, or found gone); one already forgotten is no error.
   *
   * @example
   * await connections.remove('Ab1=');
   */
  async remove(connectionId: string): Promise<void> {
    await this.store.write({ key: keys.streamConnection(connectionId), delete: true });
  }

  /**
   * Marks a connection live once what it missed is sent, unless it has gone meanwhile (then `false`).
   *
   * @example
   * if (!(await connections.goLive('Ab1=', lastSentId))) return;
   */
  async goLive(connectionId: string, cursor: string): Promise<boolean> {
    const written = await this.store.write({
      key: keys.streamConnection(connectionId),
      update: { set: { live: true, cursor } },
      condition: cond.exists('pk'),
    });
    return !!written;
  }

  /**
   * Every current connection.
   *
   * @example
   * for (const c of await connections.all()) if (c.live) await post(c.connectionId, message);
   */
  async all(): Promise<StreamConnection[]> {
    const now = Date.now();
    const out: StreamConnection[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': STREAM_CONNECTIONS_PARTITION },
    });
    for await (const items of pages) for (const item of items) if (!isExpired(item, now)) out.push(toConnection(item));
    return out;
  }
}

/**
 * The connection a stored item (or a stream record's image of one) holds.
 *
 * @example
 * const added = change.newImage && !change.oldImage ? toConnection(change.newImage) : undefined;
 */
export function toConnection(item: Record<string, unknown>): StreamConnection {
  const { pk: _pk, sk: _sk, expiresAt: _exp, version: _v, ...c } = item;
  return c as unknown as StreamConnection;
}
