/**
 * @module
 * The `Idempotency-Key` header on `/v1` creates and actions: the route hands over the request as it understood it
 * (caller, project, type, resource, action, parsed input) and the code that answers it, and the domain's
 * `Idempotency` runs that code once per key, replaying its answer to retries.
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import { fingerprint, isValidKey, type Idempotency, type StoredResponse } from '../domain/idempotency.js';

/** What makes two requests "the same request" under one key. */
export interface KeyedRequest {
  callerId: string;
  /** The project the request works in (`null`: the admin across projects). */
  projectId: string | null;
  /** Schema id of the collection or resource. */
  type: string;
  /** The resource an action runs on; `null` for a create. */
  id: string | null;
  action: string | null;
  /** The parsed input, so the same JSON sent with or without a Content-Type is the same request. */
  input: Record<string, unknown>;
}

/** Response headers a replay repeats besides the body: its type and Rancher's `X-API-*` headers. */
const KEPT_HEADERS = /^(content-type|x-api-.*)$/i;

/**
 * Answers a create or an action once per `Idempotency-Key`: without the header, `answer()` simply runs; with it, a
 * retry of the same request gets the first answer again (`Idempotent-Replayed: true`), a different request under
 * the key is 422, and a malformed key is 400.
 *
 * @example
 * return once(c, keys, { callerId, projectId, type: 'container', id: null, action: null, input }, () => create(input));
 */
export async function once(c: Context, keys: Idempotency, request: KeyedRequest, answer: () => Promise<Response>): Promise<Response> {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return answer();
  if (!isValidKey(key)) {
    throw new ApiError(400, 'InvalidFormat', {
      fieldName: 'Idempotency-Key',
      message: 'The Idempotency-Key header must be 1 to 255 printable ASCII characters',
    });
  }
  const { callerId, ...what } = request;
  let fresh: Response | undefined;
  const { response, replayed } = await keys.run({ callerId, key, fingerprint: fingerprint({ method: 'POST', ...what }) }, async () => {
    fresh = await answer();
    return stored(fresh);
  });
  if (!replayed) return fresh!;
  return new Response(response.body, { status: response.status, headers: { ...response.headers, 'Idempotent-Replayed': 'true' } });
}

/** An answer as the domain keeps it: the exact bytes (the answer itself stays readable). */
async function stored(res: Response): Promise<StoredResponse> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (KEPT_HEADERS.test(k)) headers[k] = v;
  });
  return { status: res.status, headers, body: new Uint8Array(await res.clone().arrayBuffer()) };
}
