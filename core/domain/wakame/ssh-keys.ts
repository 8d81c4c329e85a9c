/** @module Generates and checks the keys of Wakame-VDC ssh key pairs: OpenSSH, PKCS#1 PEM, MD5 fingerprints. */
import { createHash, createPublicKey, generateKeyPair as generateRsaKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

/** The longest public key text `parsePublicKey` reads, in characters; an RSA 16384-bit key is about 2.8 KB. */
export const MAX_PUBLIC_KEY_LENGTH = 16 * 1024;

/** Key types `parsePublicKey` accepts (the `ssh-keygen -t` types of OpenSSH, certificates and FIDO keys excluded). */
export const SSH_PUBLIC_KEY_TYPES = [
  'ssh-rsa',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-dss',
] as const;

/** One of `SSH_PUBLIC_KEY_TYPES`. */
export type SshPublicKeyType = (typeof SSH_PUBLIC_KEY_TYPES)[number];

/** A freshly generated RSA key pair, as `POST /ssh_key_pairs` without a `public_key` returns it. */
export interface GeneratedSshKeyPair {
  /** OpenSSH one-line form: `ssh-rsa AAAA... <comment>`. */
  publicKey: string;
  /** PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), unencrypted, as `ssh-keygen -t rsa` wrote before OpenSSH 7.8. */
  privateKey: string;
  /** MD5 of the public key blob, colon-separated lowercase hex (`1a:2b:...`). */
  fingerprint: string;
}

/** A public key `parsePublicKey` accepted. */
export interface ParsedSshPublicKey {
  type: SshPublicKeyType;
  /** The decoded key data (the SSH wire encoding the base64 field holds). */
  blob: Buffer;
  /** Text after the key data, whitespace-trimmed; empty when there is none. */
  comment: string;
  /** MD5 of `blob`, colon-separated lowercase hex. */
  fingerprint: string;
}

/** A public key that is not a one-line OpenSSH key of a supported type (dcmgr's `InvalidSshPublicKey`, 400 code 173). */
export class InvalidSshPublicKeyError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid SSH public key: ${reason}`);
    this.name = 'InvalidSshPublicKeyError';
  }
}

/** The curve of each ECDSA key type: its SSH name, its JWK name and the length of a coordinate in bytes. */
const ECDSA_CURVES: Record<string, { curveName: string; jwkCurve: string; coordinateLength: number }> = {
  'ecdsa-sha2-nistp256': { curveName: 'nistp256', jwkCurve: 'P-256', coordinateLength: 32 },
  'ecdsa-sha2-nistp384': { curveName: 'nistp384', jwkCurve: 'P-384', coordinateLength: 48 },
  'ecdsa-sha2-nistp521': { curveName: 'nistp521', jwkCurve: 'P-521', coordinateLength: 66 },
};

const ED25519_KEY_LENGTH = 32;
const STRICT_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const CONTROL_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Generates an RSA 2048 key pair (public exponent 65537) the way dcmgr's `ssh-keygen -t rsa` did. It blocks for the
 * tens of milliseconds RSA generation takes. Throws `RangeError` if the comment is not one line of text.
 *
 * @example
 * const { publicKey, privateKey, fingerprint } = await generateKeyPair('ssh-cxkqxlwx');
 * // publicKey: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ... ssh-cxkqxlwx'
 * // privateKey: '-----BEGIN RSA PRIVATE KEY-----\nMIIE...'
 * // fingerprint: '1a:2b:...' (16 pairs)
 */
export async function generateKeyPair(comment: string): Promise<GeneratedSshKeyPair> {
  if (CONTROL_CHARACTER.test(comment)) throw new RangeError('the key comment must be one line without control characters');
  // Off the event loop: an RSA key takes 50-200 ms to find, which the other requests should not wait for.
  const keys = await promisify(generateRsaKeyPair)('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const jwk = keys.publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    sshMpint(Buffer.from(jwk.e!, 'base64url')),
    sshMpint(Buffer.from(jwk.n!, 'base64url')),
  ]);
  const trimmedComment = comment.trim();
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')}${trimmedComment ? ` ${trimmedComment}` : ''}`,
    privateKey: keys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    fingerprint: md5Fingerprint(blob),
  };
}

/**
 * Checks and decodes a one-line OpenSSH public key (`<type> <base64 key data> [comment]`, as in `id_rsa.pub`) of
 * a type in `SSH_PUBLIC_KEY_TYPES`. The key data must be canonical base64, must start with the declared type, and
 * must hold exactly that type's fields: RSA e and n, DSA p, q, g and y (positive integers), a 32-byte Ed25519 key,
 * or an uncompressed ECDSA point on the named curve. Surrounding whitespace is ignored. Throws
 * `InvalidSshPublicKeyError` otherwise, and for text over `MAX_PUBLIC_KEY_LENGTH` characters.
 *
 * @example
 * const key = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBMJJ7BR91cQrY4H6T139+7t3cJsuxzYaVkgPFzUIck/ me@laptop\n');
 * // key.type === 'ssh-ed25519', key.comment === 'me@laptop', key.fingerprint === 'e5:40:64:cf:3c:7c:59:bc:a2:83:2a:93:e4:c4:ba:66'
 */
export function parsePublicKey(text: string): ParsedSshPublicKey {
  if (text.length > MAX_PUBLIC_KEY_LENGTH) {
    throw new InvalidSshPublicKeyError(`longer than ${MAX_PUBLIC_KEY_LENGTH} characters`);
  }
  const line = text.trim();
  if (line === '') throw new InvalidSshPublicKeyError('empty');
  if (/[\r\n\u2028\u2029]/.test(line)) throw new InvalidSshPublicKeyError('must be a single line holding one key');
  if (CONTROL_CHARACTER.test(line)) throw new InvalidSshPublicKeyError('contains control characters');
  const [, declaredType, base64KeyData, comment = ''] = /^(\S+)(?:\s+(\S+)(?:\s+([\s\S]*))?)?$/.exec(line)!;
  if (!isSupportedType(declaredType)) {
    throw new InvalidSshPublicKeyError(
      `unsupported key type ${quote(declaredType)} (expected one of ${SSH_PUBLIC_KEY_TYPES.join(', ')})`,
    );
  }
  if (base64KeyData === undefined) throw new InvalidSshPublicKeyError(`no key data after ${quote(declaredType)}`);
  const blob = decodeStrictBase64(base64KeyData);
  if (blob === undefined) throw new InvalidSshPublicKeyError('the key data is not valid base64');
  checkKeyData(declaredType, blob);
  return { type: declaredType, blob, comment, fingerprint: md5Fingerprint(blob) };
}

/**
 * The legacy OpenSSH fingerprint of a public key blob: its MD5 as colon-separated lowercase hex, as dcmgr stored in
 * `finger_print` and `ssh-keygen -l -E md5` prints (after `MD5:`).
 *
 * @example
 * md5Fingerprint(Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIBMJJ7BR91cQrY4H6T139+7t3cJsuxzYaVkgPFzUIck/', 'base64'))
 * // 'e5:40:64:cf:3c:7c:59:bc:a2:83:2a:93:e4:c4:ba:66'
 */
export function md5Fingerprint(blob: Buffer): string {
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
}

function isSupportedType(type: string): type is SshPublicKeyType {
  return (SSH_PUBLIC_KEY_TYPES as readonly string[]).includes(type);
}

/** The bytes of canonical padded base64 (what `ssh-keygen` writes), or undefined for anything Node would guess at. */
function decodeStrictBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !STRICT_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Throws unless `blob` is the wire encoding of a `type` key, field by field, with nothing after it. */
function checkKeyData(type: SshPublicKeyType, blob: Buffer): void {
  const reader = new SshWireReader(blob);
  const blobType = reader.readString('key type');
  if (!blobType.equals(Buffer.from(type))) {
    throw new InvalidSshPublicKeyError(`the key data is for ${quote(blobType.toString('latin1'))}, not ${quote(type)}`);
  }
  switch (type) {
    case 'ssh-rsa':
      reader.readPositiveMpint('RSA exponent e');
      reader.readPositiveMpint('RSA modulus n');
      break;
    case 'ssh-dss':
      for (const field of ['p', 'q', 'g', 'y']) reader.readPositiveMpint(`DSA parameter ${field}`);
      break;
    case 'ssh-ed25519': {
      const key = reader.readString('Ed25519 key');
      if (key.length !== ED25519_KEY_LENGTH) {
        throw new InvalidSshPublicKeyError(`the Ed25519 key is ${key.length} bytes, not ${ED25519_KEY_LENGTH}`);
      }
      break;
    }
    default: {
      const { curveName, jwkCurve, coordinateLength } = ECDSA_CURVES[type];
      const blobCurveName = reader.readString('ECDSA curve name').toString('latin1');
      if (blobCurveName !== curveName) {
        throw new InvalidSshPublicKeyError(`the ECDSA curve is ${quote(blobCurveName)}, not ${quote(curveName)}`);
      }
      const point = reader.readString('ECDSA point');
      if (point.length !== 1 + 2 * coordinateLength || point[0] !== 0x04) {
        throw new InvalidSshPublicKeyError(`the ECDSA point is not an uncompressed ${curveName} point`);
      }
      const x = point.subarray(1, 1 + coordinateLength).toString('base64url');
      const y = point.subarray(1 + coordinateLength).toString('base64url');
      try {
        createPublicKey({ key: { kty: 'EC', crv: jwkCurve, x, y }, format: 'jwk' });
      } catch {
        throw new InvalidSshPublicKeyError(`the ECDSA point is not on the ${curveName} curve`);
      }
    }
  }
  reader.expectEnd();
}

/** Reads the length-prefixed strings and mpints of the SSH wire format (RFC 4251 §5), throwing on malformed data. */
class SshWireReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  /** A uint32 length, then that many bytes. */
  readString(what: string): Buffer {
    if (this.bytes.length - this.offset < 4) throw new InvalidSshPublicKeyError(`the key data ends before the ${what}`);
    const length = this.bytes.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (length > this.bytes.length - start) throw new InvalidSshPublicKeyError(`the key data ends inside the ${what}`);
    this.offset = start + length;
    return this.bytes.subarray(start, this.offset);
  }

  /** A two's-complement big-endian integer, which must be above zero. */
  readPositiveMpint(what: string): void {
    const value = this.readString(what);
    if (value.length > 0 && value[0] & 0x80) throw new InvalidSshPublicKeyError(`the ${what} is negative`);
    if (value.every((byte) => byte === 0)) throw new InvalidSshPublicKeyError(`the ${what} is zero`);
  }

  expectEnd(): void {
    const extra = this.bytes.length - this.offset;
    if (extra > 0) throw new InvalidSshPublicKeyError(`${extra} unexpected bytes after the key`);
  }
}

/** A uint32 big-endian length, then the bytes. */
function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An unsigned big-endian magnitude as an SSH mpint: minimal, with a 0x00 in front when the high bit is set. */
function sshMpint(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const minimal = magnitude.subarray(start);
  return sshString(minimal.length > 0 && minimal[0] & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

/** `text` in double quotes for an error message, cut to 60 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
