/**
 * @module
 * The one check that an answer is Rancher's error resource (spec §1.9) with a given status and code.
 */
import { expect } from 'vitest';
import type { Reply } from './client.js';

/**
 * Asserts a Rancher error resource: the HTTP status, `type: "error"`, `status` and `code`, empty `links` and
 * `actions`, an `id`, and `fieldName` when one is named.
 *
 * @example
 * expectError(await a.post('/v1/containers', {}), 422, 'MissingRequired', 'imageUuid');
 */
export function expectError(r: Reply, status: number, code: string, fieldName?: string): void {
  expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(status);
  expect(r.body).toMatchObject({ type: 'error', status, code });
  expect(r.body.links).toEqual({});
  expect(r.body.actions).toEqual({});
  expect(typeof r.body.id).toBe('string');
  if (fieldName !== undefined) expect(r.body.fieldName).toBe(fieldName);
}
