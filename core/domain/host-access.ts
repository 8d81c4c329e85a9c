/**
 * @module
 * Signed, expiring tokens for execute / logs / proxy / console (cattle's `hostAccess`): an HS256 JWT, signed with the
 * key of the instance's host, whose payload says what to open for which instance, and the URL of the host's access
 * server the client connects to with it. The agent verifies tokens with the same protocol module.
 */
import { createHmac } from 'node:crypto';
import { ACCESS_PATHS, signAccessToken, type AccessKind } from '../agent/protocol.js';
import type { Resource } from '../store/item.js';

/**
 * A host's access key: what its agent verifies tokens with (given at registration), derived from the stage's host
 * access secret and the host's id, so every process agrees on it and a token for one host opens nothing on another.
 *
 * @example
 * const key = hostAccessKeyOf(service.hostAccessSecret, '1h2');
 */
export function hostAccessKeyOf(stageSecret: string, hostId: string): string {
  return createHmac('sha256', stageSecret).update(`host access key ${hostId}`).digest('base64url');
}

/** Where the client connects and with which token. */
export interface HostAccessGrant {
  /** `ws` for streams (exec, logs, console), `http` for the proxy. */
  scheme: 'ws' | 'http';
  path: string;
  token: string;
  /**
   * The host's access server (`http://203.0.113.5:9345`, as its agent advertised it); absent for a host without one
   * (the simulator): the URL is then the API's own origin, as cattle's was.
   */
  origin?: string;
}

/** Token lifetimes: cattle gives the proxy 16 h (`host.proxy.jwt.expiration.seconds`); streams get 5 min to connect. */
const TTL: Readonly<Record<AccessKind, number>> = { execute: 300, logs: 300, console: 300, proxy: 57_600 };

/**
 * The grant for a handler action on an instance that is on a host, with cattle's payload shapes (spec §2.7).
 *
 * @example
 * hostAccess(stageSecret, 'logs', container, host, { follow: true, lines: 100 })
 */
export function hostAccess(
  stageSecret: string,
  action: AccessKind,
  instance: Resource,
  host: Resource,
  input: Record<string, unknown>,
): HostAccessGrant {
  const container = instance.fields.externalId ?? instance.id;
  const base = { hostUuid: host.fields.uuid ?? host.id, hostId: host.id, resourceId: instance.id };
  const part = (() => {
    switch (action) {
      case 'execute':
        return {
          exec: {
            AttachStdin: input.attachStdin ?? true,
            AttachStdout: input.attachStdout ?? true,
            Tty: input.tty ?? true,
            Cmd: input.command,
            Container: container,
          },
        };
      case 'logs':
        return { logs: { Container: container, Lines: input.lines ?? 100, Follow: input.follow ?? true } };
      case 'proxy':
        return {
          proxy: { Container: container, address: `${instance.fields.primaryIpAddress ?? ''}:${input.port ?? 80}`, scheme: input.scheme ?? 'http' },
        };
      case 'console':
        return { console: { container: instance.id } };
    }
  })();
  const origin = typeof host.fields.accessUrl === 'string' && host.fields.accessUrl ? host.fields.accessUrl : undefined;
  return {
    scheme: action === 'proxy' ? 'http' : 'ws',
    path: ACCESS_PATHS[action],
    token: signAccessToken(hostAccessKeyOf(stageSecret, host.id), { ...base, ...part }, TTL[action]),
    ...(origin ? { origin } : {}),
  };
}
