/** Host-access grants: cattle's payload shapes, per-host HS256 signatures, expiry, and the host's access server. */
import { describe, expect, it } from 'vitest';
import { accessKindOf, signAccessToken, verifyAccessToken } from '../agent/protocol.js';
import type { Resource } from '../store/item.js';
import { hostAccess, hostAccessKeyOf } from './host-access.js';

const instance = { id: '1i5', fields: { externalId: 'abc123', primaryIpAddress: '10.42.0.7' } } as unknown as Resource;
const host = { id: '1h2', fields: { uuid: 'host-uuid' } } as unknown as Resource;
const key = hostAccessKeyOf('stage-secret', '1h2');

describe('host access', () => {
  it('signs tokens that verify until they expire, and not after tampering or with another key', () => {
    const now = 1_800_000_000_000;
    const t = signAccessToken('s3cret', { logs: { Container: 'abc' } }, 60, now);
    expect(verifyAccessToken('s3cret', t, now + 59_000)).toMatchObject({ logs: { Container: 'abc' }, exp: now / 1000 + 60 });
    expect(verifyAccessToken('s3cret', t, now + 60_000)).toBeUndefined();
    expect(verifyAccessToken('other', t, now)).toBeUndefined();
    const [h, , sig] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ logs: { Container: 'evil' }, exp: now / 1000 + 60 })).toString('base64url');
    expect(verifyAccessToken('s3cret', `${h}.${forged}.${sig}`, now)).toBeUndefined();
    // Another algorithm named in the header, garbage, and extra segments are refused, never thrown.
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    expect(verifyAccessToken('s3cret', `${none}.${t.split('.')[1]}.${sig}`, now)).toBeUndefined();
    for (const junk of ['', 'a.b', 'a.b.c', `${t}.x`, '...']) expect(verifyAccessToken('s3cret', junk, now)).toBeUndefined();
  });

  it("builds cattle's payloads, signed with the host's own key", () => {
    const exec = hostAccess('stage-secret', 'execute', instance, host, { command: ['/bin/sh'], tty: false });
    expect([exec.scheme, exec.path, exec.origin]).toEqual(['ws', '/v1/exec/', undefined]);
    const payload = verifyAccessToken(key, exec.token)!;
    expect(payload).toMatchObject({
      hostUuid: 'host-uuid', hostId: '1h2', resourceId: '1i5',
      exec: { AttachStdin: true, AttachStdout: true, Tty: false, Cmd: ['/bin/sh'], Container: 'abc123' },
    });
    expect(accessKindOf(payload)).toBe('execute');
    // Another host's key opens nothing.
    expect(verifyAccessToken(hostAccessKeyOf('stage-secret', '1h3'), exec.token)).toBeUndefined();
    const logs = hostAccess('stage-secret', 'logs', instance, host, { lines: 10, follow: false });
    expect(verifyAccessToken(key, logs.token)).toMatchObject({ logs: { Container: 'abc123', Lines: 10, Follow: false } });
    const proxy = hostAccess('stage-secret', 'proxy', instance, host, { port: 8080 });
    expect([proxy.scheme, proxy.path]).toEqual(['http', '/v1/container-proxy/']);
    const proxied = verifyAccessToken(key, proxy.token)!;
    expect(proxied).toMatchObject({ proxy: { address: '10.42.0.7:8080', scheme: 'http' } });
    expect(proxied.exp - proxied.iat).toBe(57_600);
    expect(hostAccess('stage-secret', 'console', instance, host, {}).path).toBe('/v1/console/');
  });

  it("points at the host's access server when its agent advertised one", () => {
    const served = { ...host, fields: { ...host.fields, accessUrl: 'https://node-1.example.com:9345' } } as unknown as Resource;
    expect(hostAccess('stage-secret', 'logs', instance, served, {}).origin).toBe('https://node-1.example.com:9345');
  });
});
