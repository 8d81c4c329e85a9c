/**
 * Rancher port strings and the agent's TCP forwarder.
 */
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatPort, openForwarder, parsePort, probePort } from './port-forward.js';

describe('parsePort', () => {
  it('reads "public:private/proto", "private", "public:private", "ip:public:private"', () => {
    expect(parsePort('8080:80/tcp')).toEqual({ privatePort: 80, publicPort: 8080, protocol: 'tcp' });
    expect(parsePort('80')).toEqual({ privatePort: 80, publicPort: 80, protocol: 'tcp' });
    expect(parsePort('8080:80')).toEqual({ privatePort: 80, publicPort: 8080, protocol: 'tcp' });
    expect(parsePort('53/udp')).toEqual({ privatePort: 53, publicPort: 53, protocol: 'udp' });
    expect(parsePort('10.0.0.5:8080:80')).toEqual({ privatePort: 80, publicPort: 8080, protocol: 'tcp', bindAddress: '10.0.0.5' });
    expect(formatPort(parsePort('10.0.0.5:8080:80'))).toBe('10.0.0.5:8080:80/tcp');
  });

  it('refuses what is not a port', () => {
    expect(() => parsePort('x:80')).toThrow('Invalid port "x:80": x is not a port number');
    expect(() => parsePort('70000')).toThrow('Invalid port "70000"');
    expect(() => parsePort('80/sctp')).toThrow('protocol must be tcp or udp');
  });
});

describe('openForwarder', () => {
  it('pipes the public port to the private one, and says so when the public port is taken', async () => {
    const target = createServer((s) => s.end('pong'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const privatePort = (target.address() as AddressInfo).port;
    try {
      const taken = createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const publicPort = (taken.address() as AddressInfo).port;
      await expect(openForwarder({ privatePort, publicPort, protocol: 'tcp', bindAddress: '127.0.0.1' })).rejects.toThrow(
        `Port 127.0.0.1:${publicPort}:${privatePort}/tcp: host port ${publicPort} is already in use`,
      );
      await expect(probePort({ privatePort: publicPort, publicPort, protocol: 'tcp' })).rejects.toThrow('is already in use');
      await new Promise((r) => taken.close(r));
      const fwd2 = await openForwarder({ privatePort, publicPort, protocol: 'tcp', bindAddress: '127.0.0.1' });
      const reply = await new Promise<string>((resolve, reject) => {
        let got = '';
        connect(publicPort, '127.0.0.1')
          .on('data', (c) => (got += c))
          .on('end', () => resolve(got))
          .on('error', reject);
      });
      expect(reply).toBe('pong');
      await fwd2.close();
      await expect(
        new Promise((resolve, reject) => connect(publicPort, '127.0.0.1').on('connect', resolve).on('error', reject)),
      ).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await new Promise((r) => target.close(r));
    }
  });
});
