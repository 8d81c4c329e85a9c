/**
 * @module
 * Runs dynalite, a DynamoDB-wire-compatible server on LevelDB, in this process on a loopback port. With a
 * path it persists there; without one it keeps everything in memory (tests).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import dynalite from 'dynalite';
import { dynamoClient, type StoreClient } from '../store/connect.js';

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/** dynalite with a store client talking to it. */
export interface EmbeddedClient {
  client: StoreClient;
  endpoint: string;
  /** Releases the client, then closes dynalite (flushing LevelDB when on disk). */
  close(): Promise<void>;
}

/**
 * Starts dynalite (on disk at `path`, else in memory) and a client for it.
 *
 * @example
 * const db = await connectEmbedded({ region: 'us-east-1' });
 * await ensureTable(db.client, 'drover');
 * await db.close();
 */
export async function connectEmbedded(opts: { path?: string; region: string }): Promise<EmbeddedClient> {
  const db = await startDynalite({ path: opts.path });
  const client = dynamoClient({ region: opts.region, endpoint: db.endpoint, local: true });
  return {
    client,
    endpoint: db.endpoint,
    async close() {
      client.destroy();
      await db.close();
    },
  };
}

/**
 * Starts dynalite on 127.0.0.1 (a free port unless one is given).
 *
 * @example
 * const db = await startDynalite({ path: '.drover/dynamodb' });
 * const client = dynamoClient({ region: 'us-east-1', endpoint: db.endpoint, local: true });
 */
export async function startDynalite(opts: { path?: string; port?: number } = {}): Promise<EmbeddedDynamo> {
  if (opts.path) mkdirSync(opts.path, { recursive: true });
  const server = dynalite({ path: opts.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const requests = countRequests(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // dynalite closes its database once every connection is gone, and it waits only for item reads and
        // writes: a Query or Scan between its table lookup and its read stream then hits a closed database and
        // throws out of a timer (an uncaught exception that ends the process). So no connection is cut while a
        // request is still being answered: stop accepting, let what is in progress finish, then close the rest.
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        requests.whenIdle(() => server.closeAllConnections?.(), DRAIN_LIMIT_MS);
      }),
  };
}

/** Longest wait for requests in progress at close (dynalite answers in milliseconds; this only bounds a fault). */
const DRAIN_LIMIT_MS = 10_000;

/**
 * Counts the requests dynalite is answering: from the request's arrival until dynalite ends its response (which it
 * does even when the client has gone, so the count follows dynalite's work, not the socket).
 */
function countRequests(server: Server): { whenIdle(fn: () => void, limitMs: number): void } {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  let answering = 0;
  let onIdle: (() => void) | undefined;
  // After this turn, so the response just ended is written before anything is closed.
  const idle = () =>
    setImmediate(() => {
      if (answering !== 0 || !onIdle) return;
      const fn = onIdle;
      onIdle = undefined;
      fn();
    });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answering++;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    let ended = false;
    res.end = ((...args: unknown[]) => {
      if (!ended) {
        ended = true;
        answering--;
        if (answering === 0) idle();
      }
      return end(...args);
    }) as ServerResponse['end'];
    for (const handler of handlers) handler.call(server, req, res);
  });
  return {
    whenIdle(fn, limitMs) {
      const timer = setTimeout(() => {
        onIdle = undefined;
        fn();
      }, limitMs);
      timer.unref();
      onIdle = () => {
        clearTimeout(timer);
        fn();
      };
      if (answering === 0) idle();
    },
  };
}
