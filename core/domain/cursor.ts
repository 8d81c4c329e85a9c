/**
 * @module
 * Opaque pagination markers: the last row's sort key, bound to the query it came from and HMAC-signed,
 * so a client can neither forge positions nor reuse a marker with other filters.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';

/** Position after which the next page starts: the sort value and numeric id of the last row returned. */
export type CursorKey = [unknown, number];

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A stable fingerprint of a query (type, scope, filters, sort), to bind markers to it.
 *
 * @example
 * queryHash({ type: 'container', filters: [['state', 'eq', 'running']] })
 */
export function queryHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

/**
 * Encodes and signs a marker.
 *
 * @example
 * const marker = encodeCursor(secret, hash, ['web', 42]);
 */
export function encodeCursor(secret: string, hash: string, key: CursorKey): string {
  const body = b64(JSON.stringify({ q: hash, k: key }));
  const sig = createHmac('sha256', secret).update(body).digest().subarray(0, 16);
  return `${body}.${b64(sig)}`;
}

/**
 * Verifies and decodes a marker for this query; a forged, corrupted or foreign marker is a 422 on `marker`.
 *
 * @example
 * const key = decodeCursor(secret, hash, c.req.query('marker'));
 */
export function decodeCursor(secret: string, hash: string, marker: string): CursorKey {
  const parts = marker.split('.');
  const bad = (detail: string) => new ValidationError('InvalidFormat', 'marker', detail);
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw bad('marker is not one this server issued');
  const [body, sig] = parts;
  // Compare the canonical text of the signature: base64url decoding is lenient (trailing bits, stray
  // characters), so comparing decoded bytes would accept altered markers.
  const want = Buffer.from(b64(createHmac('sha256', secret).update(body).digest().subarray(0, 16)));
  const got = Buffer.from(sig);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw bad('marker is not one this server issued');
  const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { q: string; k: CursorKey };
  if (parsed.q !== hash) throw bad('marker belongs to a different query (filters or sort changed)');
  return parsed.k;
}
