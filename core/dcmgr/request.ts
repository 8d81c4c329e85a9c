/**
 * @module
 * Reading a dcmgr request: the API version and output format from the path (`/api/12.03/instances.yml`), and
 * the parameters as Sinatra gave them to dcmgr: query and form fields with nesting (`vifs[eth0][network]=`,
 * `a[]=`), or a JSON/YAML body whose single top-level value is the parameters (`{"instance":{...}}`).
 */
import qs from 'qs';
import YAML from 'yaml';
import { DcmgrError } from './errors.js';

/** The two generations of the API: 11.12 (seed 004, removed from dcmgr in 2014) and 12.03. */
export type ApiVersion = '11.12' | '12.03';
export const API_VERSIONS: readonly ApiVersion[] = ['11.12', '12.03'];

/** Output format, picked by the path's suffix. */
export type Format = 'json' | 'yml';

export interface DcmgrPath {
  version: ApiVersion;
  format: Format;
  /** Path segments after the version, the suffix removed (`['instances', 'i-4cnb8vd1', 'reboot']`). */
  segments: string[];
}

/**
 * Splits an `/api/...` path. `/api/<resource>` without a version is 11.12, as dcmgr mounted it before 2014.
 *
 * @example
 * parseDcmgrPath('/api/12.03/instances/i-4cnb8vd1.yml') // { version: '12.03', format: 'yml', segments: ['instances', 'i-4cnb8vd1'] }
 */
export function parseDcmgrPath(pathname: string): DcmgrPath {
  const segs = pathname.split('/').filter(Boolean).slice(1).map(decodeSegment);
  const version = (API_VERSIONS as readonly string[]).includes(segs[0]) ? (segs.shift() as ApiVersion) : '11.12';
  let format: Format = 'json';
  const last = segs.length - 1;
  const m = last >= 0 ? /^(.*)\.(json|yml)$/.exec(segs[last]) : null;
  if (m) {
    segs[last] = m[1];
    format = m[2] as Format;
  }
  return { version, format, segments: segs };
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw new DcmgrError('InvalidParameter', `Malformed path segment ${seg.slice(0, 64)}`);
  }
}

/** Nesting as deep as dcmgr's parameters go (`vifs[eth0][security_groups][]`), with room; deeper is refused. */
const QS_OPTIONS: qs.IParseOptions = { depth: 6, strictDepth: true, arrayLimit: 256, parameterLimit: 2000, plainObjects: true };

/** Parameters as Sinatra parses a query or form string. */
function parseForm(text: string): Record<string, unknown> {
  try {
    return qs.parse(text, QS_OPTIONS) as Record<string, unknown>;
  } catch (e) {
    throw new DcmgrError('InvalidParameter', `Parameters are nested too deeply: ${(e as Error).message}`);
  }
}

/** Content types whose body is a document rather than form fields. */
function bodyKind(text: string, contentType: string | undefined): 'json' | 'yaml' | 'form' {
  const type = contentType?.toLowerCase() ?? '';
  if (type.includes('json')) return 'json';
  if (type.includes('yaml')) return 'yaml';
  // Plain `curl -d '{...}'` labels JSON as a form; form data never starts with `{` (it would be a field name).
  return text.trimStart().startsWith('{') ? 'json' : 'form';
}

/**
 * A request's parameters: the query's, then the body's over them. A JSON or YAML body must be one object holding
 * the parameters under a single key whose name is ignored (dcmgr merges `hash.values.first`).
 *
 * @example
 * readParams('image_id=wmi-x&vifs[eth0][network]=nw-demo1', '', 'application/x-www-form-urlencoded')
 * // { image_id: 'wmi-x', vifs: { eth0: { network: 'nw-demo1' } } }
 * readParams('{"instance":{"image_id":"wmi-x"}}', '', 'application/json') // { image_id: 'wmi-x' }
 */
export function readParams(text: string, query: string, contentType?: string): Record<string, unknown> {
  const out = parseForm(query);
  if (!text.trim()) return out;
  const kind = bodyKind(text, contentType);
  if (kind === 'form') return { ...out, ...parseForm(text) };
  let doc: unknown;
  try {
    doc = kind === 'json' ? JSON.parse(text) : YAML.parse(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new DcmgrError('InvalidParameter', `The ${kind === 'json' ? 'JSON' : 'YAML'} body does not parse: ${(e as Error).message}`);
  }
  const wrapper = isPlainObject(doc) ? Object.values(doc) : [];
  if (isPlainObject(doc) && wrapper.length === 0) return out;
  if (wrapper.length !== 1 || !isPlainObject(wrapper[0])) {
    throw new DcmgrError(
      'InvalidParameter',
      'A JSON or YAML body is one object holding the parameters under a single key, e.g. {"instance":{"image_id":"wmi-…"}}',
    );
  }
  return { ...out, ...wrapper[0] };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
