/**
 * @module
 * Published ports for the process driver. An instance's `ports` are Rancher strings (`"8080:80/tcp"`, `"80"`,
 * `"8080:80"`, `"10.0.0.5:8080:80"`); `parsePort` reads one. A port whose public side differs from its private side
 * is published by a TCP forwarder in the agent (`openForwarder`: listening on the public port, piping each
 * connection to `127.0.0.1:<private>`); a port alone, or with equal sides, is one the process listens on itself.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One of an instance's ports. */
export interface PortSpec {
  /** The port the process listens on (loopback or all addresses). */
  privatePort: number;
  /** The host port; the same as `privatePort` when the process listens on it itself. */
  publicPort: number;
  protocol: 'tcp' | 'udp';
  /** The address the public port is bound to (default all, `0.0.0.0`). */
  bindAddress?: string;
}

const portNumber = (s: string, whole: string) => {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new Error(`Invalid port "${whole}": ${s || '(empty)'} is not a port number`);
  return n;
};

/**
 * Reads a Rancher port string. Throws, naming it, when it is not one.
 *
 * @example
 * parsePort('8080:80/tcp') // { privatePort: 80, publicPort: 8080, protocol: 'tcp' }
 * parsePort('80') // { privatePort: 80, publicPort: 80, protocol: 'tcp' }
 */
export function parsePort(spec: string): PortSpec {
  const [addr, proto = 'tcp', extra] = spec.trim().split('/');
  if (extra !== undefined || (proto !== 'tcp' && proto !== 'udp')) throw new Error(`Invalid port "${spec}": protocol must be tcp or udp`);
  const parts = addr.split(':');
  if (parts.length > 3) throw new Error(`Invalid port "${spec}"`);
  const privatePort = portNumber(parts[parts.length - 1], spec);
  const publicPort = parts.length >= 2 && parts[parts.length - 2] !== '' ? portNumber(parts[parts.length - 2], spec) : privatePort;
  const bindAddress = parts.length === 3 && parts[0] ? parts[0] : undefined;
  return { privatePort, publicPort, protocol: proto, ...(bindAddress ? { bindAddress } : {}) };
}

/**
 * A port as a Rancher string.
 *
 * @example
 * formatPort({ privatePort: 80, publicPort: 8080, protocol: 'tcp' }) // '8080:80/tcp'
 */
export function formatPort(p: PortSpec): string {
  return `${p.bindAddress ? `${p.bindAddress}:` : ''}${p.publicPort}:${p.privatePort}/${p.protocol}`;
}

/** An open forwarder. */
export interface Forwarder {
  port: PortSpec;
  /** Stops listening and cuts the connections it carries. */
  close(): Promise<void>;
}

/**
 * Listens on `bindAddress:publicPort` (default all addresses) and pipes each connection to `targetHost:privatePort`.
 * Rejects with a message naming the port when it cannot listen (taken, not allowed).
 *
 * @example
 * const fwd = await openForwarder({ privatePort: 80, publicPort: 8080, protocol: 'tcp' });
 * ...
 * await fwd.close();
 */
export async function openForwarder(port: PortSpec, targetHost = '127.0.0.1'): Promise<Forwarder> {
  if (port.protocol !== 'tcp') throw new Error(`Port ${formatPort(port)}: only TCP ports can be published to another port`);
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(port.privatePort, targetHost);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await listen(server, port);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, port: PortSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'is not allowed' : `cannot be opened (${e.message})`;
      reject(new Error(`Port ${formatPort(port)}: host port ${port.publicPort} ${why}`));
    };
    server.once('error', onError);
    server.listen({ port: port.publicPort, host: port.bindAddress ?? '0.0.0.0', exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Rejects, naming the port, when a host port the process is to listen on itself is taken (a TCP probe: listen, close).
 *
 * @example
 * await probePort({ privatePort: 80, publicPort: 80, protocol: 'tcp' });
 */
export async function probePort(port: PortSpec): Promise<void> {
  if (port.protocol !== 'tcp') return;
  const server = createServer();
  await listen(server, port);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
