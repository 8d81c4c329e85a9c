/**
 * @module
 * Who may open what: the one token check every route of the host access server uses (`authorize`), the route a
 * request path names (`routeOf`), the request each kind of token carries (`parseSpec`), the cookie and header
 * helpers the token may come in, and the JSON refusals (`{ "error": "…" }`) sent over HTTP or before a handshake.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import {
  ACCESS_KINDS,
  ACCESS_PATHS,
  accessKindOf,
  verifyAccessToken,
  type AccessKind,
  type AccessTokenPayload,
} from '../../core/agent/protocol.js';
import type { AccessTarget } from '../driver.js';
import type { AccessContext } from './server.js';

/** The cookie the proxy sets on a request that carried `?token=`. */
export const ACCESS_PROXY_COOKIE = 'drover_access';

export interface ExecSpec {
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
}
export interface LogsSpec {
  lines: number;
  follow: boolean;
  /**
   * The live file when the request came (before the WebSocket handshake answers): what was in it then is history,
   * whatever is appended after is followed, however long the stream takes to start.
   */
  at?: { size: number; ino: number };
}
export interface ProxySpec {
  port: number;
  scheme: 'http' | 'https';
}
interface Specs {
  execute: ExecSpec;
  logs: LogsSpec;
  proxy: ProxySpec;
  console: Record<string, never>;
}

/** A token that passed every check, for the route's kind. */
export interface Grant<K extends AccessKind> {
  kind: K;
  token: string;
  tokenFrom: 'query' | 'header' | 'cookie';
  payload: AccessTokenPayload;
  target: AccessTarget;
  spec: Specs[K];
}
export interface Refusal {
  status: number;
  error: string;
}

/** A request's route: its kind, and for the proxy the path to forward and the query without `token`. */
export interface Route {
  kind: AccessKind;
  rest: string;
  query: string;
  params: URLSearchParams;
}

const refusal = (status: number, error: string): Refusal => ({ status, error });

/**
 * Whether `authorize` (or `parseSpec`) refused.
 *
 * @example
 * const grant = authorize(ctx, req, route);
 * if (isRefusal(grant)) return jsonResponse(res, grant.status, grant.error);
 */
export const isRefusal = (v: unknown): v is Refusal => typeof (v as Refusal).status === 'number';

/**
 * The route a request URL names, or `undefined` for a path the server does not serve.
 *
 * @example
 * routeOf('/v1/container-proxy/api/x?token=t&a=1') // { kind: 'proxy', rest: '/api/x', query: 'a=1', params }
 * routeOf('/v1/logs?token=t')                      // { kind: 'logs', rest: '/', query: '', params }
 * routeOf('/elsewhere')                            // undefined
 */
export function routeOf(rawUrl: string | undefined): Route | undefined {
  const url = rawUrl ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const params = new URLSearchParams(query);
  const withoutToken = query
    .split('&')
    .filter((part) => {
      if (!part) return false;
      const name = part.split('=')[0];
      try {
        return decodeURIComponent(name.replace(/\+/g, ' ')) !== 'token';
      } catch {
        return true;
      }
    })
    .join('&');
  const proxy = ACCESS_PATHS.proxy;
  if (path === proxy.slice(0, -1) || path.startsWith(proxy)) {
    return { kind: 'proxy', rest: `/${path.slice(proxy.length)}`, query: withoutToken, params };
  }
  for (const kind of ['execute', 'logs', 'console'] as const) {
    const p = ACCESS_PATHS[kind];
    if (path === p || path === p.slice(0, -1)) return { kind, rest: '/', query: withoutToken, params };
  }
  return undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The cookie header without ours (the instance never sees the token).
 *
 * @example
 * cookieWithout('a=1; drover_access=t; b=2', ACCESS_PROXY_COOKIE) // 'a=1; b=2'
 * cookieWithout('drover_access=t', ACCESS_PROXY_COOKIE)           // undefined
 */
export function cookieWithout(header: string | undefined, name: string): string | undefined {
  const kept = (header ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && p.split('=')[0].trim() !== name);
  return kept.length ? kept.join('; ') : undefined;
}

/**
 * The token of an `Authorization: Bearer <token>` header.
 *
 * @example
 * bearer('Bearer abc.def.ghi') // 'abc.def.ghi'
 * bearer('Basic dTpw')         // undefined
 */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * The request a token carries for its kind (cattle's payload, with its defaults), or a 400 refusal.
 *
 * @example
 * parseSpec('execute', { ...payload, exec: { Cmd: ['ls'], Tty: false } })
 * // { cmd: ['ls'], tty: false, stdin: true, stdout: true }
 * parseSpec('proxy', { ...payload, proxy: { address: '10.0.0.1:80' } }) // { port: 80, scheme: 'http' }
 */
export function parseSpec<K extends AccessKind>(kind: K, payload: AccessTokenPayload): Specs[K] | Refusal {
  const raw = payload[ACCESS_KINDS[kind]] as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object') return refusal(400, `token has no ${kind} request`);
  const bool = (v: unknown, dflt: boolean) => (typeof v === 'boolean' ? v : dflt);
  switch (kind) {
    case 'execute': {
      const cmd = raw.Cmd;
      if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === 'string') || !cmd[0]) {
        return refusal(400, 'token has no command');
      }
      const spec: ExecSpec = { cmd, tty: bool(raw.Tty, true), stdin: bool(raw.AttachStdin, true), stdout: bool(raw.AttachStdout, true) };
      return spec as Specs[K];
    }
    case 'logs': {
      const lines = raw.Lines === undefined ? 100 : Number(raw.Lines);
      if (!Number.isFinite(lines) || lines < 0) return refusal(400, 'token has a bad line count');
      const spec: LogsSpec = { lines: Math.floor(lines), follow: bool(raw.Follow, true) };
      return spec as Specs[K];
    }
    case 'proxy': {
      const address = typeof raw.address === 'string' ? raw.address : '';
      const port = Number(address.slice(address.lastIndexOf(':') + 1));
      if (!address.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) {
        return refusal(400, 'token has no port');
      }
      const scheme = raw.scheme === undefined || raw.scheme === '' ? 'http' : raw.scheme;
      if (scheme !== 'http' && scheme !== 'https') return refusal(400, 'token has a bad scheme');
      const spec: ProxySpec = { port, scheme };
      return spec as Specs[K];
    }
    default:
      return {} as Specs[K];
  }
}

/**
 * The one token check every route uses: the token (query, bearer header, or for the proxy the cookie) must be
 * signed with this host's key, unexpired, for this host, for the route's kind, and name an instance the driver
 * knows; then its request is parsed for the kind.
 *
 * @example
 * const grant = authorize(ctx, req, route);
 * if (isRefusal(grant)) return jsonResponse(res, grant.status, grant.error);
 * grant.target.logFiles; // the instance the token names
 */
export function authorize<K extends AccessKind>(
  ctx: Pick<AccessContext, 'opts' | 'log' | 'now'>,
  req: http.IncomingMessage,
  route: Route & { kind: K },
): Grant<K> | Refusal {
  const { opts, log, now } = ctx;
  try {
    let token = route.params.get('token') || undefined;
    let tokenFrom: Grant<K>['tokenFrom'] = 'query';
    if (!token) {
      token = bearer(req.headers.authorization);
      tokenFrom = 'header';
    }
    if (!token && route.kind === 'proxy') {
      token = cookieValue(req.headers.cookie, ACCESS_PROXY_COOKIE);
      tokenFrom = 'cookie';
    }
    if (!token) return refusal(401, 'no token');
    const key = opts.key();
    if (!key) return refusal(401, 'this host has no access key');
    const payload = verifyAccessToken(key, token, now());
    if (!payload || typeof payload !== 'object') return refusal(401, 'invalid or expired token');
    const hostId = typeof opts.hostId === 'function' ? opts.hostId() : opts.hostId;
    if (!hostId || payload.hostId !== hostId) return refusal(401, 'token is for another host');
    const kind = accessKindOf(payload);
    if (!kind) return refusal(401, 'token grants no single kind of access');
    if (kind !== route.kind) return refusal(401, `token is not for ${route.kind}`);
    if (typeof payload.resourceId !== 'string') return refusal(401, 'token names no instance');
    const target = opts.targets(payload.resourceId);
    if (!target) return refusal(401, 'unknown instance');
    const named =
      kind === 'console' ? payload.console?.container : (payload[ACCESS_KINDS[kind]] as { Container?: unknown } | undefined)?.Container;
    // Console tokens name the instance by id (cattle's shape), the others by externalId.
    const same = named === target.externalId || (kind === 'console' && named === target.resourceId);
    if (!same) return refusal(401, 'token is for another instance');
    const spec = parseSpec(route.kind, payload);
    if (isRefusal(spec)) return spec;
    return { kind: route.kind, token, tokenFrom, payload, target, spec };
  } catch (err) {
    log.warn(`access: token check failed: ${(err as Error).message}`);
    return refusal(401, 'token refused');
  }
}

/**
 * Answers an HTTP request with `{ "error": … }` (or cuts it, when the headers are already sent).
 *
 * @example
 * jsonResponse(res, 404, 'not found');
 */
export function jsonResponse(res: http.ServerResponse, status: number, error: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Answers an upgrade request with `{ "error": … }` instead of a handshake, and closes the socket.
 *
 * @example
 * refuseUpgrade(socket, 401, 'no token');
 */
export function refuseUpgrade(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
