/**
 * @module
 * API Gateway's WebSocket API played by a local server, for the agent doorbell's tests (API Gateway has no local
 * engine): a node `ws` server takes the agents' connections and hands the function the events API Gateway would
 * (`$connect` with the handshake's headers, which refuses the handshake unless it answers 200; `$default` per
 * message; `$disconnect`), and the same port answers the management API's wire protocol (`POST`/`DELETE
 * /@connections/{id}`, 410 `GoneException` for a connection it does not hold), which the real SDK client reaches.
 */
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

/** What the management API answers one request with: a post taken, a connection gone, or another refusal. */
export type ManagementAnswer = 'ok' | 'gone' | { status: number; errorType: string };

/** One request to the management API: `POST` (a post, with its body) or `DELETE` (a close). */
export interface ManagementRequest {
  method: 'POST' | 'DELETE';
  connectionId: string;
  body: string;
}

/**
 * An HTTP server speaking API Gateway's management API (`POST`/`DELETE /@connections/{id}`, errors as
 * `x-amzn-errortype`), answering each request with `answer`. Returns the server (listen on it yourself) for
 * `startLocalGateway`, and for tests that drive the WebSocket API's functions with events and need only this side.
 *
 * @example
 * const server = managementApi(({ connectionId, body }) => (open.has(connectionId) ? (posts.push(body), 'ok') : 'gone'));
 */
export function managementApi(answer: (req: ManagementRequest) => ManagementAnswer): Server {
  return createServer((req, res) => {
    const connectionId = decodeURIComponent((req.url ?? '').replace(/^\/@connections\//, ''));
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const method = req.method === 'DELETE' ? 'DELETE' : 'POST';
      const out = answer({ method, connectionId, body });
      if (out === 'ok') return res.writeHead(method === 'DELETE' ? 204 : 200).end();
      const [status, errorType] = out === 'gone' ? [410, 'GoneException'] : [out.status, out.errorType];
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': errorType }).end('{"message":null}');
    });
  });
}

/**
 * Starts a management API stand-in on a loopback port; answers its endpoint and a close.
 *
 * @example
 * const mgmt = await listenManagementApi(() => 'ok'); process.env.DROVER_WEBSOCKET_ENDPOINT = mgmt.endpoint;
 */
export async function listenManagementApi(answer: (req: ManagementRequest) => ManagementAnswer): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = managementApi(answer);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/** What the WebSocket API's function takes and answers (`AgentDoorbell.handle`, `functions/agent-doorbell.ts`). */
export type GatewayHandler = (event: {
  requestContext: { routeKey: string; connectionId: string };
  headers?: Record<string, string | undefined>;
  body?: string | null;
}) => Promise<{ statusCode: number }>;

/** The local stand-in: its URLs, its connections, and switches to lose posts or drop connections. */
export interface LocalGateway {
  /** `ws://…`: where agents connect. */
  url: string;
  /** `http://…`: the management endpoint. */
  endpoint: string;
  /** Open connections by id. */
  sockets: Map<string, WebSocket>;
  /** Every post the management API took, in order. */
  posts: { connectionId: string; data: string }[];
  /** When set, posts are answered 200 and not delivered (a ring lost on the way). */
  mute: boolean;
  /** Closes every connection, as API Gateway does after two hours. */
  dropAll(): void;
  close(): Promise<void>;
}

/**
 * Starts the stand-in on a loopback port.
 *
 * @example
 * const gw = await startLocalGateway((event) => drover.doorbell.handle(event));
 * process.env.DROVER_AGENT_DOORBELL_URL = gw.url;
 */
export async function startLocalGateway(handler: GatewayHandler): Promise<LocalGateway> {
  const sockets = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  // The function's invocations still under way: `close()` waits for them (a `$disconnect` writes to the store, which
  // the test closes next).
  const invocations = new Set<Promise<unknown>>();
  const invoke: GatewayHandler = (event) => {
    const run = handler(event);
    invocations.add(run);
    void run.catch(() => {}).finally(() => invocations.delete(run));
    return run;
  };
  let allClosed: (() => void) | undefined;
  const server: Server = managementApi(({ method, connectionId, body }) => {
    const ws = sockets.get(connectionId);
    if (!ws) return 'gone';
    if (method === 'DELETE') {
      ws.close();
      return 'ok';
    }
    gw.posts.push({ connectionId, data: body });
    if (!gw.mute) ws.send(body);
    return 'ok';
  });
  server.on('upgrade', async (req, socket, head) => {
    const connectionId = `${randomBytes(9).toString('base64url')}=`; // shaped like API Gateway's ids
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
    const out = await invoke({ requestContext: { routeKey: '$connect', connectionId }, headers });
    if (out.statusCode !== 200) {
      socket.end(`HTTP/1.1 ${out.statusCode} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.set(connectionId, ws);
      ws.on('message', (data) => void invoke({ requestContext: { routeKey: '$default', connectionId }, body: data.toString() }).catch(() => {}));
      ws.on('close', () => {
        sockets.delete(connectionId);
        void invoke({ requestContext: { routeKey: '$disconnect', connectionId } }).catch(() => {});
        if (sockets.size === 0) allClosed?.();
      });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  const gw: LocalGateway = {
    url: `ws://127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}`,
    sockets,
    posts: [],
    mute: false,
    dropAll: () => {
      for (const ws of sockets.values()) ws.terminate();
    },
    close: async () => {
      const closed = sockets.size ? new Promise<void>((ok) => (allClosed = ok)) : Promise.resolve();
      for (const ws of sockets.values()) ws.terminate();
      await closed;
      while (invocations.size) await Promise.allSettled([...invocations]);
      wss.close();
      await new Promise((ok) => server.close(ok));
    },
  };
  return gw;
}
