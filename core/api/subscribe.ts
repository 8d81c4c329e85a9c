/**
 * @module
 * `GET /v1/subscribe?eventNames=resource.change`: the live event stream, over WebSocket or as Server-Sent Events,
 * filtered to the caller's project (the admin may pick one or see all) and by `resourceType`/`resourceId`, with
 * pings, and resume: a client that comes back with the last event id it saw (`lastEventId`, or SSE's `Last-Event-ID`) gets every
 * retained event after it, in order, then the live ones, with no gap and no duplicate.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { UpgradeWebSocket } from 'hono/ws';
import { wants, type EventFeed } from '../domain/events.js';
import type { Scope } from '../domain/service.js';
import { ApiError, statusError } from '../errors.js';
import { eventIdAt, eventIdTime, type StoredEvent } from '../store/events.js';
import type { StreamConnections } from '../store/connections.js';
import { toWireEvent } from './render.js';
import type { UrlBuilder } from './urls.js';

export interface EventStreamOptions {
  feed: EventFeed;
  /** Seconds between pings. */
  pingSeconds: number;
  /** Whether this process serves live streams (the embedded stack does; a Lambda cannot hold one open). */
  live: boolean;
  /** The server's WebSocket upgrade, where it has one (`@hono/node-server` locally; none on Lambda). */
  upgradeWebSocket?: UpgradeWebSocket;
  /** In AWS: the stage's WebSocket API (`wss://…`), where subscribers connect instead of here. */
  websocketUrl?: string;
  /**
   * In AWS, the WebSocket API's function: `$connect`s to record (the request's `c.env.websocketConnectionId`),
   * which the table stream's consumer then serves (`core/events/websocket-gateway.ts`).
   */
  connections?: StreamConnections;
}

/** What the WebSocket API's function hands the app with a `$connect` (`app.fetch(request, env)`). */
export interface GatewayConnectEnv {
  websocketConnectionId: string;
}

/** The one event name there is. */
const RESOURCE_CHANGE = 'resource.change';

/** Values of a query parameter given repeated or comma-separated. */
function listParam(url: URL, name: string): string[] {
  return url.searchParams.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** One event as a subscriber receives it: Rancher's `resource.change`, the resource rendered for the subscriber. */
type WireEvent = Record<string, unknown>;

/**
 * Serves one subscription: over WebSocket when the request asks to upgrade (the local stack; Rancher v1 served
 * events so), else as Server-Sent Events; in AWS, records a `$connect` of the stage's WebSocket API.
 *
 * @example
 * if (segments[0] === 'subscribe') return subscribe(c, opts.events, scope, url, urls);
 */
export async function subscribe(c: Context, opts: EventStreamOptions, scope: Scope, url: URL, urls: UrlBuilder): Promise<Response> {
  const names = listParam(url, 'eventNames');
  if (names.length && !names.includes(RESOURCE_CHANGE)) {
    throw new ApiError(422, 'InvalidOption', { fieldName: 'eventNames', message: `The stream carries ${RESOURCE_CHANGE} events only` });
  }
  const connectionId = (c.env as Partial<GatewayConnectEnv> | undefined)?.websocketConnectionId;
  if (connectionId && opts.connections) return connectThroughGateway(c, opts, opts.connections, connectionId, scope, url);
  if (!opts.live) {
    throw statusError(
      501,
      opts.websocketUrl
        ? `Subscribe through this stage's WebSocket API: ${opts.websocketUrl}?eventNames=${RESOURCE_CHANGE} (give projectId=<id> to pick a project)`
        : 'This deployment serves no live event stream; read events through its event bus',
    );
  }
  const websocket = c.req.header('upgrade')?.toLowerCase() === 'websocket';
  if (!websocket && !(c.req.header('accept') ?? '').includes('text/event-stream') && url.searchParams.get('transport') !== 'sse') {
    throw statusError(400, 'Subscribe over WebSocket, or with Accept: text/event-stream (Server-Sent Events)');
  }
  if (websocket && !opts.upgradeWebSocket) throw statusError(501, 'This server takes no WebSocket; subscribe with Accept: text/event-stream');
  const lastEventId = resumeFrom(c, url, opts);
  const sub = { opts, scope, urls, lastEventId, resourceTypes: listParam(url, 'resourceType'), resourceIds: listParam(url, 'resourceId') };

  if (websocket) {
    let close = () => {};
    const upgrade = opts.upgradeWebSocket!(() => ({
      onOpen: (_evt, ws) => {
        close = openSubscription(sub, {
          event: (e) => ws.send(JSON.stringify(e)),
          ping: () => ws.send(JSON.stringify({ name: 'ping' })),
          failed: () => ws.close(1011, 'event stream failed'),
        });
      },
      onClose: () => close(),
      onError: () => close(),
    }));
    return (await upgrade(c, async () => {})) as Response;
  }

  return streamSSE(c, async (stream) => {
    let writing: Promise<unknown> = Promise.resolve();
    const write = (msg: { id?: string; event: string; data: string }) => (writing = writing.then(() => stream.writeSSE(msg)));
    const ended = new Promise<void>((resolve) => stream.onAbort(resolve));
    const close = openSubscription(sub, {
      event: (e) => write({ id: e.id as string, event: RESOURCE_CHANGE, data: JSON.stringify(e) }),
      ping: () => write({ event: 'ping', data: JSON.stringify({ name: 'ping' }) }),
      failed: () => stream.abort(),
    });
    try {
      await ended;
    } finally {
      close();
    }
  });
}

/** The event id a client resumes after (`lastEventId`, or SSE's `Last-Event-ID`), checked still retained. */
function resumeFrom(c: Context, url: URL, opts: EventStreamOptions): string | undefined {
  const lastEventId = url.searchParams.get('lastEventId') ?? c.req.header('last-event-id') ?? undefined;
  if (lastEventId !== undefined) checkResumable(lastEventId, opts.feed.log.retentionSeconds);
  return lastEventId;
}

/**
 * A `$connect` of the stage's WebSocket API, authenticated and scoped like any request: recorded with what the
 * client asked for; the table stream's consumer sees it arrive, sends what the client missed, then live events.
 * Answering 200 lets API Gateway open the connection; an error refuses it.
 */
async function connectThroughGateway(c: Context, opts: EventStreamOptions, connections: StreamConnections, connectionId: string, scope: Scope, url: URL) {
  const lastEventId = resumeFrom(c, url, opts);
  const now = Date.now();
  await connections.add({
    connectionId,
    projectId: scope.projectId,
    role: scope.principal.role,
    resourceTypes: listParam(url, 'resourceType'),
    resourceIds: listParam(url, 'resourceId'),
    live: false,
    cursor: lastEventId ?? eventIdAt(now),
    resuming: lastEventId !== undefined,
    connectedAt: now,
  });
  return c.body(null, 200);
}

/** What a subscription asks for. */
interface SubscriptionRequest {
  opts: EventStreamOptions;
  scope: Scope;
  urls: UrlBuilder;
  lastEventId: string | undefined;
  resourceTypes: string[];
  resourceIds: string[];
}

/** Where a subscription's output goes, whatever carries it. */
interface SubscriptionSink {
  event(e: WireEvent): void;
  ping(): void;
  failed(): void;
}

/**
 * Starts a subscription: replays what the client missed (after `lastEventId`), then live events, in id order, each
 * once; a ping as soon as it is live, and pings meanwhile. Live events are held from before the replay's read, so none falls between the log and the
 * live feed. Returns the stop.
 */
function openSubscription(req: SubscriptionRequest, sink: SubscriptionSink): () => void {
  const { opts, scope } = req;
  const role = scope.principal.role;
  const filter = { projectId: scope.projectId, role, resourceTypes: req.resourceTypes, resourceIds: req.resourceIds };
  const wanted = (e: StoredEvent) => wants(filter, e);
  let sent = req.lastEventId;
  let live = false;
  const held: StoredEvent[] = [];
  const send = (e: StoredEvent) => {
    if (sent !== undefined && e.id <= sent) return; // replayed already
    sent = e.id;
    sink.event(toWireEvent(e, req.urls, role));
  };
  const off = opts.feed.subscribe((e) => {
    if (!wanted(e)) return;
    if (live) send(e);
    else held.push(e);
  });
  const ping = setInterval(() => sink.ping(), opts.pingSeconds * 1000);
  const stop = () => {
    off();
    clearInterval(ping);
  };
  (async () => {
    if (req.lastEventId !== undefined) for (const e of await opts.feed.missedSince(scope.projectId, req.lastEventId)) if (wanted(e)) send(e);
    for (const e of held) send(e);
    held.length = 0;
    live = true;
    // A ping at once says the subscription is live: a client (or a script) may now make the changes it watches.
    sink.ping();
  })().catch(() => {
    stop();
    sink.failed();
  });
  return stop;
}

/** A resume id must be an event id the log may still hold: an expired one cannot be resumed from. */
function checkResumable(id: string, retentionSeconds: number): void {
  const at = eventIdTime(id);
  if (at === null) throw new ApiError(400, 'InvalidFormat', { message: `Invalid event id ${JSON.stringify(id.slice(0, 64))}` });
  if (at < Date.now() - retentionSeconds * 1000) {
    throw new ApiError(410, 'EventsExpired', {
      message: `Events after ${id} are no longer kept (${retentionSeconds} s): list the resources again, then subscribe without lastEventId`,
    });
  }
}
