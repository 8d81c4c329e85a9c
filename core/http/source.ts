/**
 * @module
 * Where a request came from, for the audit trail: the peer address as the host runtime knows it (API Gateway's
 * `requestContext` on Lambda, the socket under `@hono/node-server`, both read from the env bindings with no import of
 * either), what `X-Forwarded-For` claims (kept as given, not trusted), and the user agent.
 */
import type { Context } from 'hono';
import type { RequestSource } from '../store/item.js';

/** Longest value kept of a client-supplied header. */
const MAX = 512;

/**
 * The request's source.
 *
 * @example
 * requestSource(c) // { ip: '127.0.0.1', forwardedFor: null, userAgent: 'curl/8.5.0' }
 */
export function requestSource(c: Context): RequestSource {
  const header = (name: string) => c.req.header(name)?.slice(0, MAX) || null;
  return { ip: peerAddress(c.env), forwardedFor: header('x-forwarded-for'), userAgent: header('user-agent') };
}

/** The peer address from the runtime's bindings: API Gateway (v2, then v1 shape), else the Node socket. */
function peerAddress(env: unknown): string | null {
  const e = (env ?? {}) as {
    event?: { requestContext?: { http?: { sourceIp?: unknown }; identity?: { sourceIp?: unknown } } };
    incoming?: { socket?: { remoteAddress?: unknown } };
  };
  const ip = e.event?.requestContext?.http?.sourceIp ?? e.event?.requestContext?.identity?.sourceIp ?? e.incoming?.socket?.remoteAddress;
  return typeof ip === 'string' ? ip.slice(0, 64) : null;
}
