/** Host-access grants: cattle's payload shapes, HS256 signatures and expiry. */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../store/item.js';
import { hostAccess, signToken, verifyToken } from './host-access.js';

const instance = { id: '1i5', fields: { externalId: 'abc123', primaryIpAddress: '10.42.0.7' } } as unknown as Resource;
const host = { id: '1h2', fields: { uuid: 'host-uuid' } } as unknown as Resource;

describe('host access', () => {
  it('signs tokens that verify until they expire, and not after tampering', () => {
    const now = 1_800_000_000_000;
    const t = signToken('s3cret', { logs: { Container: 'abc' } }, 60, now);
    expect(verifyToken('s3cret', t, now + 59_000)).toMatchObject({ logs: { Container: 'abc' }, exp: now / 1000 + 60 });
    expect(verifyToken('s3cret', t, now + 60_000)).toBeUndefined();
    expect(verifyToken('other', t, now)).toBeUndefined();
    const [h, , sig] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ logs: { Container: 'evil' }, exp: now / 1000 + 60 })).toString('base64url');
    expect(verifyToken('s3cret', `${h}.${forged}.${sig}`, now)).toBeUndefined();
  });

  it('grants cattle payloads per action', () => {
    const exec = hostAccess('k', 'execute', instance, host, { command: ['/bin/sh'], tty: false });
    expect([exec.scheme, exec.path]).toEqual(['ws', '/v1/exec/']);
    expect(verifyToken('k', exec.token)).toMatchObject({
      hostUuid: 'host-uuid',
      exec: { Cmd: ['/bin/sh'], Tty: false, AttachStdin: true, AttachStdout: true, Container: 'abc123' },
    });
    const logs = hostAccess('k', 'logs', instance, host, { lines: 10, follow: false });
    expect(verifyToken('k', logs.token)).toMatchObject({ logs: { Container: 'abc123', Lines: 10, Follow: false } });
    const proxy = hostAccess('k', 'proxy', instance, host, { port: 8080 });
    expect([proxy.scheme, proxy.path]).toEqual(['http', '/v1/container-proxy/']);
    expect(verifyToken('k', proxy.token)).toMatchObject({ proxy: { address: '10.42.0.7:8080', scheme: 'http' } });
    const proxyExp = verifyToken('k', proxy.token)!.exp as number;
    expect(proxyExp - Math.floor(Date.now() / 1000)).toBeGreaterThan(57_000); // cattle: 16 h
    expect(hostAccess('k', 'console', instance, host, {}).path).toBe('/v1/console/');
  });
});
