/**
 * @module
 * Reading a Rancher request: the path after `/v1` (with the project sub-context), the JSON body whatever
 * its Content-Type (gdapi-python sends none), and query parameters merged under the body as cattle does.
 */
import { ApiError } from '../errors.js';
import { isJsonObject, parseJsonObject } from '../http/json.js';

export interface ParsedPath {
  /** Project named by a `/v1/projects/<id>/...` prefix. */
  urlProject: string | null;
  /** Path segments after `/v1` (and after the project prefix). */
  segments: string[];
}

/**
 * Splits a `/v1/...` path. `/v1/projects/<id>/<rest>` is the same API scoped to project `<id>`.
 *
 * @example
 * parseV1Path('/v1/projects/1a5/containers/1i3/') // { urlProject: '1a5', segments: ['containers', '1i3'] }
 */
export function parseV1Path(pathname: string): ParsedPath {
  const segs = pathname.split('/').filter(Boolean).slice(1).map(decodeSegment);
  if (segs[0]?.toLowerCase() === 'projects' && segs.length >= 3) {
    return { urlProject: segs[1], segments: segs.slice(2) };
  }
  return { urlProject: null, segments: segs };
}

/** A path segment, percent-decoded; a malformed escape (`%ZZ`) is a 400, not an unhandled URIError. */
function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch (e) {
    throw new ApiError(400, 'Bad Request', { message: `Malformed path segment ${seg}`, cause: e });
  }
}

/** Query parameters that steer the request and never become resource fields. */
const RESERVED = new Set(['action', 'projectId', '_method', '_format', 'limit', 'marker', 'sort', 'order', 'include']);

/** Parameters as an object: a repeated one becomes a list (`?dns=a&dns=b`), a single one stays a string. */
function paramsObject(params: URLSearchParams, skip: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const k of new Set(params.keys())) {
    if (skip.has(k) || k === '__proto__') continue;
    const all = params.getAll(k);
    out[k] = all.length === 1 ? all[0] : all;
  }
  return out;
}

/**
 * The request object of a POST/PUT: query parameters first, body keys over them. A body that is a JSON object
 * is JSON whatever the Content-Type says: gdapi-python sends none, and plain `curl -d '{...}'` labels JSON
 * `application/x-www-form-urlencoded`. Any other form-encoded body is read as form parameters, as cattle does.
 * An unparsable body, or JSON that is not an object, is `400 InvalidBodyContent`.
 *
 * @example
 * await readInput('{"imageUuid": "sim:web"}', new URLSearchParams('name=web&dns=a&dns=b'))
 * // { name: 'web', dns: ['a', 'b'], imageUuid: 'sim:web' }
 * await readInput('{"name": "vm1"}', new URLSearchParams(), 'application/x-www-form-urlencoded') // { name: 'vm1' }
 */
export async function readInput(
  text: string,
  query: URLSearchParams,
  contentType?: string,
): Promise<Record<string, unknown>> {
  const out = paramsObject(query, RESERVED);
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const json = jsonObjectIn(text);
    return { ...out, ...(json ?? paramsObject(new URLSearchParams(text), new Set())) };
  }
  return { ...out, ...parseJsonObject(text) };
}

/** The body as a JSON object if it is one, else undefined (form data never starts with `{`: it would be a key). */
function jsonObjectIn(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
