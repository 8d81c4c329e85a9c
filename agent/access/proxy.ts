/**
 * @module
 * The `/v1/container-proxy/` route of the host access server: a reverse proxy, for plain HTTP and for upgrades
 * (WebSocket), to the instance's port a token names. Hop-by-hop headers stay on this side, the instance never sees
 * the token (neither its cookie nor its bearer header), and a request that carried `?token=` gets the cookie back.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ACCESS_PATHS } from '../../core/agent/protocol.js';
import {
  ACCESS_PROXY_COOKIE,
  bearer,
  cookieWithout,
  jsonResponse,
  refuseUpgrade,
  type Grant,
  type Route,
} from './authorize.js';
import type { AccessContext } from './server.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Whether a header goes on to the next hop: not a hop-by-hop one, nor one the message's `Connection` lists. */
function endToEnd(headers: http.IncomingHttpHeaders): (name: string) => boolean {
  const listed = new Set(String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  return (name) => !HOP_BY_HOP.has(name) && !listed.has(name);
}

/** The headers the instance gets: ours and the hop-by-hop ones dropped, `host` and `x-forwarded-*` set. */
function proxyHeaders(headers: http.IncomingHttpHeaders, grant: Grant<'proxy'>, addr: { host: string; port: number }, req: http.IncomingMessage) {
  const passes = endToEnd(headers);
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !passes(name) || name === 'host') continue;
    if (name === 'cookie') {
      const kept = cookieWithout(value as string, ACCESS_PROXY_COOKIE);
      if (kept) out.cookie = kept;
      continue;
    }
    if (name === 'authorization' && bearer(value as string) === grant.token) continue;
    out[name] = value;
  }
  out.host = `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
  const from = req.socket.remoteAddress ?? '';
  out['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${from}` : from;
  if (headers.host) out['x-forwarded-host'] = headers.host;
  out['x-forwarded-proto'] = 'http';
  out['x-forwarded-prefix'] = ACCESS_PATHS.proxy.slice(0, -1);
  return out;
}

/** The cookie that lets a browser's follow-up requests pass without `?token=`, for as long as the token lasts. */
function cookieFor(grant: Grant<'proxy'>, now: () => number): string {
  const maxAge = Math.max(0, Math.floor(grant.payload.exp - now() / 1000));
  return `${ACCESS_PROXY_COOKIE}=${grant.token}; Path=${ACCESS_PATHS.proxy}; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
}

/**
 * Forwards an HTTP request to the instance's port and its answer back (502 when the instance does not answer).
 *
 * @example
 * http.createServer((req, res) => proxyHttp(ctx, req, res, grant, route));
 */
export function proxyHttp(
  ctx: AccessContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  grant: Grant<'proxy'>,
  route: Route,
): void {
  const { log, now, track } = ctx;
  const addr = grant.target.running ? grant.target.address(grant.spec.port) : undefined;
  if (!addr) return jsonResponse(res, 502, `instance does not answer on port ${grant.spec.port}`);
  const path = route.rest + (route.query ? `?${route.query}` : '');
  const headers = proxyHeaders(req.headers, grant, addr, req);
  const options = { host: addr.host, port: addr.port, method: req.method, path, headers, agent: false as const };
  const preq =
    grant.spec.scheme === 'https' ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
  const untrack = track(() => {
    preq.destroy();
    res.destroy();
  });
  preq.on('response', (pres) => {
    const out: http.OutgoingHttpHeaders = {};
    const passes = endToEnd(pres.headers);
    for (const [name, value] of Object.entries(pres.headers)) if (value !== undefined && passes(name)) out[name] = value;
    if (grant.tokenFrom === 'query') {
      const prior = pres.headers['set-cookie'] ?? [];
      out['set-cookie'] = [...prior, cookieFor(grant, now)];
    }
    res.writeHead(pres.statusCode ?? 502, pres.statusMessage, out);
    pres.pipe(res);
    pres.on('error', () => res.destroy());
  });
  preq.on('error', (err) => {
    log.warn(`access: proxy ${grant.target.resourceId}:${grant.spec.port}: ${err.message}`);
    jsonResponse(res, 502, `instance does not answer on port ${grant.spec.port}`);
  });
  res.on('close', () => {
    untrack();
    if (!res.writableFinished) preq.destroy();
  });
  req.pipe(preq);
}

/**
 * Forwards an upgrade request (a WebSocket) to the instance's port, then pipes both ways until either side closes.
 *
 * @example
 * server.on('upgrade', (req, socket, head) => proxyUpgrade(ctx, req, socket, head, grant, route));
 */
export function proxyUpgrade(
  ctx: AccessContext,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  grant: Grant<'proxy'>,
  route: Route,
): void {
  const { log, track } = ctx;
  const addr = grant.target.running ? grant.target.address(grant.spec.port) : undefined;
  if (!addr) return refuseUpgrade(socket, 502, `instance does not answer on port ${grant.spec.port}`);
  const headers = proxyHeaders(req.headers, grant, addr, req);
  // An upgrade keeps its Connection and Upgrade headers.
  headers.connection = 'Upgrade';
  if (req.headers.upgrade) headers.upgrade = req.headers.upgrade;
  const lines = [`${req.method} ${route.rest}${route.query ? `?${route.query}` : ''} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
  }
  let connected = false;
  const upstream: net.Socket =
    grant.spec.scheme === 'https'
      ? tls.connect({ host: addr.host, port: addr.port, rejectUnauthorized: false })
      : net.connect(addr.port, addr.host);
  const untrack = track(() => {
    upstream.destroy();
    socket.destroy();
  });
  upstream.once(grant.spec.scheme === 'https' ? 'secureConnect' : 'connect', () => {
    connected = true;
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', (err) => {
    log.warn(`access: proxy upgrade ${grant.target.resourceId}:${grant.spec.port}: ${err.message}`);
    if (!connected) refuseUpgrade(socket, 502, `instance does not answer on port ${grant.spec.port}`);
    else socket.destroy();
  });
  socket.on('error', () => upstream.destroy());
  upstream.on('close', () => {
    untrack();
    socket.destroy();
  });
  socket.on('close', () => {
    untrack();
    upstream.destroy();
  });
}
