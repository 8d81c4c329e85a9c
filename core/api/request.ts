/**
 * @module
 * Reading a Rancher request: the path after `/v1` (with the project sub-context), the JSON body whatever
 * its Content-Type (gdapi-python sends none), and query parameters merged under the body as cattle does.
 */
import { ApiError } from '../errors.js';

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
  const segs = pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  if (segs[0]?.toLowerCase() === 'projects' && segs.length >= 3) {
    return { urlProject: segs[1], segments: segs.slice(2) };
  }
  return { urlProject: null, segments: segs };
}

/** Query parameters that steer the request and never become resource fields. */
const RESERVED = new Set(['action', 'projectId', '_method', '_format', 'limit', 'marker', 'sort', 'order', 'include']);

/**
 * The request object of a POST/PUT: query parameters first, body keys over them. An unparsable body, or one
 * that is not a JSON object, is `400 InvalidBodyContent`.
 *
 * @example
 * await readInput(req) // { imageUuid: 'sim:web', name: 'web' }
 */
export async function readInput(text: string, query: URLSearchParams): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) if (!RESERVED.has(k)) out[k] = v;
  if (!text.trim()) return out;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'InvalidBodyContent', { message: 'Request body is not valid JSON', cause: e });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'InvalidBodyContent', { message: 'Request body must be a JSON object' });
  }
  return { ...out, ...(body as Record<string, unknown>) };
}

/**
 * Collection query parameters as lists (a filter may repeat).
 *
 * @example
 * queryLists(new URLSearchParams('state=running&state=stopped')) // { state: ['running', 'stopped'] }
 */
export function queryLists(q: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of q) (out[k] ??= []).push(v);
  return out;
}
