/**
 * @module
 * Resource labels as dcmgr takes them on create (`labels[][name]=&labels[][value]=`, `labels[n][name]=…`, or
 * `labels[name]=value`) and shows them (`[{resource_uuid, name, value_type, value, created_at, updated_at}]`).
 * Drover keeps them in the record's `labels` field as a name → value map.
 */
import type { Resource } from '../store/item.js';
import { DcmgrError } from './errors.js';
import { isoTime } from './response.js';

/** dcmgr's `ResourceLabel` value types: a string up to 255 bytes, else a blob. */
const STRING_VALUE = 1;
const BLOB_VALUE = 2;
const STRING_VALUE_MAX_BYTES = 255;

/** Most labels one resource takes, and the longest name and value, so one record stays small. */
const MAX_LABELS = 64;
const MAX_NAME = 255;
const MAX_VALUE = 4096;

/**
 * The `labels` parameter as a name → value map; `undefined` when absent or empty. A blank name or value, or
 * another shape, is `InvalidParameter`.
 *
 * @example
 * labelsParam({ labels: [{ name: 'role', value: 'web' }] }) // { role: 'web' }
 * labelsParam({ labels: { role: 'web' } }) // { role: 'web' }
 */
export function labelsParam(params: Record<string, unknown>): Record<string, string> | undefined {
  const given = params.labels;
  if (given === undefined || given === '' || given === null) return undefined;
  if (typeof given !== 'object') throw new DcmgrError('InvalidParameter', 'labels: must be name/value pairs');
  const out: Record<string, string> = {};
  for (const [key, name, value] of labelPairs(given)) {
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME) {
      throw new DcmgrError('InvalidParameter', `blank or overlong name parameter from labels[${key}]`);
    }
    if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_VALUE) {
      throw new DcmgrError('InvalidParameter', `blank or overlong value parameter from labels[${key}]`);
    }
    out[name] = value;
  }
  if (Object.keys(out).length > MAX_LABELS) throw new DcmgrError('InvalidParameter', `labels: at most ${MAX_LABELS}`);
  return Object.keys(out).length ? out : undefined;
}

/**
 * The `[key, name, value]` triples of a `labels` parameter. `labels[n][name]=…` gives an object per label and
 * `labels[name]=value` the value itself; repeated `labels[][name]=…&labels[][value]=…` pairs reach us as one
 * object of parallel arrays, which Rack would have split into one object per pair.
 */
function labelPairs(given: object): [string, unknown, unknown][] {
  const out: [string, unknown, unknown][] = [];
  for (const [key, entry] of Object.entries(given)) {
    if (typeof entry !== 'object' || entry === null) {
      out.push([key, key, entry]);
      continue;
    }
    const { name, value } = entry as Record<string, unknown>;
    if (Array.isArray(name) && Array.isArray(value) && name.length === value.length) {
      name.forEach((n, i) => out.push([`${key}][${i}`, n, value[i]]));
    } else out.push([key, name, value]);
  }
  return out;
}

/**
 * A resource's labels as dcmgr shows them, dated with the resource; `uuid` is its Wakame id (an instance's is
 * derived, a record's is its id).
 *
 * @example
 * presentLabels(sg) // [{ resource_uuid: 'sg-…', name: 'role', value_type: 1, value: 'web', created_at: '…Z', updated_at: '…Z' }]
 */
export function presentLabels(res: Resource, uuid = res.id): Record<string, unknown>[] {
  const labels = (res.fields.labels ?? {}) as Record<string, string>;
  return Object.entries(labels).map(([name, value]) => ({
    resource_uuid: uuid,
    name,
    value_type: Buffer.byteLength(value) <= STRING_VALUE_MAX_BYTES ? STRING_VALUE : BLOB_VALUE,
    value,
    created_at: isoTime(res.created),
    updated_at: isoTime(res.updated),
  }));
}
