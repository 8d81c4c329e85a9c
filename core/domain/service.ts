/**
 * @module
 * The operations behind both APIs: load, list, create, update, remove and run actions on resources, with
 * project scoping and validation. Knows nothing of HTTP; the Hono routes translate requests into these calls.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ApiError, ConflictError, NotFoundError, statusError, ValidationError } from '../errors.js';
import { formatId, parseId, type BaseType } from '../ids.js';
import { isAvailable } from '../process/actions.js';
import { DEFAULT_CAPABILITIES, deleteAmendment, deleteVia, isGone, onItsWayOut, processOf } from '../process/lifecycle.js';
import { familyOf, schema as schemaById } from '../schema/registry.js';
import type { ActionDef, ResourceSchema } from '../schema/types.js';
import { validateActionInput, validateFields, validateLabels, type RefResolver } from '../schema/validate.js';
import type { RequestSource, Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { hashSecret, newKeyPair, RECEIVER_PATH, RECEIVER_TYPE, REGISTRATION_TOKEN_TYPE, type Authenticator, type Principal } from './credentials.js';
import { stateConflictMessage, stateOf, type Ledger } from './ledger.js';
import type { Runs } from './runs.js';
import type { AccessKind } from '../agent/protocol.js';
import { hostAccess, type HostAccessGrant } from './host-access.js';
import { hostIdOf } from './hosts.js';
import { listResources, type ListRequest, type ListResult } from './query.js';
import { newWebhook, webhookValues } from './webhooks.js';
import { WebhookDeliveries } from '../store/webhook-deliveries.js';

/** The caller and the project they are working in (`null`: the admin across all projects). */
export interface Scope {
  principal: Principal;
  projectId: string | null;
  /** The client the request came from, kept on the actions it begins (the audit trail's "from where"). */
  source?: RequestSource;
}

/** Result of a resource action: a process (202 + resource) or a handler (200 + output). */
export type ActionResult =
  | { kind: 'process'; resource: Resource }
  | { kind: 'handler'; resource?: Resource; access?: HostAccessGrant };

export interface ServiceDeps {
  store: Store;
  /** Writes every step of an action's life. */
  ledger: Ledger;
  /** Where the runs of the actions this service begins go. */
  runs: Runs;
  auth: Authenticator;
  /** Where the admin's creates go when no project is selected. */
  defaultProjectId: string;
  /** Signs pagination markers. */
  cursorSecret: string;
  now?: () => number;
}

/** What another API adds to a create: fields no schema shows, and a last step once the new resource's id is known. */
export interface CreateOptions {
  /** Stored with the validated fields (the Wakame API's own: `hypervisor`, `vifs`, ...). */
  internal?: Record<string, unknown>;
  /** Runs on each new instance or project before it is stored: may set fields that depend on its id, or refuse. */
  prepare?: (draft: Resource) => Promise<void>;
}

/** Types a `reference[...]` field may point to, mapped to the schema that holds them. */
const REFERENCE_SCHEMAS: Record<string, string> = {
  account: 'project',
  instance: 'instance',
  container: 'container',
  virtualMachine: 'virtualMachine',
  host: 'host',
  instanceLink: 'instanceLink',
};

/** A schema's action by a name from a request (own properties only: `constructor` is no action). */
function actionOf(s: ResourceSchema, name: string): ActionDef | undefined {
  return Object.hasOwn(s.resourceActions, name) ? s.resourceActions[name] : undefined;
}

/**
 * The domain service. One per process.
 *
 * @example
 * const svc = new DroverService({ store, ledger, runs, auth, defaultProjectId: '1a1', cursorSecret });
 * const [c] = await svc.create(scope, schema('container'), { imageUuid: 'sim:web' });
 */
export class DroverService {
  private readonly now: () => number;

  constructor(readonly deps: ServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Key that signs host-access tokens, derived from the stage's secret so every process agrees on it. */
  get hostAccessSecret(): string {
    return createHmac('sha256', this.deps.cursorSecret).update('drover host access').digest('hex');
  }

  get store(): Store {
    return this.deps.store;
  }

  /**
   * A resource of the schema's family visible in the scope, or 404.
   *
   * @example
   * const c = await svc.load(scope, schema('container'), '1i5');
   */
  async load(scope: Scope, s: ResourceSchema, id: string): Promise<Resource> {
    const res = s.baseType && parseId(s.baseType, id) !== null ? await this.store.get(id) : undefined;
    if (!res || !this.inFamily(s, res) || !this.visible(scope, res)) throw new NotFoundError();
    return res;
  }

  /**
   * A page of a collection in the scope.
   *
   * @example
   * await svc.list(scope, { schema: schema('container'), conditions: [], limit: 100 })
   */
  list(scope: Scope, req: Omit<ListRequest, 'projectId' | 'secret'>): Promise<ListResult> {
    return listResources(this.store, { ...req, projectId: scope.projectId, secret: this.deps.cursorSecret });
  }

  /**
   * Creates resources of a type (several for an instance `count`). Returns them as the create call shows
   * them; an API key's secret is returned once, in `secretValue`.
   */
  async create(scope: Scope, s: ResourceSchema, input: Record<string, unknown>, opts: CreateOptions = {}): Promise<Resource[]> {
    if (!s.collectionMethods.includes('POST')) throw statusError(405);
    const projectId = scope.projectId ?? this.deps.defaultProjectId;
    switch (s.baseType) {
      case 'instance':
        return this.createInstances(scope, s, projectId, input, opts);
      case 'account':
        return [await this.createProject(scope, s, input, opts)];
      case 'credential':
        if (s.id === REGISTRATION_TOKEN_TYPE) return [await this.createRegistrationToken(scope, s, projectId, input)];
        if (s.id === RECEIVER_TYPE) return [await this.createReceiver(scope, s, projectId, input)];
        return [await this.createApiKey(scope, s, input)];
      case 'webhook':
        return [await this.createWebhook(scope, s, projectId, input)];
      default:
        throw statusError(405);
    }
  }

  /**
   * Applies a PUT: only fields with `update: true` change; a changed field marked `scheduleUpdate` also
   * starts the type's `update` process when it is available.
   */
  async update(
    scope: Scope,
    s: ResourceSchema,
    res: Resource,
    input: Record<string, unknown>,
    opts: Pick<CreateOptions, 'internal'> = {},
  ): Promise<Resource> {
    if (!s.resourceMethods.includes('PUT')) throw statusError(405);
    const own = schemaById(res.type);
    let changes = { ...(await validateFields(own, input, 'update', this.refs(scope, res.projectId))), ...(opts.internal ?? {}) };
    if (res.baseType === 'webhook') changes = webhookValues(changes);
    const { after, before } = await this.store.mutate(res.id, (cur) => ({ ...cur, fields: { ...cur.fields, ...changes } }));
    const scheduled = Object.entries(own.resourceFields).some(
      ([k, def]) => def.scheduleUpdate && k in changes && before.fields[k] !== after.fields[k],
    );
    if (scheduled && isAvailable(after, 'update')) {
      return this.begin(after, 'update', {}, scope.principal.callerId, scope.source);
    }
    return after;
  }

  /**
   * DELETE: `remove` when the state allows it; a running instance is stopped with `remove: true` (cattle
   * `InstanceManager`); a resource already on its way out is returned as it is. DELETE is idempotent: when
   * another request changed the resource meanwhile (409 from the conditional transition), the decision is
   * taken again on the fresh state, so concurrent DELETEs all answer 200.
   */
  async remove(scope: Scope, s: ResourceSchema, res: Resource): Promise<Resource> {
    if (!s.resourceMethods.includes('DELETE')) throw statusError(405);
    const caller = scope.principal.callerId;
    let cur = res;
    for (let attempt = 0; ; attempt++) {
      try {
        let out: Resource;
        const via = deleteVia(cur.baseType);
        if (isAvailable(cur, 'remove')) out = await this.begin(cur, 'remove', {}, caller, scope.source);
        else if (via && isAvailable(cur, via.action)) out = await this.begin(cur, via.action, via.input, caller, scope.source);
        else if (onItsWayOut(cur)) out = cur;
        else if (cur.action && deleteAmendment(cur)) {
          // A plain stop (a DELETE pasted right after a stop), a restart or a migration is under way: let it chain
          // into removal when it ends.
          const amended = await this.deps.ledger.amend({ id: cur.id, actionId: cur.action.id }, deleteAmendment(cur)!, cur);
          if (!amended) throw new ConflictError(stateConflictMessage(cur, 'remove'));
          out = amended;
        } else throw new ConflictError(stateConflictMessage(cur, 'remove'));
        if (cur.baseType === 'credential' || cur.baseType === 'account') this.deps.auth.invalidate();
        return out;
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= 4) throw e;
        // Give a process that is finishing (e.g. a plain stop) a moment, then decide again.
        await new Promise((r) => setTimeout(r, (5 + Math.random() * 10) * 2 ** attempt));
        const fresh = await this.store.get(cur.id);
        if (!fresh) throw e;
        cur = fresh;
      }
    }
  }

  /**
   * Runs `?action=name`: 422 `InvalidAction` for an action the type lacks, 422 `ActionNotAvailable` for one
   * the current state does not offer, then the input is validated against the action's input schema.
   */
  async action(scope: Scope, s: ResourceSchema, res: Resource, name: string, input: Record<string, unknown>): Promise<ActionResult> {
    const own = schemaById(res.type);
    const def = actionOf(own, name) ?? actionOf(s, name);
    if (!def) throw new ApiError(422, 'InvalidAction', { fieldName: 'action', message: null });
    if (!this.canRun(res, name)) throw new ApiError(422, 'ActionNotAvailable', { fieldName: 'action', message: null });
    const args = await validateActionInput(def.input, input, this.refs(scope, res.projectId));
    const caller = scope.principal.callerId;
    if (processOf(res.baseType, name)) {
      const resource = await this.begin(res, name, args, caller, scope.source);
      if (res.baseType === 'credential' || res.baseType === 'account') this.deps.auth.invalidate();
      return { kind: 'process', resource };
    }
    if (name === 'setlabels') return { kind: 'handler', resource: await this.setLabels(res, args.labels) };
    if (name === 'redeliver') return { kind: 'handler', resource: await new WebhookDeliveries(this.store).redeliver(res.id, this.now()) };
    // execute / logs / proxy / console reach the instance through its host (cattle answers 404 without one).
    const hostId = hostIdOf(res);
    const host = hostId ? await this.store.get(hostId) : undefined;
    if (!host) throw new NotFoundError(`${res.type} ${res.id} is not on a host, so '${name}' has nothing to connect to`);
    const grant = hostAccess(this.hostAccessSecret, name as AccessKind, res, host, args);
    return { kind: 'handler', access: grant };
  }

  /**
   * Begins a process of the table by name for another API's operation (Wakame's `poweroff`, `move`, ...), which
   * has checked its own rules; the ledger's conditional write still refuses a state the process cannot start
   * from (`ConflictError`).
   *
   * @example
   * await svc.beginProcess(scope, vm, 'move', { hostId: '1h2' });
   */
  async beginProcess(scope: Scope, res: Resource, action: string, input: Record<string, unknown>): Promise<Resource> {
    return this.begin(res, action, input, scope.principal.callerId, scope.source);
  }

  /**
   * Whether an action may run now. As in cattle, the `actions` map compares every process with `state`, so
   * allocate, deallocate and the health updates never show there; they still run when their own field
   * (`allocationState`, `healthState`) is in one of their start states.
   */
  /** Stores a new resource under its `create` action through the ledger and dispatches the run that creates it. */
  private async createResource(res: Resource, caller: string, source?: RequestSource): Promise<Resource> {
    const { resource, runs } = await this.deps.ledger.create(res, caller, source);
    await this.deps.runs.dispatch(runs);
    return resource;
  }

  /** Begins an action through the ledger and dispatches the run it calls for; returns the transitioned resource. */
  private async begin(res: Resource, action: string, input: Record<string, unknown>, caller: string, source?: RequestSource): Promise<Resource> {
    const { resource, runs } = await this.deps.ledger.begin(res, action, input, caller, source);
    await this.deps.runs.dispatch(runs);
    return resource;
  }

  private canRun(res: Resource, name: string): boolean {
    const p = processOf(res.baseType, name);
    if (p && p.field && p.field !== 'state') return p.from.includes(stateOf(res, p.field));
    return isAvailable(res, name);
  }

  /** Resolves `reference[...]` values within a project (the admin may reference any project). */
  refs(scope: Scope, projectId: string): RefResolver {
    return async (targetType, id) => {
      const sid = REFERENCE_SCHEMAS[targetType];
      if (!sid) return false; // networks, volumes, registry credentials: not modelled, so nothing to point to
      const target = schemaById(sid);
      if (!target.baseType || parseId(target.baseType, id) === null) return false;
      const res = await this.store.get(id);
      // Any state but gone: a project still `registering` is a valid target for the key created right after it.
      if (!res || !this.inFamily(target, res) || isGone(res)) return false;
      if (target.baseType === 'account') return scope.principal.role === 'admin';
      return res.projectId === projectId;
    };
  }

  private inFamily(s: ResourceSchema, res: Resource): boolean {
    return familyOf(s.id).some((f) => f.id === res.type);
  }

  private visible(scope: Scope, res: Resource): boolean {
    return scope.projectId === null || res.projectId === scope.projectId;
  }

  private async newResource(
    s: ResourceSchema,
    projectId: string | null,
    fields: Record<string, unknown>,
  ): Promise<Resource> {
    const baseType = s.baseType as BaseType;
    const num = await this.store.nextId(baseType);
    const id = formatId(baseType, num);
    const now = this.now();
    return {
      id,
      num,
      type: s.id,
      baseType,
      projectId: projectId ?? id,
      state: 'requested',
      version: 0,
      created: now,
      updated: now,
      fields: { uuid: randomUUID(), ...fields },
    };
  }

  private async createInstances(scope: Scope, s: ResourceSchema, projectId: string, input: Record<string, unknown>, opts: CreateOptions) {
    const values = await validateFields(s, input, 'create', this.refs(scope, projectId));
    const count = typeof values.count === 'number' ? values.count : 1;
    delete values.count;
    const caller = scope.principal.callerId;
    const out: Resource[] = [];
    for (let i = 0; i < count; i++) {
      const fields: Record<string, unknown> = {
        ...structuredClone(values),
        allocationState: 'inactive',
        instanceTriggeredStop: 'stop',
        startCount: 0,
        ...structuredClone(opts.internal ?? {}),
      };
      if (s.id === 'virtualMachine') fields.capabilities = [...DEFAULT_CAPABILITIES, 'console'];
      const res = await this.newResource(s, projectId, fields);
      await opts.prepare?.(res);
      const links = await this.newLinks(res);
      // The instance knows its links by id, so its processes reach them with consistent reads (no index lag).
      if (links.length) res.fields.instanceLinkIds = links.map((l) => l.id);
      for (const link of links) await this.createResource(link, caller, scope.source);
      out.push(await this.createResource(res, caller, scope.source));
    }
    return out;
  }

  /** One `instanceLink` per entry of the container's `instanceLinks` map (spec §2.8), not yet stored. */
  private async newLinks(instance: Resource): Promise<Resource[]> {
    const links = instance.fields.instanceLinks as Record<string, string | null> | null | undefined;
    if (!links) return [];
    const linkSchema = schemaById('instanceLink');
    const out: Resource[] = [];
    for (const [linkName, target] of Object.entries(links)) {
      out.push(
        await this.newResource(linkSchema, instance.projectId, {
          instanceId: instance.id,
          linkName,
          targetInstanceId: target ?? null,
        }),
      );
    }
    return out;
  }

  private async createProject(scope: Scope, s: ResourceSchema, input: Record<string, unknown>, opts: CreateOptions) {
    if (scope.principal.role !== 'admin') throw statusError(403);
    const values = await validateFields(s, input, 'create', this.refs(scope, ''));
    const res = await this.newResource(s, null, { ...values, ...structuredClone(opts.internal ?? {}) });
    await opts.prepare?.(res);
    return this.createResource(res, scope.principal.callerId, scope.source);
  }

  private async createApiKey(scope: Scope, s: ResourceSchema, input: Record<string, unknown>) {
    if (scope.principal.role !== 'admin') throw statusError(403);
    const withProject = { accountId: scope.projectId ?? undefined, ...input };
    const values = await validateFields(s, withProject, 'create', this.refs(scope, ''));
    const projectId = String(values.accountId);
    delete values.accountId;
    return this.issueCredential(scope, s, projectId, values, (_publicValue, secretValue) => ({ secretValue }));
  }

  /**
   * Creates a credential resource with a new key pair: the store keeps the secret's hash, and the secret exists
   * only in the create response, in the fields `reveal` returns.
   */
  private async issueCredential(
    scope: Scope,
    s: ResourceSchema,
    projectId: string,
    fields: Record<string, unknown>,
    reveal: (publicValue: string, secretValue: string) => Record<string, unknown>,
  ): Promise<Resource> {
    const { publicValue, secretValue } = newKeyPair();
    const res = await this.newResource(s, projectId, { ...fields, publicValue, secretHash: hashSecret(secretValue) });
    const started = await this.createResource(res, scope.principal.callerId, scope.source);
    return { ...started, fields: { ...started.fields, ...reveal(publicValue, secretValue) } };
  }


  /**
   * A registration token in the caller's project (the admin's selected or default project). Its `token` is
   * `<publicValue>:<secret>`, so registration finds it through the access-key index; only the hash is kept.
   */
  private async createRegistrationToken(scope: Scope, s: ResourceSchema, projectId: string, input: Record<string, unknown>) {
    const values = await validateFields(s, input, 'create', this.refs(scope, projectId));
    // registrationUrl is relative: the service does not know the address clients reach it by.
    return this.issueCredential(scope, s, projectId, { ...values, registrationUrl: '/agent/register' }, (pub, secret) => ({
      token: `${pub}:${secret}`,
    }));
  }


  /** A receiver in the caller's project: its `url` carries `<publicValue>:<secret>`, shown only here. */
  private async createReceiver(scope: Scope, s: ResourceSchema, projectId: string, input: Record<string, unknown>) {
    const values = await validateFields(s, input, 'create', this.refs(scope, projectId));
    return this.issueCredential(scope, s, projectId, values, (pub, secret) => ({ url: `${RECEIVER_PATH}?key=${pub}:${secret}` }));
  }

  /**
   * A webhook in the caller's project (the admin's selected or default one). Its secret (given, or generated) is
   * in the create response only; the store keeps it to sign deliveries with.
   */
  private async createWebhook(scope: Scope, s: ResourceSchema, projectId: string, input: Record<string, unknown>) {
    const { fields, secret } = newWebhook(await validateFields(s, input, 'create', this.refs(scope, projectId)));
    const created = await this.createResource(await this.newResource(s, projectId, fields), scope.principal.callerId);
    return { ...created, fields: { ...created.fields, secret } };
  }

  private async setLabels(res: Resource, labels: unknown): Promise<Resource> {
    // The input schema marks `labels` optional (seed 002), but the handler needs the full desired map.
    if (labels === null || labels === undefined) throw new ValidationError('MissingRequired', 'labels');
    const valid = await validateLabels(labels);
    const { after } = await this.store.mutate(res.id, (cur) => ({ ...cur, fields: { ...cur.fields, labels: valid } }));
    return after;
  }
}
