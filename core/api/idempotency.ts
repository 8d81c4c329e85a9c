/**
 * @module
 * The `Idempotency-Key` header on `/v1` creates (`POST <collection>`) and actions (`POST <resource>?action=`):
 * a Hono middleware that fingerprints the request and lets the domain's `Idempotency` run it once per key.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import type { Authenticator } from '../domain/credentials.js';
import { fingerprint, isValidKey, type Idempotency, type StoredResponse } from '../domain/idempotency.js';
import { schemaFor } from '../schema/registry.js';
import { parseV1Path, readInput } from './request.js';

export interface IdempotencyMiddlewareOptions {
  keys: Idempotency;
  /** Identifies the caller, whose keys are their own (the app's authenticator: cached, so the route's own
   *  authentication right after costs no store read). */
  auth: Authenticator;
}

/** Response headers a replay repeats besides the body: its type and Rancher's `X-API-*` headers. */
const KEPT_HEADERS = /^(content-type|x-api-.*)$/i;

/**
 * The middleware; mount it on `/v1/*` before the routes. Requests without the header pass through untouched.
 *
 * @example
 * app.use('/v1/*', idempotency({ keys, auth: service.deps.auth }));
 */
export function idempotency(opts: IdempotencyMiddlewareOptions): MiddlewareHandler {
  return async (c, next) => {
    const key = c.req.header('idempotency-key');
    if (key === undefined) return next();
    const url = new URL(c.req.url);
    const target = createOrAction(c.req.method, url);
    if (!target) return next();
    if (!isValidKey(key)) {
      throw new ApiError(400, 'InvalidFormat', {
        fieldName: 'Idempotency-Key',
        message: 'The Idempotency-Key header must be 1 to 255 printable ASCII characters',
      });
    }
    const principal = await opts.auth.authenticate(c.req.header('authorization'));
    const requestedProject = target.urlProject ?? c.req.header('x-api-project-id') ?? url.searchParams.get('projectId');
    const request = {
      method: 'POST',
      project: requestedProject || principal.projectId,
      type: schemaFor(target.segments[0], principal.role)?.id ?? target.segments[0].toLowerCase(),
      id: target.segments[1] ?? null,
      action: url.searchParams.get('action'),
      // The parsed input, so the same JSON sent with or without a Content-Type is the same request.
      input: await readInput(await c.req.text(), url.searchParams, c.req.header('content-type')),
    };
    const { response, replayed } = await opts.keys.run(
      { callerId: principal.callerId, key, fingerprint: fingerprint(request) },
      async () => {
        await next();
        return captured(c);
      },
    );
    if (replayed) {
      return new Response(response.body, { status: response.status, headers: { ...response.headers, 'Idempotent-Replayed': 'true' } });
    }
  };
}

/** The path of a create or an action (after `_method` is applied), else `undefined`. */
function createOrAction(method: string, url: URL): ReturnType<typeof parseV1Path> | undefined {
  const effective = (method === 'POST' && url.searchParams.get('_method')?.toUpperCase()) || method;
  if (effective !== 'POST') return undefined;
  const parsed = parseV1Path(url.pathname);
  const n = parsed.segments.length;
  return n === 1 || (n === 2 && url.searchParams.get('action')) ? parsed : undefined;
}

/** The route's response as the domain keeps it (the exact bytes; the response itself stays readable). */
async function captured(c: Context): Promise<StoredResponse> {
  const headers: Record<string, string> = {};
  c.res.headers.forEach((v, k) => {
    if (KEPT_HEADERS.test(k)) headers[k] = v;
  });
  return { status: c.res.status, headers, body: new Uint8Array(await c.res.clone().arrayBuffer()) };
}
