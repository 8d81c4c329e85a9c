/**
 * @module
 * The host access server: serves the streams behind Rancher's `hostAccess` answers (instance actions `execute`,
 * `logs`, `proxy`, `console`) on this host. A client connects to `<path>?token=<jwt>`; the token, signed by the
 * control plane with this host's access key, says which instance and what to open. Every route checks the token
 * with one function (`authorize`), then:
 *
 * - `GET /v1/logs/` (WebSocket or plain HTTP): the last `Lines` lines of the instance's log files (oldest first),
 *   then, when `Follow`, lines as they are appended to the live file (a truncated or replaced live file is read
 *   again from its start) until the instance stops or the client goes. WebSocket: one text message per line,
 *   `01 <line>` (Rancher's host API prefix for stdout; there is no stderr in a log file), closed with 1000 at the
 *   end. HTTP: `200 text/plain`, chunked, one `<line>\n` per line, ended at the end.
 * - `/v1/exec/` (WebSocket only): runs `Cmd` in the instance's environment, directory and user; under a pty when
 *   `Tty`. Every text message either way is base64 of raw bytes: client→server stdin (ignored unless
 *   `AttachStdin`), server→client output (stdout, and stderr when there is no tty; none unless `AttachStdout`). A
 *   binary message from the client is stdin as raw bytes; a text message starting with `{` is a control message,
 *   `{"resize":{"cols":N,"rows":N}}` (base64 never starts with `{`). When the command exits the socket is closed
 *   with 1000 and the reason `exit <code>` (`128+n` for a signal, 127/126 when it could not be started).
 * - `/v1/console/` (WebSocket only): the instance's shell under a pty, framed as execute with a tty.
 * - `/v1/container-proxy/<path>` (HTTP and WebSocket upgrade): a reverse proxy to the instance's port named in the
 *   token's `address` (`ip:port`; the driver says where that port is reached on this host). The first request
 *   with `?token=` gets a cookie (`drover_access`, `Path=/v1/container-proxy/; HttpOnly`) so a browser's
 *   follow-up requests pass without it.
 *
 * Refusals are short JSON bodies `{ "error": "…" }`: 404 for an unknown path, 401 for any token problem (also
 * before a WebSocket handshake), 400 for a token whose payload is malformed, 409 for an instance that is not
 * running (execute, console), 501 for a tty where this host has no pty, 502 when the proxied instance cannot be
 * reached. Commands run in their own process group; the group is killed when the command's socket closes, when
 * the command exits (what it left behind), and by `close()`.
 *
 * This file routes requests and upgrades and tracks what `close()` ends; the routes live beside it: `authorize.ts`
 * (the token check, routes, refusals), `logs.ts`, `exec.ts` (execute and console), `proxy.ts`.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AccessTarget } from '../driver.js';
import type { AccessKind } from '../../core/agent/protocol.js';
import { authorize, isRefusal, jsonResponse, refuseUpgrade, routeOf, type Grant, type Refusal, type Route } from './authorize.js';
import { killGroup } from '../processes.js';
import { loadPty, serveCommand, type CommandContext, type Proc } from './exec.js';
import { liveFileNow, serveLogsHttp, serveLogsWs } from './logs.js';
import { proxyHttp, proxyUpgrade } from './proxy.js';

export { ACCESS_PROXY_COOKIE } from './authorize.js';

/** Where the access server writes what it does (never tokens). */
export interface AccessLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface AccessServerOptions {
  /** Where to listen; port 0 takes any free port. */
  listen: { host: string; port: number };
  /**
   * This host's id (tokens for another host are refused), or a getter for it: the server starts before the agent
   * registers, so that the agent can report the URL it is reached at. Until there is an id, every token is refused.
   */
  hostId: string | (() => string | undefined);
  /** The host's access key, read per request (it changes when the agent registers again); none refuses all. */
  key: () => string | undefined;
  /** The instance a token names, from the driver (`Driver.accessTarget`). */
  targets: (resourceId: string) => AccessTarget | undefined;
  /** Clock (ms since the epoch) for token expiry; default `Date.now`. */
  now?: () => number;
  logger?: AccessLogger;
}

export interface AccessServer {
  /** `http://host:port` as bound. */
  url: string;
  /** Stops listening and ends every open stream, socket, pty and command. */
  close(): Promise<void>;
}

/** What the routes share of one server: its options, its logger and clock, and `track` for what `close()` ends. */
export interface AccessContext {
  opts: AccessServerOptions;
  log: AccessLogger;
  /** Clock (ms since the epoch). */
  now: () => number;
  /** Registers what `close()` must stop; returns the function that unregisters it (call it when it ended). */
  track: (stop: () => void) => () => void;
}

/**
 * Starts the host access server.
 *
 * @example
 * const access = await startAccessServer({
 *   listen: { host: '0.0.0.0', port: 9345 },
 *   hostId: () => agent?.hostId,
 *   key: () => agent?.hostAccessKey,
 *   targets: (id) => driver.accessTarget?.(id),
 * });
 * // ... later
 * await access.close();
 */
export async function startAccessServer(opts: AccessServerOptions): Promise<AccessServer> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? { info: () => {}, warn: () => {} };
  /** What `close()` ends: streams, sockets, proxied requests. */
  const sessions = new Set<() => void>();
  /** Commands running (and their process groups). */
  const procs = new Set<Proc>();
  let closing = false;

  const { pty, ptyError } = await loadPty(log);

  const track = (stop: () => void) => {
    sessions.add(stop);
    return () => sessions.delete(stop);
  };
  const ctx: AccessContext = { opts, now, log, track };
  const commands: CommandContext = { ...ctx, pty, ptyError, procs };

  /**
   * What a request or an upgrade may open, or why not: the server closing, an unknown path, a refused token. A logs
   * grant notes where the live file is now (what comes after is followed, however late its stream starts).
   */
  const admit = (req: http.IncomingMessage): { grant: Grant<AccessKind>; route: Route } | Refusal => {
    if (closing) return { status: 503, error: 'closing' };
    const route = routeOf(req.url);
    if (!route) return { status: 404, error: 'not found' };
    const grant = authorize(ctx, req, route);
    if (isRefusal(grant)) {
      log.info(`access: ${route.kind} refused: ${grant.error}`);
      return grant;
    }
    if (grant.kind === 'logs') (grant as Grant<'logs'>).spec.at = liveFileNow(grant.target.logFiles);
    return { grant, route };
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  const server = http.createServer((req, res) => {
    const admitted = admit(req);
    if (isRefusal(admitted)) return jsonResponse(res, admitted.status, admitted.error);
    const { grant, route } = admitted;
    switch (grant.kind) {
      case 'logs':
        return serveLogsHttp(ctx, req, res, grant as Grant<'logs'>);
      case 'proxy':
        return proxyHttp(ctx, req, res, grant as Grant<'proxy'>, route);
      default:
        return jsonResponse(res, 400, 'websocket upgrade required');
    }
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const admitted = admit(req);
    if (isRefusal(admitted)) return refuseUpgrade(socket, admitted.status, admitted.error);
    const { grant, route } = admitted;
    if (grant.kind === 'proxy') return proxyUpgrade(ctx, req, socket, head, grant as Grant<'proxy'>, route);
    if ((grant.kind === 'execute' || grant.kind === 'console') && !grant.target.running) {
      return refuseUpgrade(socket, 409, 'instance is not running');
    }
    if (((grant.kind === 'execute' && (grant as Grant<'execute'>).spec.tty) || grant.kind === 'console') && !pty) {
      return refuseUpgrade(socket, 501, 'no pty on this host');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      if (closing) return ws.terminate();
      if (grant.kind === 'logs') serveLogsWs(ctx, ws, grant as Grant<'logs'>);
      else serveCommand(commands, ws, grant as Grant<'execute'> | Grant<'console'>);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  const url = `http://${host}:${bound.port}`;
  log.info(`access: listening on ${url}`);

  return {
    url,
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const stop of [...sessions]) stop();
      sessions.clear();
      for (const ws of wss.clients) ws.terminate();
      const waits = [...procs].map((p) => {
        killGroup(p.pid, 'SIGKILL');
        return p.exited;
      });
      server.closeAllConnections();
      await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3000).unref?.())]);
      wss.close();
      await stopped;
    },
  };
}
