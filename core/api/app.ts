/**
 * @module
 * The Hono app serving the Rancher v1 API (`/v1`), the Wakame-VDC dcmgr API (`/api`) and the host agent channel
 * (`/agent`). The same app runs on Lambda (`functions/api.ts`) and in the embedded local stack (`core/embedded`).
 * Errors are rendered here, once: as Rancher error resources, and under `/api` as dcmgr's `{error, message, code}`.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, statusError } from '../errors.js';
import { sendJson as send } from '../http/json.js';
import { requestSource } from '../http/source.js';
import { RECEIVER_PATH, RECEIVER_TYPE, type Principal } from '../domain/credentials.js';
import { runReceiver } from '../domain/receivers.js';
import { collectionFilters, parseFilters, type Condition } from '../domain/filters.js';
import type { DroverService, Scope } from '../domain/service.js';
import { hostAccessKeyOf } from '../domain/host-access.js';
import { parseId } from '../ids.js';
import { inService } from '../process/lifecycle.js';
import { schemaFor, visibleSchemas } from '../schema/registry.js';
import type { ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/item.js';
import { parseV1Path, readInput } from './request.js';
import { renderCollection, renderError, renderOutput, renderResource, renderSchema } from './render.js';
import { UrlBuilder } from './urls.js';
import type { Outbox } from '../agent/outbox.js';
import { createAgentRoutes, type WorkflowSource } from '../agent/routes.js';
import type { Doorbell } from '../agent/protocol.js';
import type { InstanceReports } from '../domain/health.js';
import type { Idempotency } from '../domain/idempotency.js';
import { toApiError } from './errors.js';
import { once } from './idempotency.js';
import { subscribe, type EventStreamOptions } from './subscribe.js';
import { DcmgrError, toDcmgrError } from '../dcmgr/errors.js';

export interface AppOptions {
  service: DroverService;
  /** Where unexpected errors are reported (default: console.error). */
  logError?: (err: unknown) => void;
  /** The host agent channel at `/agent`. */
  agent: AgentChannelOptions;
  /** `Idempotency-Key` handling on creates and actions. */
  idempotency: Idempotency;
  /** The `resource.change` stream at `/v1/subscribe`. */
  events: EventStreamOptions;
}

export interface AgentChannelOptions {
  /** Shared with whoever enqueues commands, so its doorbell wakes local long-polls. */
  outbox: Outbox;
  /** Receives agent heartbeats and outcomes (SendTaskHeartbeat/Success/Failure). */
  workflows?: WorkflowSource;
  /** Longest agent long-poll in seconds (0 on Lambda). */
  maxWaitSeconds?: number;
  /** Where agents' health and exit reports go (`core/domain/health.ts`). */
  instances?: InstanceReports;
  /** The stage's agent doorbell (AWS), told to agents in poll answers. */
  doorbell?: Doorbell;
}

/** Largest request body read (`413` beyond). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Creates the Hono app.
 *
 * @example
 * const app = createApp({ service, agent: { outbox }, idempotency: new Idempotency({ records: new IdempotencyRecords(store) }) });
 * serve({ fetch: app.fetch, port: 8080 });
 */
export function createApp(opts: AppOptions): Hono {
  const { service } = opts;
  const logError = opts.logError ?? ((e) => console.error(e));
  const app = new Hono();

  app.onError((err, c) => {
    if (isDcmgrPath(c.req.path)) {
      const known = toDcmgrError(err);
      if (!known) logError(err);
      const e = known ?? new DcmgrError('InternalError', 'Internal Server Error');
      if (e.status === 401) c.header('WWW-Authenticate', 'Basic realm="Drover"');
      return send(c, e.toBody(), e.status);
    }
    const known = toApiError(err);
    if (!known) logError(err);
    const e = known ?? statusError(500);
    if (e.status === 401 && c.req.header('x-api-no-challenge') !== 'true') {
      c.header('WWW-Authenticate', 'Basic realm="Drover"');
    }
    return send(c, renderError(e), e.status);
  });
  app.notFound((c) => send(c, renderError(statusError(404)), 404));

  // The versions root is public, so clients can discover the API before authenticating.
  app.get('/', (c) => {
    const urls = UrlBuilder.fromRequest(new URL(c.req.url), (h) => c.req.header(h), null);
    return send(c, {
      type: 'collection',
      resourceType: 'apiVersion',
      links: { self: `${urls.origin}/`, latest: urls.base },
      createTypes: {},
      actions: {},
      data: [{ id: 'v1', type: 'apiVersion', links: { self: urls.base }, actions: {} }],
      sortLinks: {},
      pagination: null,
      sort: null,
      filters: {},
      createDefaults: {},
    });
  });

  // No resource is near this size (DynamoDB items stop at 400 KB); reading more would only cost memory.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: async (c) => {
        // Read (and drop) what the client is still sending, so it receives the answer rather than a reset.
        await discardBody(c.req.raw, 32 * MAX_BODY_BYTES);
        throw statusError(413, `Request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
      },
    }),
  );

  const v1 = async (c: Context) => {
    const url = new URL(c.req.url);
    const { urlProject, segments } = parseV1Path(url.pathname);
    // Checked before it goes into a header or a URL.
    if (urlProject !== null) checkProjectId(urlProject);
    const urls = UrlBuilder.fromRequest(url, (h) => c.req.header(h), urlProject);
    c.header('X-API-Schemas', urls.schemas());
    // HEAD is GET without the body (Hono drops it); `_method` lets form clients PUT and DELETE.
    const method =
      c.req.method === 'HEAD' ? 'GET' : (c.req.method === 'POST' && url.searchParams.get('_method')?.toUpperCase()) || c.req.method;

    // The body is read before anything can fail: one left unread is drained by the server, which closes the
    // connection when draining is slow, and a client reusing that connection sees it reset.
    const body = await c.req.text();
    const readBody = () => readInput(body, url.searchParams, c.req.header('content-type'));
    const principal = await service.deps.auth.authenticate(c.req.header('authorization'));
    const scope: Scope = {
      ...(await resolveScope(service, principal, urlProject ?? c.req.header('x-api-project-id') ?? url.searchParams.get('projectId'))),
      // The audit trail records where each action request came from.
      source: requestSource(c),
    };
    const keyed = (type: string, id: string | null, action: string | null, input: Record<string, unknown>) =>
      ({ callerId: principal.callerId, projectId: scope.projectId, type, id, action, input });
    c.header('X-API-Account-Id', scope.projectId ?? service.deps.defaultProjectId);

    if (segments.length === 0) {
      if (method !== 'GET') throw statusError(405);
      return send(c, versionRoot(principal, urls));
    }
    if (segments[0].toLowerCase() === 'schemas') return schemas(c, method, segments, principal, urls);
    if (segments[0].toLowerCase() === 'subscribe' && segments.length === 1) {
      if (method !== 'GET') throw statusError(405);
      return subscribe(c, opts.events, scope, url, urls);
    }

    const s = schemaFor(segments[0], principal.role);
    if (!s || !s.baseType || segments.length > 3) throw statusError(404);

    if (segments.length === 1) {
      // No type has collection actions, so `POST <collection>?action=` names an action that does not exist.
      if (method === 'POST' && url.searchParams.get('action')) {
        throw new ApiError(422, 'InvalidAction', { fieldName: 'action', message: null });
      }
      if (!s.collectionMethods.includes(method)) throw statusError(405);
      if (method === 'GET') return send(c, await listCollection(s, scope, url, urls, []));
      const input = await readBody();
      return once(c, opts.idempotency, keyed(s.id, null, null, input), async () => {
        const created = await service.create(scope, s, input);
        if (created.length === 1) return send(c, renderResource(created[0], urls, principal.role), 201);
        return send(c, renderCollection({ schema: s, data: created.map((r) => renderResource(r, urls, principal.role)), requestUrl: url, plain: true }, urls), 201);
      });
    }

    const res = await service.load(scope, s, segments[1]);
    if (segments.length === 3) {
      if (method !== 'GET') throw statusError(405);
      return followLink(c, res, segments[2], scope, url, urls);
    }
    const action = url.searchParams.get('action');
    if (method === 'POST' && action) {
      const input = await readBody();
      return once(c, opts.idempotency, keyed(s.id, res.id, action, input), async () => {
        const out = await service.action(scope, s, res, action, input);
        if (out.kind === 'process') return send(c, renderResource(out.resource, urls, principal.role), 202);
        if (out.resource) return send(c, renderResource(out.resource, urls, principal.role));
        // cattle returns every stream grant, the console's too, as a hostAccess (spec §2.7). The URL is the host's
        // access server where its agent runs one, else (the simulator) the API's own origin, as cattle's was.
        const grant = out.access!;
        const origin = grant.origin ?? urls.origin;
        const scheme = origin.startsWith('https:') ? (grant.scheme === 'ws' ? 'wss' : 'https') : grant.scheme;
        const target = `${scheme}://${origin.replace(/^https?:\/\//, '').replace(/\/+$/, '')}${grant.path}`;
        return send(c, renderOutput('hostAccess', { token: grant.token, url: target }));
      });
    }
    if (!s.resourceMethods.includes(method)) throw statusError(405);
    switch (method) {
      case 'GET':
        return send(c, renderResource(res, urls, principal.role));
      case 'PUT': {
        const input = await readBody();
        return send(c, renderResource(await service.update(scope, s, res, input), urls, principal.role));
      }
      case 'DELETE':
        return send(c, renderResource(await service.remove(scope, s, res), urls, principal.role));
      default:
        throw statusError(405);
    }
  };
  app.all('/v1', v1);
  app.all('/v1/*', v1);

  // A receiver's secret URL: its key is the credential, so no other authentication (Rancher's webhook receivers).
  app.post(RECEIVER_PATH, async (c) => {
    await c.req.text();
    const receiver = await service.deps.auth.tokenCredential(new URL(c.req.url).searchParams.get('key') ?? '', RECEIVER_TYPE);
    if (!receiver) throw statusError(401, 'Unknown or inactive receiver key');
    const instances = await runReceiver(service, receiver);
    return send(c, { type: 'receiverResult', receiverId: receiver.id, action: receiver.fields.action, instances });
  });

  // The Wakame API (with its parsers, yaml and qs) loads on its first request: a Lambda serving the Rancher API
  // never parses it at a cold start (each is a chunk of its own in the bundle). A failed load is tried again.
  let dcmgr: Promise<(c: Context) => Promise<Response>> | undefined;
  const wakame = async (c: Context) => {
    dcmgr ??= Promise.all([import('../dcmgr/app.js'), import('../dcmgr/routes.js')]).then(([{ createDcmgrHandler }, { DCMGR_ROUTES }]) =>
      createDcmgrHandler(service, DCMGR_ROUTES),
    );
    dcmgr.catch(() => (dcmgr = undefined));
    return (await dcmgr)(c);
  };
  app.all('/api', wakame);
  app.all('/api/*', wakame);

  app.route(
    '/agent',
    createAgentRoutes({
      store: service.store,
      ledger: service.deps.ledger,
      auth: service.deps.auth,
      outbox: opts.agent.outbox,
      workflows: opts.agent.workflows,
      maxWaitSeconds: opts.agent.maxWaitSeconds,
      doorbell: opts.agent.doorbell,
      instances: opts.agent.instances,
      hostAccessKey: (hostId) => hostAccessKeyOf(service.hostAccessSecret, hostId),
      logError,
    }),
  );

  async function listCollection(s: ResourceSchema, scope: Scope, url: URL, urls: UrlBuilder, fixed: Condition[]) {
    // parseFilters reads the raw parameters itself: grouping them into a plain object (queryLists) fails on
    // keys such as `constructor`.
    const conditions = [...fixed, ...parseFilters(s, url.searchParams)];
    // cattle: a limit that is not an integer is the default; above the maximum it is clamped; <= 0 is no limit.
    const rawLimit = url.searchParams.get('limit')?.trim() ?? '';
    const limit = !/^-?\d+$/.test(rawLimit) ? 100 : rawLimit.startsWith('-') || Number(rawLimit) === 0 ? null : Math.min(Number(rawLimit), 10_000);
    // Sorting is only by a collection filter; `order` applies only with a sort (else id order, sort null).
    const sortParam = url.searchParams.get('sort');
    const sortable = !!sortParam && Object.hasOwn(collectionFilters(s), sortParam);
    const sort = sortable && sortParam !== 'id' ? sortParam : undefined;
    const descending = sortable && url.searchParams.get('order')?.toLowerCase() === 'desc';
    const page = await service.list(scope, {
      schema: s,
      conditions,
      sort,
      descending,
      limit,
      marker: url.searchParams.get('marker') || undefined,
    });
    return renderCollection(
      {
        schema: s,
        data: page.data.map((r) => renderResource(r, urls, scope.principal.role)),
        requestUrl: url,
        conditions: conditions.filter((c) => !fixed.includes(c)),
        sort: sortable ? { name: sortParam!, descending } : undefined,
        pagination: limit === null ? null : { limit, partial: page.partial, nextMarker: page.nextMarker },
      },
      urls,
    );
  }

  async function followLink(c: Context, res: Resource, linkName: string, scope: Scope, url: URL, urls: UrlBuilder) {
    const own = schemaFor(res.type, 'admin')!;
    const entry = Object.entries(own.links).find(([n]) => n.toLowerCase() === linkName.toLowerCase());
    if (!entry) throw statusError(404);
    const [, link] = entry;
    const target = schemaFor(link.type, scope.principal.role);
    if (!target) throw statusError(404);
    if (link.kind === 'reference') {
      const id = res.baseType === 'account' ? null : link.field === 'accountId' ? res.projectId : res.fields[link.field];
      if (typeof id !== 'string') throw statusError(404);
      return send(c, renderResource(await service.load(scope, target, id), urls, scope.principal.role));
    }
    const fixed: Condition = { field: link.field, modifier: 'eq', value: res.id, typed: res.id };
    const linkScope = link.field === 'accountId' ? { ...scope, projectId: res.id } : scope;
    return send(c, await listCollection(target, linkScope, url, urls, [fixed]));
  }

  function schemas(c: Context, method: string, segments: string[], principal: Principal, urls: UrlBuilder) {
    if (method !== 'GET') throw statusError(405);
    if (segments.length === 2) {
      const s = schemaFor(segments[1], principal.role);
      if (!s) throw statusError(404);
      return send(c, renderSchema(s, urls));
    }
    if (segments.length > 2) throw statusError(404);
    return send(c, {
      type: 'collection',
      resourceType: 'schema',
      links: { self: urls.schemas() },
      createTypes: {},
      actions: {},
      data: visibleSchemas(principal.role).map((s) => renderSchema(s, urls)),
      sortLinks: {},
      pagination: null,
      sort: null,
      filters: {},
      createDefaults: {},
    });
  }

  return app;
}

/** Whether a path is the Wakame API's, whose errors are dcmgr's `{error, message, code}`. */
function isDcmgrPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

/** The `/v1` root: one link per listable collection, keyed by plural name, plus `schemas` and `self`. */
function versionRoot(principal: Principal, urls: UrlBuilder) {
  const links: Record<string, string> = { schemas: urls.schemas(), self: urls.base };
  for (const s of visibleSchemas(principal.role)) {
    if (s.baseType && s.collectionMethods.includes('GET')) links[s.pluralName] = urls.collection(s);
  }
  const sorted = Object.fromEntries(Object.entries(links).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { id: 'v1', type: 'apiVersion', links: sorted, actions: {} };
}

/** Reads a request body to its end, up to `limit` bytes, discarding it (a body already being read is left). */
async function discardBody(req: Request, limit: number): Promise<void> {
  if (!req.body || req.body.locked) return;
  let read = 0;
  try {
    for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
      read += chunk.length;
      if (read > limit) break;
    }
  } catch {
    // The client went away: nothing left to answer.
  }
}

/** A project id from a request is well-formed (`1a<n>`) or the request is `400 InvalidFormat`. */
function checkProjectId(id: string): void {
  if (parseId('account', id) === null) {
    throw new ApiError(400, 'InvalidFormat', { message: `Invalid project id ${JSON.stringify(id.slice(0, 64))}` });
  }
}

/**
 * The project a request works in: the URL prefix, `X-API-Project-Id` or `?projectId=`, else the key's own.
 * A malformed id is 400 `InvalidFormat`; an unknown, inactive or foreign project is 403.
 */
async function resolveScope(service: DroverService, principal: Principal, requested: string | null | undefined): Promise<Scope> {
  if (!requested) return { principal, projectId: principal.projectId };
  checkProjectId(requested);
  if (principal.projectId !== null && principal.projectId !== requested) throw statusError(403);
  const project = await service.store.get(requested);
  if (!project || project.type !== 'project' || !inService(project)) throw statusError(403);
  return { principal, projectId: requested };
}
