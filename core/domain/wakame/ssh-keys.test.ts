/**
 * SSH keys: generated pairs agree with themselves, with Node's crypto and with OpenSSH's `ssh-keygen`; public keys
 * written by `ssh-keygen` parse with the fingerprints it printed; malformed keys get a reason.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidSshPublicKeyError,
  MAX_PUBLIC_KEY_LENGTH,
  generateKeyPair,
  md5Fingerprint,
  parsePublicKey,
  type GeneratedSshKeyPair,
} from './ssh-keys.js';

/**
 * Keys written by `ssh-keygen -t <type> -C 'fixture <name>'` (OpenSSH 9.2p1), with the fingerprint
 * `ssh-keygen -l -E md5` printed for each.
 */
const SSH_KEYGEN_FIXTURES = [
  {
    type: 'ssh-rsa',
    line: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC+2L408QMYGZFWUPNHnUn7P9XJ3tvzhDF75Q5d/SmUAfbHfswFoxY9YCehaOaC4BZo/wHA42nPM2VJT3XecSMhe57TIil6uY0RTtEplh9pnEz9YsCOyyoOOPwdye3V6hjP7S7S7UOqC+SDk8b5Soxh1dLR7kr79tVQpmZi4UovuQ== fixture k_rsab1024',
    fingerprint: 'ed:fb:11:65:ea:41:80:7a:45:79:50:ce:dd:ed:8d:88',
  },
  {
    type: 'ssh-ed25519',
    line: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBMJJ7BR91cQrY4H6T139+7t3cJsuxzYaVkgPFzUIck/ fixture k_ed25519',
    fingerprint: 'e5:40:64:cf:3c:7c:59:bc:a2:83:2a:93:e4:c4:ba:66',
  },
  {
    type: 'ecdsa-sha2-nistp256',
    line: 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBD3lYn8+YaSzEId1S+EVboRiHsYmQbqaEb7n6kEUT00Iafdz34k7TUHhkbThfq0j4dQ2QOV8tkFDovg7tDtP18w= fixture k_ecdsab256',
    fingerprint: '5d:87:6d:f7:b5:4c:fb:be:b5:35:30:43:a6:7c:19:b6',
  },
  {
    type: 'ecdsa-sha2-nistp384',
    line: 'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBL2KMJFX1A2nC8B6QauuaZ/QbP3Nj1c/rJYOZGJaAPgPAcD7jH9mJc3RuS8XUu/fCoAlR7XYFakCNnBlF+dE1zgFwH/XfSmB9tlYZQxGgXtzIt4iYjPvM/aeOj+u27d1rA== fixture k_ecdsab384',
    fingerprint: 'bf:e7:eb:fe:bc:15:84:65:8d:b4:31:c6:04:da:dd:fc',
  },
  {
    type: 'ecdsa-sha2-nistp521',
    line: 'ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAG7u3kePwBqRUiZmWL8tO1qQ9JaFQg7/QUX3VHnJbWFdZprl0/QA9v3RJQ3whyjyq9sS4/XeunUw6A4qR0ksuCrawFnw7nRK54tGNZFEWqNWMKb4g+go0GqJGl4BrAzvn+Heh3K3Dtx0VWCKimXBHS2VoW/tJwqYjDCB1DkI1cLQJG9iQ== fixture k_ecdsab521',
    fingerprint: '89:05:f5:eb:8c:41:0c:fe:f7:f5:8c:d4:16:7e:04:34',
  },
  {
    type: 'ssh-dss',
    line: 'ssh-dss AAAAB3NzaC1kc3MAAACBAIUEmTfqUJ43/S7HGFIPnPaFoZSZCKmkruzRStiTOEYl3L2Bsn8EjpwfJpnzOQ0MbdxsXzWlsyn6Ku3Y494Z902b0/aEn9ncy3227sb8Z6M8TFjSlZg9stvMoPfedIRMqqDYimH5vE1nlcFT3O1AsUAy5vvJlU90IW1Rjw5qkTWBAAAAFQCSNFPILMcfPSuSqHU2DaM8e74O1wAAAIBoXZVSKJoDkAqULXAClY388xluqhPFTVizdjlFGZM9gGnKSHPXn+gorvM9qXalf5neo/2epV4xD1H/8EfqcFmwAG3YELLWVK3V++Gqf7aal7z9legXErU/oBjplf4AjJA3/anrRxYsgmpTD2y3T10wDaMEjP2mYVjOfsda3z01NgAAAIBEyIYx2XCwdwlQw2lFMcZtXGDze568M8cWW0PxDIsS6riBTQ9E534yFzYZg5T3sWaXm2qGXr3tXkbFnsXAXR2vBVD7vdWKJSeGH1Js2ykgUX72H3XYRHLrIm12XVROtt5Ru8QW+h6M3VUX/p8XkpKMSZmqu8CDJ/5/KBGTsdDVNA== fixture k_dsa',
    fingerprint: '5b:76:0f:c7:dd:9e:f1:8a:3b:e4:9b:a4:2f:66:1c:72',
  },
];

const [RSA_FIXTURE, ED25519_FIXTURE, P256_FIXTURE] = SSH_KEYGEN_FIXTURES;

/** The length-prefixed fields of an SSH wire blob, read independently of the module under test. */
function wireFields(blob: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  for (let offset = 0; offset < blob.length; ) {
    const length = blob.readUInt32BE(offset);
    fields.push(blob.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return fields;
}

/** Length-prefixed wire encoding of each part, concatenated. */
function wireBlob(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      const bytes = Buffer.from(part);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

/** The base64 key data of an OpenSSH public key line. */
function keyDataOf(line: string): Buffer {
  return Buffer.from(line.split(' ')[1], 'base64');
}

/** The reason `parsePublicKey(text)` gives (fails the test if it accepts the key, or throws something else). */
function rejectionOf(text: string): string {
  try {
    parsePublicKey(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSshPublicKeyError);
    expect((err as Error).message).toBe(`Invalid SSH public key: ${(err as InvalidSshPublicKeyError).reason}`);
    return (err as InvalidSshPublicKeyError).reason;
  }
  throw new Error(`parsePublicKey accepted ${JSON.stringify(text.slice(0, 80))}`);
}

describe('generateKeyPair', () => {
  let pair: GeneratedSshKeyPair;
  beforeAll(async () => {
    pair = await generateKeyPair('ssh-cxkqxlwx');
  });

  it('writes an OpenSSH ssh-rsa line with the comment, a PKCS#1 PEM private key and an MD5 fingerprint', () => {
    expect(pair.publicKey).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/]+={0,2} ssh-cxkqxlwx$/);
    expect(pair.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END RSA PRIVATE KEY-----\n$/);
    expect(pair.fingerprint).toMatch(/^[0-9a-f]{2}(?::[0-9a-f]{2}){15}$/);
    expect(createPrivateKey(pair.privateKey)).toMatchObject({ asymmetricKeyType: 'rsa', asymmetricKeyDetails: { modulusLength: 2048 } });
  });

  it('encodes e and n as mpints, n with the leading zero its high bit needs', () => {
    const [type, e, n, ...rest] = wireFields(keyDataOf(pair.publicKey));
    expect(type.toString()).toBe('ssh-rsa');
    expect(e.toString('hex')).toBe('010001');
    expect(n.length).toBe(257);
    expect(n[0]).toBe(0);
    expect(n[1] & 0x80).toBe(0x80);
    expect(rest).toEqual([]);
  });

  it("holds the PEM private key's public half in the OpenSSH key", () => {
    const [, e, n] = wireFields(keyDataOf(pair.publicKey));
    const jwk = createPublicKey(pair.privateKey).export({ format: 'jwk' });
    expect(Buffer.from(jwk.e!, 'base64url').equals(e)).toBe(true);
    expect(Buffer.from(jwk.n!, 'base64url').equals(n.subarray(1))).toBe(true);
  });

  it('round-trips through parsePublicKey with the same fingerprint', () => {
    const parsed = parsePublicKey(pair.publicKey);
    expect(parsed).toMatchObject({ type: 'ssh-rsa', comment: 'ssh-cxkqxlwx', fingerprint: pair.fingerprint });
    expect(parsed.blob.equals(keyDataOf(pair.publicKey))).toBe(true);
    expect(md5Fingerprint(parsed.blob)).toBe(pair.fingerprint);
  });

  it('makes a new key every time, leaves off an empty comment, and refuses a multi-line one', async () => {
    const other = await generateKeyPair('');
    expect(other.fingerprint).not.toBe(pair.fingerprint);
    expect(other.publicKey).toMatch(/^ssh-rsa [A-Za-z0-9+/]+={0,2}$/);
    expect(parsePublicKey(other.publicKey)).toMatchObject({ comment: '', fingerprint: other.fingerprint });
    await expect(generateKeyPair('a\nssh-rsa AAAA evil')).rejects.toThrow(RangeError);
  });

  describe('as OpenSSH sees it', () => {
    let directory: string;
    beforeAll(() => {
      directory = mkdtempSync(join(tmpdir(), 'drover-ssh-keys-'));
      writeFileSync(join(directory, 'id_rsa'), pair.privateKey, { mode: 0o600 });
      writeFileSync(join(directory, 'id_rsa.pub'), `${pair.publicKey}\n`);
    });
    afterAll(() => rmSync(directory, { recursive: true, force: true }));

    it('ssh-keygen -l -E md5 prints the same fingerprint', () => {
      const listing = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', join(directory, 'id_rsa.pub')], { encoding: 'utf8' });
      expect(listing.trim()).toBe(`2048 MD5:${pair.fingerprint} ssh-cxkqxlwx (RSA)`);
    });

    it('ssh-keygen -y derives the same public key from the PEM private key', () => {
      const derived = execFileSync('ssh-keygen', ['-y', '-f', join(directory, 'id_rsa')], { encoding: 'utf8' });
      expect(derived.trim().split(' ').slice(0, 2).join(' ')).toBe(pair.publicKey.split(' ').slice(0, 2).join(' '));
    });
  });
});

describe('parsePublicKey', () => {
  it.each(SSH_KEYGEN_FIXTURES)('reads the $type key ssh-keygen wrote, with the fingerprint it printed', ({ type, line, fingerprint }) => {
    const parsed = parsePublicKey(line);
    expect(parsed).toMatchObject({ type, comment: line.split(' ').slice(2).join(' '), fingerprint });
    expect(parsed.blob.equals(keyDataOf(line))).toBe(true);
  });

  it('ignores surrounding whitespace, keeps spaces inside the comment, and allows no comment', () => {
    const [type, keyData] = ED25519_FIXTURE.line.split(' ');
    expect(parsePublicKey(`\n  ${type}\t${keyData}   alice @ laptop  \r\n`)).toMatchObject({ type, comment: 'alice @ laptop' });
    expect(parsePublicKey(`${type} ${keyData}`)).toMatchObject({ comment: '', fingerprint: ED25519_FIXTURE.fingerprint });
  });

  it('rejects text that is not one key line', () => {
    expect(rejectionOf('')).toBe('empty');
    expect(rejectionOf(' \n\t')).toBe('empty');
    expect(rejectionOf(`${RSA_FIXTURE.line}\n${ED25519_FIXTURE.line}`)).toBe('must be a single line holding one key');
    expect(rejectionOf(`${ED25519_FIXTURE.line}\u2028x`)).toBe('must be a single line holding one key');
    expect(rejectionOf(`${ED25519_FIXTURE.line}\u0000`)).toBe('contains control characters');
    expect(rejectionOf(`${ED25519_FIXTURE.line} ${'x'.repeat(MAX_PUBLIC_KEY_LENGTH)}`)).toBe(
      `longer than ${MAX_PUBLIC_KEY_LENGTH} characters`,
    );
    expect(rejectionOf('ssh-ed25519')).toBe('no key data after "ssh-ed25519"');
  });

  it('rejects unsupported types, authorized_keys options, certificates and private keys', () => {
    const expected = 'expected one of ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-dss';
    expect(rejectionOf('ssh-foo AAAA')).toBe(`unsupported key type "ssh-foo" (${expected})`);
    expect(rejectionOf(`from="10.0.0.1" ${RSA_FIXTURE.line}`)).toBe(`unsupported key type "from=\\"10.0.0.1\\"" (${expected})`);
    expect(rejectionOf('ssh-rsa-cert-v01@openssh.com AAAA')).toMatch(/^unsupported key type "ssh-rsa-cert-v01@openssh.com"/);
    expect(rejectionOf('-----BEGIN RSA PRIVATE KEY----- MIIE')).toMatch(/^unsupported key type "-----BEGIN"/);
  });

  it('rejects key data that is not canonical base64', () => {
    const [type, keyData] = ED25519_FIXTURE.line.split(' ');
    expect(rejectionOf(`${type} ${keyData.slice(0, -1)}`)).toBe('the key data is not valid base64');
    expect(rejectionOf(`${type} AAAA!!!!`)).toBe('the key data is not valid base64');
    expect(rejectionOf(`${type} ${keyData.replace(/\//g, '_')}`)).toBe('the key data is not valid base64');
    // Non-zero padding bits before the `=` ('x' is 'w' + 1): Node decodes it to the same key, OpenSSH never writes it.
    const [p256Type, p256KeyData] = P256_FIXTURE.line.split(' ');
    expect(p256KeyData.endsWith('w=')).toBe(true);
    expect(Buffer.from(`${p256KeyData.slice(0, -2)}x=`, 'base64').equals(keyDataOf(P256_FIXTURE.line))).toBe(true);
    expect(rejectionOf(`${p256Type} ${p256KeyData.slice(0, -2)}x=`)).toBe('the key data is not valid base64');
  });

  it('rejects key data whose type is not the declared one', () => {
    const ed25519KeyData = ED25519_FIXTURE.line.split(' ')[1];
    expect(rejectionOf(`ssh-rsa ${ed25519KeyData}`)).toBe('the key data is for "ssh-ed25519", not "ssh-rsa"');
    expect(rejectionOf(`ssh-rsa ${Buffer.from('not ssh wire data').toString('base64')}`)).toBe(
      'the key data ends inside the key type',
    );
  });

  it('rejects RSA key data without a usable e and n', () => {
    const [, e, n] = wireFields(keyDataOf(RSA_FIXTURE.line));
    const rsa = (...fields: Buffer[]) => `ssh-rsa ${wireBlob('ssh-rsa', ...fields).toString('base64')}`;
    expect(rejectionOf(rsa())).toBe('the key data ends before the RSA exponent e');
    expect(rejectionOf(rsa(e))).toBe('the key data ends before the RSA modulus n');
    expect(rejectionOf(rsa(e, Buffer.alloc(0)))).toBe('the RSA modulus n is zero');
    expect(rejectionOf(rsa(Buffer.from([0, 0]), n))).toBe('the RSA exponent e is zero');
    expect(rejectionOf(rsa(e, n.subarray(1)))).toBe('the RSA modulus n is negative');
    expect(rejectionOf(rsa(e, n, Buffer.from('extra')))).toBe('9 unexpected bytes after the key');
    const truncated = keyDataOf(RSA_FIXTURE.line).subarray(0, 100);
    expect(rejectionOf(`ssh-rsa ${truncated.toString('base64')}`)).toBe('the key data ends inside the RSA modulus n');
    const hugeLength = Buffer.concat([wireBlob('ssh-rsa'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1])]);
    expect(rejectionOf(`ssh-rsa ${hugeLength.toString('base64')}`)).toBe('the key data ends inside the RSA exponent e');
  });

  it('rejects DSA key data missing a parameter', () => {
    const [, p, q, g] = wireFields(keyDataOf(SSH_KEYGEN_FIXTURES[5].line));
    expect(rejectionOf(`ssh-dss ${wireBlob('ssh-dss', p, q, g).toString('base64')}`)).toBe(
      'the key data ends before the DSA parameter y',
    );
  });

  it('rejects an Ed25519 key of the wrong length', () => {
    const [, key] = wireFields(keyDataOf(ED25519_FIXTURE.line));
    expect(rejectionOf(`ssh-ed25519 ${wireBlob('ssh-ed25519', key.subarray(1)).toString('base64')}`)).toBe(
      'the Ed25519 key is 31 bytes, not 32',
    );
  });

  it('rejects ECDSA key data for another curve, a compressed point, or a point off the curve', () => {
    const [, , point] = wireFields(keyDataOf(P256_FIXTURE.line));
    const p256 = (curve: string, q: Buffer) => `ecdsa-sha2-nistp256 ${wireBlob('ecdsa-sha2-nistp256', curve, q).toString('base64')}`;
    expect(parsePublicKey(p256('nistp256', point)).fingerprint).toBe(P256_FIXTURE.fingerprint);
    expect(rejectionOf(p256('nistp384', point))).toBe('the ECDSA curve is "nistp384", not "nistp256"');
    const compressed = Buffer.concat([Buffer.from([2 + (point[64] & 1)]), point.subarray(1, 33)]);
    expect(rejectionOf(p256('nistp256', compressed))).toBe('the ECDSA point is not an uncompressed nistp256 point');
    const offCurve = Buffer.from(point);
    offCurve[64] ^= 1;
    expect(rejectionOf(p256('nistp256', offCurve))).toBe('the ECDSA point is not on the nistp256 curve');
  });
});
