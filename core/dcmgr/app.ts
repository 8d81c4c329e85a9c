/**
 * @module
 * The Wakame-VDC dcmgr API at `/api/11.12`, `/api/12.03` and `/api` (= 11.12): authenticates the caller as on
 * `/v1`, resolves the `X-VDC-Account-UUID` account to a project, reads the parameters, and dispatches to the
 * route tables of the resource modules. Errors thrown below are rendered by the app's one error handler.
 */
import type { Context } from 'hono';
import type { Principal } from '../domain/credentials.js';
import type { DroverService, Scope } from '../domain/service.js';
import { isAccountUuid, WakameAccounts, type Account } from '../domain/wakame/accounts.js';
import { DcmgrError } from './errors.js';
import { parseDcmgrPath, readParams, type ApiVersion } from './request.js';
import { respond } from './response.js';
import { requestSource } from '../http/source.js';

/** Everything a route handler gets. */
export interface DcmgrContext {
  service: DroverService;
  accounts: WakameAccounts;
  version: ApiVersion;
  principal: Principal;
  /** The account the request acts in: the header's, else the key's own; `null` for the admin without a header. */
  account: Account | null;
  /** The same, as the domain service takes it. */
  scope: Scope;
  /** Query and body parameters, nested as dcmgr reads them. */
  params: Record<string, unknown>;
  /** Values of the route's `:name` segments. */
  path: Record<string, string>;
  /** `X-VDC-Account-Quota`: the account's limits as JSON, when the caller sends them (W§0.1). */
  quotaHeader?: string;
}

/** One endpoint: method, path after the version (`instances/:id/reboot`), the versions serving it, and its work. */
export interface DcmgrRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Both when absent. */
  versions?: readonly ApiVersion[];
  /** Returns the body to send (status 200, as dcmgr answers every success). */
  handle(ctx: DcmgrContext): Promise<unknown>;
}

/**
 * The account a request acts in (§0.1). The admin may name any account, which is created on first use; a
 * project key may name only its own account, or none.
 *
 * @example
 * await resolveAccount(accounts, principal, 'a-shpoolxx') // { uuid: 'a-shpoolxx', projectId: '1a1', disabled: false }
 */
export async function resolveAccount(accounts: WakameAccounts, principal: Principal, header: string | undefined): Promise<Account | null> {
  if (header === undefined || header === '') {
    if (principal.projectId === null) return null;
    return { uuid: await accounts.uuidOfProject(principal.projectId), projectId: principal.projectId, disabled: false };
  }
  if (!isAccountUuid(header)) throw new DcmgrError('InvalidRequestCredentials', `Invalid account UUID: ${header.slice(0, 64)}`);
  const account =
    principal.role === 'admin' ? await accounts.ensure(header, { principal, projectId: null }) : await accounts.find(header);
  if (!account || (principal.role !== 'admin' && account.projectId !== principal.projectId)) {
    throw new DcmgrError('OperationNotPermitted', `This API key acts only in its own account; ${header} is not it`);
  }
  if (account.disabled) throw new DcmgrError('DisabledAccount', header);
  return account;
}

interface CompiledRoute extends DcmgrRoute {
  segments: string[];
}

/**
 * The `/api` handler over a set of routes.
 *
 * @example
 * const dcmgr = createDcmgrHandler(service, [...INSTANCE_ROUTES, ...IMAGE_ROUTES]);
 * app.all('/api/*', dcmgr);
 */
export function createDcmgrHandler(service: DroverService, routes: readonly DcmgrRoute[]): (c: Context) => Promise<Response> {
  const accounts = new WakameAccounts(service);
  const compiled: CompiledRoute[] = routes.map((r) => ({ ...r, segments: r.path.split('/') }));

  return async (c) => {
    const url = new URL(c.req.url);
    const { version, format, segments } = parseDcmgrPath(url.pathname);
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    // Read before anything can fail, as on /v1: an unread body left to the server can reset a reused connection.
    const body = method === 'GET' || method === 'DELETE' ? '' : await c.req.text();
    const principal = await service.deps.auth.authenticate(c.req.header('authorization'));

    const found = match(compiled, method, version, segments);
    if (!found) throw new DcmgrError('RouteNotFound', `No ${method} /api/${version}/${segments.join('/')}`);
    // Rack read both spellings as one; Node keeps them apart (mussel sends the underscores).
    const header = c.req.header('x-vdc-account-uuid') ?? c.req.header('x_vdc_account_uuid');
    const account = await resolveAccount(accounts, principal, header);
    // 11.12 always worked in an account (wv-old core_api.rb); 12.03 lets the admin look across all of them.
    if (version === '11.12' && account === null) {
      throw new DcmgrError('InvalidRequestCredentials', 'The 11.12 API needs the X-VDC-Account-UUID header');
    }
    const params = readParams(body, url.search.slice(1), c.req.header('content-type'));
    const ctx: DcmgrContext = {
      service,
      accounts,
      version,
      principal,
      account,
      scope: { principal, projectId: account?.projectId ?? null, source: requestSource(c) },
      params,
      path: found.path,
      quotaHeader: c.req.header('x-vdc-account-quota') ?? c.req.header('x_vdc_account_quota'),
    };
    return respond(c, await found.route.handle(ctx), format);
  };
}

function match(routes: CompiledRoute[], method: string, version: ApiVersion, segments: string[]) {
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    if (route.versions && !route.versions.includes(version)) continue;
    const path: Record<string, string> = {};
    const fits = route.segments.every((seg, i) => {
      if (seg.startsWith(':')) return (path[seg.slice(1)] = segments[i]) !== '';
      return seg === segments[i];
    });
    if (fits) return { route, path };
  }
  return undefined;
}
