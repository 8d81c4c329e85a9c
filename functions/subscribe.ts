/**
 * @module
 * Lambda entry points of the stage's WebSocket API, where `/v1/subscribe` clients connect in AWS: `$connect` goes
 * through the same Hono app as any request (authentication, project scope, filters, `lastEventId`) and is recorded;
 * `$disconnect` forgets it; the table stream's consumer does the sending (`core/events/websocket-gateway.ts`). `ping`
 * runs on a schedule.
 */
import type { GatewayConnectEnv } from '../core/api/subscribe.js';
import { connectionPosterOf } from '../core/events/api-gateway-poster.js';
import { adminSecretOf } from '../core/secrets/admin-secret.js';
import { stageDrover, type StageWiring } from './stage.js';

/**
 * The pinger posts to connections through the WebSocket stage's management API; `$connect` authenticates, so with
 * the admin key from the stage's secret.
 */
export const wiring: StageWiring = { connectionPoster: connectionPosterOf, adminKey: adminSecretOf };


/** An API Gateway WebSocket event (only what is read). */
interface WebSocketEvent {
  requestContext: { routeKey: string; connectionId: string; domainName?: string };
  headers?: Record<string, string | undefined>;
  multiValueQueryStringParameters?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
}

/** The `/v1/subscribe` request a `$connect` stands for. */
function subscribeRequest(event: WebSocketEvent): Request {
  const query = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) query.append(k, v);
  else for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query.append(k, v);
  const headers = new Headers();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers.set(k, v);
  return new Request(`https://${event.requestContext.domainName ?? 'localhost'}/v1/subscribe?${query}`, { headers });
}

/**
 * WebSocket API handler (routes `$connect`, `$disconnect`, `$default`). A refused `$connect` answers the API's error
 * (401, 404, 410 `EventsExpired`, ...), which API Gateway turns into a refused handshake.
 */
export const handler = async (event: WebSocketEvent) => {
  const drover = await stageDrover(wiring);
  const { routeKey, connectionId } = event.requestContext;
  if (routeKey === '$connect') {
    const env: GatewayConnectEnv = { websocketConnectionId: connectionId };
    const res = await drover.app.fetch(subscribeRequest(event), env);
    return { statusCode: res.status, body: await res.text() };
  }
  if (routeKey === '$disconnect') await drover.streamConnections.remove(connectionId);
  // `$default`: the stream takes no messages from its clients.
  return { statusCode: 200 };
};

/** Scheduled handler: pings every connection (and forgets those API Gateway reports gone). */
export const ping = async () => {
  const live = (await stageDrover(wiring)).live;
  return live ? live.ping() : { sent: 0, gone: 0 };
};
