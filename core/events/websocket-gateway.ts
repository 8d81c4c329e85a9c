/**
 * @module
 * The live stream in AWS: `/v1/subscribe` clients hold connections to the stage's API Gateway WebSocket API
 * (recorded at `$connect` in `StreamConnections`), and the table stream's consumer pushes to them. A connection it
 * sees arrive is first sent what its client missed (the log after its cursor), then marked live; every event the
 * consumer logs is then posted to each live connection that wants it, in log order per connection. A connection
 * API Gateway reports gone is forgotten; one that cannot be written to is closed, so its client comes back with
 * its last event id and loses nothing.
 *
 *   $connect ─▶ app: authenticate, record { filter, cursor, live: false }
 *   table stream ─▶ consumer ─▶ connection added: replay after cursor ─▶ live: true ─▶ replay again (the gap)
 *                            └▶ events appended: post to live connections (PostToConnection)
 *   schedule ─▶ ping every connection (clients tell a quiet stream from a dead one; API Gateway's idle limit)
 */
import { wants, type EventFeed } from '../domain/events.js';
import type { Role } from '../schema/registry.js';
import type { Change } from '../store/changes.js';
import { toConnection, type StreamConnection, type StreamConnections } from '../store/connections.js';
import type { StoredEvent } from '../store/events.js';

/** What a connection can be told, through API Gateway's management API (`ApiGatewayPoster`, `./api-gateway-poster.ts`). */
export interface ConnectionPoster {
  /** Sends one message; `'gone'` when API Gateway has no such connection (yet, or any more). */
  post(connectionId: string, data: string): Promise<'sent' | 'gone'>;
  /** Closes a connection. */
  close(connectionId: string): Promise<void>;
}

/** How long a connection that is not live yet is left alone by pings (its `$connect` may still be answering). */
const OPENING_GRACE_MS = 60_000;

/** API Gateway refuses messages over 128 KB; an event larger than this goes without its resource. */
const MAX_MESSAGE_BYTES = 120 * 1024;

export interface WebSocketFanOutDeps {
  connections: StreamConnections;
  feed: EventFeed;
  poster: ConnectionPoster;
  /** An event as a subscriber of `role` receives it (`toWireEvent` with the API's URLs). */
  render: (e: StoredEvent, role: Role) => Record<string, unknown>;
  /** How far before a resuming client's last id its replay starts (concurrent shard consumers; see `missedSince`). */
  resumeOverlapMs: number;
  /** Tries (and the wait before each, ms) at a connection API Gateway has not opened yet. Default 6 tries from 100 ms. */
  openRetries?: { tries: number; firstWaitMs: number };
  logError?: (err: unknown) => void;
}

/**
 * Pushes the consumer's events to WebSocket API connections. Fed per stream batch (`observe` every change, `add`
 * every logged event, through the feed's `subscribe`), then `settled()` does the posting.
 *
 * @example
 * const fanOut = new WebSocketFanOut({ connections, feed, poster, render, resumeOverlapMs: 5000 });
 * const off = feed.subscribe((e) => fanOut.add(e));
 * for (const c of changes) { feed.consume(c); fanOut.observe(c); }
 * await feed.settled(); await fanOut.settled();
 */
export class WebSocketFanOut {
  private arrived: StreamConnection[] = [];
  private events: StoredEvent[] = [];
  private readonly logError: (err: unknown) => void;

  constructor(private readonly deps: WebSocketFanOutDeps) {
    this.logError = deps.logError ?? ((e) => console.error('websocket fan-out:', e));
  }

  /** Notes a connection that has just been recorded (a stream record of its insert). */
  observe(change: Change): void {
    if (change.kind === 'streamConnection' && change.newImage && !change.oldImage) this.arrived.push(toConnection(change.newImage));
  }

  /** Notes an event the feed has logged. */
  add(e: StoredEvent): void {
    this.events.push(e);
  }

  /**
   * Sends what was noted since the last call: replays to connections that arrived, then the events to every live
   * connection that wants them. Resolves when all is posted (failures close the connection, never the batch).
   *
   * @example
   * await fanOut.settled();
   */
  async settled(): Promise<void> {
    const [arrived, events] = [this.arrived, this.events];
    this.arrived = [];
    this.events = [];
    const replaying = new Set(arrived.map((c) => c.connectionId));
    await Promise.all(arrived.map((c) => this.open(c)));
    if (!events.length) return;
    const live = (await this.deps.connections.all()).filter((c) => c.live && !replaying.has(c.connectionId));
    await Promise.all(live.map((c) => this.deliver(c, wantedBy(c, events))));
  }

  /**
   * Sends a ping to every connection, forgetting those API Gateway reports gone (a scheduled function calls this).
   *
   * @example
   * await fanOut.ping(); // { sent: 3, gone: 1 }
   */
  async ping(): Promise<{ sent: number; gone: number }> {
    let sent = 0;
    let gone = 0;
    // A connection not live yet may still be opening (its `$connect` not answered): a post would find it gone and
    // forget it. One the consumer never opened is pruned once it is surely stale.
    const now = Date.now();
    const due = (await this.deps.connections.all()).filter((c) => c.live || now - c.connectedAt > OPENING_GRACE_MS);
    await Promise.all(
      due.map(async (c) => {
        if ((await this.send(c, JSON.stringify({ name: 'ping' }))) === 'sent') sent++;
        else gone++;
      }),
    );
    return { sent, gone };
  }

  /** Replays what a new connection missed, marks it live, then sends what was logged while it was not. */
  private async open(c: StreamConnection): Promise<void> {
    const { tries, firstWaitMs } = this.deps.openRetries ?? { tries: 6, firstWaitMs: 100 };
    const overlapMs = c.resuming ? this.deps.resumeOverlapMs : 0;
    try {
      const missed = wantedBy(c, await this.deps.feed.missedSince(c.projectId, c.cursor, { overlapMs }));
      // API Gateway opens the connection once `$connect` has answered: until then a post finds it gone.
      let opened = false;
      for (let i = 0; i < tries && !opened; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, firstWaitMs * 2 ** (i - 1)));
        opened = (await this.deps.poster.post(c.connectionId, JSON.stringify({ name: 'ping' }))) === 'sent';
      }
      if (!opened) return void (await this.deps.connections.remove(c.connectionId));
      let cursor = await this.deliver(c, missed, c.cursor);
      if (cursor === undefined || !(await this.deps.connections.goLive(c.connectionId, cursor))) return;
      // Events logged between the read above and going live were passed over by the fan-out: send them now.
      const between = wantedBy(c, await this.deps.feed.missedSince(c.projectId, cursor));
      cursor = await this.deliver(c, between, cursor);
    } catch (e) {
      this.logError(e);
      await this.drop(c);
    }
  }

  /** Posts events to one connection in order; answers the last id sent, or `undefined` when it is gone or dropped. */
  private async deliver(c: StreamConnection, events: StoredEvent[], cursor?: string): Promise<string | undefined> {
    let last = cursor;
    for (const e of events) {
      if ((await this.send(c, this.message(e, c.role as Role))) !== 'sent') return undefined;
      last = e.id;
    }
    return last;
  }

  /** One post; a gone connection is forgotten, one that fails otherwise is closed (its client resumes). */
  private async send(c: StreamConnection, data: string): Promise<'sent' | 'gone'> {
    try {
      if ((await this.deps.poster.post(c.connectionId, data)) === 'sent') return 'sent';
      await this.deps.connections.remove(c.connectionId);
    } catch (e) {
      this.logError(e);
      await this.drop(c);
    }
    return 'gone';
  }

  private async drop(c: StreamConnection): Promise<void> {
    await Promise.allSettled([this.deps.poster.close(c.connectionId), this.deps.connections.remove(c.connectionId)]);
  }

  private message(e: StoredEvent, role: Role): string {
    const wire = this.deps.render(e, role);
    const data = JSON.stringify(wire);
    if (Buffer.byteLength(data) <= MAX_MESSAGE_BYTES) return data;
    // Too large for API Gateway: the event without its resource, which the client reads by its id.
    return JSON.stringify({ ...wire, data: {}, resourceOmitted: true });
  }
}

/** The events a connection asked for and may see. */
function wantedBy(c: StreamConnection, events: StoredEvent[]): StoredEvent[] {
  const filter = { projectId: c.projectId, role: c.role as Role, resourceTypes: c.resourceTypes, resourceIds: c.resourceIds };
  return events.filter((e) => wants(filter, e));
}
