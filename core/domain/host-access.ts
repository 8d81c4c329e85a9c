/**
 * @module
 * Signed, expiring tokens for execute / logs / proxy / console (cattle's `hostAccess`): an HS256 JWT whose
 * payload says what to open on which host, plus the websocket or HTTP path the client connects to.
 */
import { createHmac } from 'node:crypto';
import type { Resource } from '../store/item.js';

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');

/**
 * An HS256 JWT over `payload` that expires in `ttlSeconds`.
 *
 * @example
 * signToken(secret, { logs: { Container: 'abc' } }, 300)
 */
export function signToken(secret: string, payload: Record<string, unknown>, ttlSeconds: number, now = Date.now()): string {
  const header = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ ...payload, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + ttlSeconds }));
  const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest();
  return `${header}.${body}.${b64(sig)}`;
}

/**
 * Verifies a token from `signToken`; returns its payload, or `undefined` when forged or expired.
 *
 * @example
 * verifyToken(secret, token)?.exec
 */
export function verifyToken(secret: string, token: string, now = Date.now()): Record<string, unknown> | undefined {
  const [header, body, sig] = token.split('.');
  if (!header || !body || !sig) return undefined;
  const want = b64(createHmac('sha256', secret).update(`${header}.${body}`).digest());
  if (want !== sig) return undefined;
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  return typeof payload.exp === 'number' && payload.exp * 1000 > now ? payload : undefined;
}

/** Where the client connects, relative to the API origin, and with which scheme family. */
export interface HostAccessGrant {
  /** `ws` for streams (exec, logs, console), `http` for the proxy. */
  scheme: 'ws' | 'http';
  path: string;
  token: string;
}

/** Token lifetimes: cattle gives the proxy 16 h (`host.proxy.jwt.expiration.seconds`); streams get 5 min to connect. */
const TTL = { execute: 300, logs: 300, console: 300, proxy: 57_600 } as const;

/**
 * The grant for a handler action on an instance that is on a host, with cattle's payload shapes (spec §2.7).
 *
 * @example
 * hostAccess(secret, 'logs', container, host, { follow: true, lines: 100 })
 */
export function hostAccess(
  secret: string,
  action: 'execute' | 'logs' | 'proxy' | 'console',
  instance: Resource,
  host: Resource,
  input: Record<string, unknown>,
): HostAccessGrant {
  const container = instance.fields.externalId ?? instance.id;
  const base = { hostUuid: host.fields.uuid ?? host.id, hostId: host.id, resourceId: instance.id };
  switch (action) {
    case 'execute':
      return {
        scheme: 'ws',
        path: '/v1/exec/',
        token: signToken(secret, {
          ...base,
          exec: {
            AttachStdin: input.attachStdin ?? true,
            AttachStdout: input.attachStdout ?? true,
            Tty: input.tty ?? true,
            Cmd: input.command,
            Container: container,
          },
        }, TTL.execute),
      };
    case 'logs':
      return {
        scheme: 'ws',
        path: '/v1/logs/',
        token: signToken(secret, { ...base, logs: { Container: container, Lines: input.lines ?? 100, Follow: input.follow ?? true } }, TTL.logs),
      };
    case 'proxy':
      return {
        scheme: 'http',
        path: '/v1/container-proxy/',
        token: signToken(secret, {
          ...base,
          proxy: { Container: container, address: `${instance.fields.primaryIpAddress ?? ''}:${input.port ?? 80}`, scheme: input.scheme ?? 'http' },
        }, TTL.proxy),
      };
    case 'console':
      return { scheme: 'ws', path: '/v1/console/', token: signToken(secret, { ...base, console: { container: instance.id } }, TTL.console) };
  }
}
