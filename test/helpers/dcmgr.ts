/**
 * @module
 * Talking to `/api` as Wakame's clients do: form-encoded writes (mussel's curl), YAML answers with Ruby symbol
 * keys read back as plain objects, and the one check of a dcmgr error body.
 */
import qs from 'qs';
import { expect } from 'vitest';
import YAML from 'yaml';
import type { Client, Reply } from './client.js';

/**
 * Sends `params` form-encoded, nested as dcmgr reads them (`labels[role]=web`), as mussel's curl does.
 *
 * @example
 * const r = await sendForm(api, 'POST', '/api/12.03/security_groups', { rule: 'tcp:22,22,ip4:0.0.0.0/0' });
 */
export function sendForm(client: Client, method: 'POST' | 'PUT' | 'DELETE', path: string, params: Record<string, unknown>): Promise<Reply> {
  return client.request(method, path, undefined, {
    raw: qs.stringify(params, { encodeValuesOnly: true }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

/**
 * A YAML answer as plain data: Ruby symbol keys (`:id:`) lose their colon.
 *
 * @example
 * fromYaml((await api.get('/api/12.03/images/wmi-centos1d64.yml')).text) // { id: 'wmi-centos1d64', ... }
 */
export function fromYaml(text: string): any {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/^:/, ''), strip(x)]));
  };
  return strip(YAML.parse(text));
}

/**
 * Asserts a dcmgr error answer: the status and `{error: 'Dcmgr::Endpoints::<kind>' (Drover's own kinds under
 * `Drover::`), code, message}`; the message is matched exactly, or by a pattern.
 *
 * @example
 * expectDcmgrError(await api.get('/api/12.03/images/nw-x'), 400, 'InvalidParameter', '143', 'Invalid UUID Syntax: nw-x');
 */
export function expectDcmgrError(r: Reply, status: number, kind: string, code: string, message?: string | RegExp): void {
  expect(r.status, r.text.slice(0, 300)).toBe(status);
  expect(Object.keys(r.body)).toEqual(['error', 'message', 'code']);
  expect(r.body.error).toMatch(new RegExp(`^(Dcmgr::Endpoints|Drover)::${kind}$`));
  expect(r.body.code).toBe(code);
  if (typeof message === 'string') expect(r.body.message).toBe(message);
  else if (message) expect(r.body.message).toMatch(message);
}
