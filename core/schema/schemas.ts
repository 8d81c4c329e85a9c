/**
 * @module
 * Every schema Drover serves: the instance family, instanceLink, host, project, apiKey and registrationToken,
 * their embedded types, and the action input/output types. Field flags and limits follow Rancher v0.159 (spec §2).
 */
import type { ActionDef, FieldDef, LinkDef, ResourceSchema } from './types.js';
import {
  INSTANCE_HANDLER_ACTIONS,
  PROCESSES,
  WEBHOOK_DELIVERY_HANDLER_ACTIONS,
  statesOf,
  type ProcessBaseType,
  type ProcessDef,
} from '../process/lifecycle.js';
import type { BaseType } from '../ids.js';
import { WAKAME_STATES } from '../domain/wakame/instances.js';

// ---- field helpers: what a client may do with a field ----
type Opts = Omit<FieldDef, 'type'>;
/** A nullable field, with whatever else `o` says. */
const field = (type: string, o: Opts = {}): FieldDef => ({ type, nullable: true, ...o });
/** A field set on create only. */
const createOnly = (type: string, o: Opts = {}): FieldDef => field(type, { create: true, ...o });
/** A field set on create and changed by update. */
const writable = (type: string, o: Opts = {}): FieldDef => field(type, { create: true, update: true, ...o });
/** A field only Drover sets. */
const readOnly = (type: string, o: Opts = {}): FieldDef => field(type, o);

const CAPABILITIES = [
  'ALL', 'AUDIT_CONTROL', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER',
  'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD',
  'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID',
  'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
] as const;

const HEALTH_STATES = [
  'healthy', 'initializing', 'reinitializing', 'unhealthy',
  'updating-healthy', 'updating-reinitializing', 'updating-unhealthy',
] as const;

/*
 * Limits of what a client may write (shown in /v1/schemas as maxLength, and maxItems for lists and maps). Where
 * cattle's schemas give one it is kept; elsewhere these sensible bounds keep every resource far below
 * DynamoDB's 400 KB item size, so too much input is a 422 naming the field, never a failed write.
 */
/** Names, addresses, ports, DNS entries. */
const NAME = 255;
/** Image references, host entries, request lines, option strings, label values. */
const TEXT = 1024;
/** Command arguments, paths, environment values. */
const ARG = 4096;
/** Entries of a list or map that users keep short (dns, capabilities, options). */
const LIST = 64;
/** Entries of a list or map that may be long (command, ports, environment, labels). */
const LONG_LIST = 256;

/** Fields every stateful resource has (spec §2.2). `state` options come from the process table. */
function commonFields(baseType: ProcessBaseType): Record<string, FieldDef> {
  return {
    accountId: readOnly('reference[account]', { filter: true }),
    created: readOnly('date', { filter: true }),
    // The schema declares the id an int although values are formatted strings (spec §1.4, DUMP).
    id: readOnly('int', { nullable: false }),
    description: writable('string', { maxLength: 1024, filter: true }),
    kind: readOnly('string', { filter: true }),
    name: writable('string', { maxLength: 255, filter: true }),
    removeTime: readOnly('date', { filter: true }),
    removed: readOnly('date', { filter: true }),
    state: readOnly('enum', { nullable: false, maxLength: 128, options: statesOf(baseType), filter: true }),
    transitioning: readOnly('enum', { options: ['error', 'no', 'yes'] }),
    transitioningMessage: readOnly('string'),
    transitioningProgress: readOnly('int'),
    uuid: readOnly('string', { filter: true }),
  };
}

/** Fields of the base `instance` type (spec §2.5). */
const INSTANCE_FIELDS: Record<string, FieldDef> = {
  ...commonFields('instance'),
  externalId: readOnly('string', { filter: true }),
  hostId: readOnly('reference[host]', { filter: true }),
  // The instance as the Wakame API (`/api`) knows it: its id there, and its state, which tells a halted
  // instance (stopped, host kept) from a stopped one (host given back).
  wakameId: readOnly('string', { nullable: false, filter: true }),
  wakameState: readOnly('enum', { nullable: false, options: [...WAKAME_STATES], filter: true }),
};

/** `container` fields, project-role view (spec §2.3). */
const CONTAINER_FIELDS: Record<string, FieldDef> = {
  ...INSTANCE_FIELDS,
  build: createOnly('dockerBuild'),
  capAdd: createOnly('array[enum]', { options: CAPABILITIES, maxItems: LIST }),
  capDrop: createOnly('array[enum]', { options: CAPABILITIES, maxItems: LIST }),
  command: createOnly('array[string]', { maxLength: ARG, maxItems: LONG_LIST }),
  count: createOnly('int', { output: false, min: 1, max: 1000 }),
  cpuSet: createOnly('string', { maxLength: NAME }),
  cpuShares: createOnly('int'),
  createIndex: readOnly('int', { filter: true }),
  dataVolumeMounts: createOnly('map[reference[volume]]', { maxItems: LIST }),
  dataVolumes: createOnly('array[string]', { maxLength: ARG, maxItems: LONG_LIST }),
  dataVolumesFrom: createOnly('array[reference[container]]', { maxItems: LIST }),
  deploymentUnitUuid: readOnly('string', { filter: true }),
  devices: createOnly('array[string]', { maxLength: TEXT, maxItems: LONG_LIST }),
  dns: createOnly('array[string]', { maxLength: NAME, maxItems: LIST }),
  dnsSearch: createOnly('array[string]', { maxLength: NAME, maxItems: LIST }),
  domainName: createOnly('string', { maxLength: NAME }),
  entryPoint: createOnly('array[string]', { maxLength: ARG, maxItems: LIST }),
  environment: createOnly('map[string]', { nullable: false, initialValue: {}, maxLength: ARG, maxItems: LONG_LIST }),
  expose: createOnly('array[string]', { maxLength: NAME, maxItems: LONG_LIST }),
  extraHosts: createOnly('array[string]', { maxLength: TEXT, maxItems: LONG_LIST }),
  firstRunning: readOnly('date', { filter: true }),
  healthCheck: createOnly('instanceHealthCheck'),
  healthState: readOnly('enum', { options: HEALTH_STATES, filter: true }),
  hostname: createOnly('string', { minLength: 1, maxLength: 255, filter: true }),
  // Optional in the schema (DUMP, seeds) but enforced on create, as cattle's InstanceImageValidationFilter does.
  imageUuid: createOnly('string', { requiredOnCreate: true, maxLength: TEXT, filter: true }),
  instanceLinks: createOnly('map[reference[instance]]', { output: false, maxItems: LIST }),
  labels: createOnly('map[string]', { nullable: false, initialValue: {}, maxLength: ARG, maxItems: LONG_LIST }),
  logConfig: createOnly('logConfig'),
  lxcConf: createOnly('map[string]', { maxLength: TEXT, maxItems: LIST }),
  memory: createOnly('int'),
  memorySwap: createOnly('int'),
  nativeContainer: readOnly('boolean', { nullable: false, initialValue: false, filter: true }),
  networkContainerId: createOnly('reference[container]', { filter: true }),
  networkIds: createOnly('array[reference[network]]', { output: false, maxItems: LIST }),
  networkMode: createOnly('enum', { options: ['none', 'bridge', 'host', 'managed', 'container'], default: 'managed' }),
  pidMode: createOnly('enum', { options: ['host'] }),
  ports: createOnly('array[string]', { maxLength: NAME, maxItems: LONG_LIST }),
  primaryIpAddress: readOnly('string', { nullable: false }),
  privileged: createOnly('boolean', { nullable: false, default: false }),
  // Where the host publishes the instance's ports (Rancher's publicEndpoint: ipAddress, port, privatePort,
  // protocol), as its agent reported them at start.
  publicEndpoints: readOnly('array[json]'),
  publishAllPorts: createOnly('boolean', { nullable: false, default: false }),
  readOnly: createOnly('boolean', { nullable: false, default: false }),
  registryCredentialId: createOnly('reference[registryCredential]', { filter: true }),
  requestedHostId: createOnly('reference[host]'),
  restartPolicy: createOnly('restartPolicy'),
  securityOpt: createOnly('array[string]', { maxLength: TEXT, maxItems: LIST }),
  startCount: readOnly('int', { filter: true }),
  startOnCreate: createOnly('boolean', { nullable: false, default: true }),
  stdinOpen: createOnly('boolean', { nullable: false, default: false }),
  systemContainer: readOnly('enum', { options: ['NetworkAgent', 'LoadBalancerAgent'], filter: true }),
  tty: createOnly('boolean', { nullable: false, default: false }),
  user: createOnly('string', { minLength: 1, maxLength: NAME }),
  version: readOnly('string', { nullable: false, default: '0', filter: true }),
  volumeDriver: createOnly('string', { maxLength: NAME }),
  workingDir: createOnly('string', { minLength: 1, maxLength: ARG }),
};

/** Docker-only container fields a virtual machine does not have (spec §2.4). */
const DOCKER_ONLY = [
  'build', 'capAdd', 'capDrop', 'dataVolumeMounts', 'dataVolumes', 'dataVolumesFrom', 'devices', 'entryPoint',
  'environment', 'lxcConf', 'networkContainerId', 'pidMode', 'privileged', 'publishAllPorts', 'readOnly',
  'stdinOpen', 'tty', 'user', 'workingDir',
];

const VM_FIELDS: Record<string, FieldDef> = {
  ...Object.fromEntries(Object.entries(CONTAINER_FIELDS).filter(([k]) => !DOCKER_ONLY.includes(k))),
  disks: createOnly('array[virtualMachineDisk]', { maxItems: LIST }),
  memoryMb: createOnly('int', { default: 512, min: 1, filter: true }),
  userdata: createOnly('string', { maxLength: 65535 }),
  vcpu: createOnly('int', { default: 1, min: 1 }),
};

const INSTANCE_LINK_FIELDS: Record<string, FieldDef> = {
  ...commonFields('instanceLink'),
  instanceId: readOnly('reference[instance]', { filter: true }),
  linkName: readOnly('string', { filter: true }),
  targetInstanceId: field('reference[instance]', { update: true, scheduleUpdate: true, filter: true }),
};

/**
 * A host as its agent registered it (`core/agent/registration.ts`): capacity and driver facts reported by the agent, the
 * counters the scheduler charges, and `agentState` computed from the agent's last request (`fieldValue`).
 */
const HOST_FIELDS: Record<string, FieldDef> = {
  ...commonFields('host'),
  agentConnectedUntil: readOnly('int'),
  agentSeenAt: readOnly('date'),
  agentState: readOnly('enum', { options: ['online', 'offline'], filter: true }),
  allocatedMemoryMb: readOnly('int', { nullable: false, initialValue: 0 }),
  allocatedVcpu: readOnly('int', { nullable: false, initialValue: 0 }),
  // What the agent's driver reported (`HostFacts`): the access its instances offer, where its access server is, and
  // what it applies to each instance and what it cannot here.
  accessUrl: readOnly('string'),
  capabilities: readOnly('array[string]'),
  driver: readOnly('string', { filter: true }),
  hostname: readOnly('string', { filter: true }),
  labels: readOnly('map[string]', { nullable: false, initialValue: {} }),
  memoryMb: readOnly('int', { filter: true }),
  sandbox: readOnly('map[string]'),
  vcpu: readOnly('int', { filter: true }),
};

/**
 * A receiver: a secret URL (`url`, shown only by the create call) that, when called, runs `action` on the instances
 * of its project whose labels include `selector` (`core/domain/receivers.ts`).
 */
const RECEIVER_FIELDS: Record<string, FieldDef> = {
  ...commonFields('credential'),
  action: writable('enum', { nullable: false, required: true, options: ['recreate', 'restart', 'start', 'stop'], filter: true }),
  selector: writable('map[string]', { nullable: false, required: true, maxLength: TEXT, maxItems: LIST }),
  url: readOnly('string', { readOnCreateOnly: true }),
};

// A project is its own account, so it has no accountId.
const { accountId: _ownAccount, ...PROJECT_FIELDS } = commonFields('account');

const API_KEY_FIELDS: Record<string, FieldDef> = {
  ...commonFields('credential'),
  accountId: createOnly('reference[account]', { required: true, filter: true }),
  publicValue: readOnly('string', { filter: true }),
  secretValue: readOnly('password', { readOnCreateOnly: true }),
};

/**
 * A registration token lets host agents join a project (`POST /agent/register`). Its `token`
 * (`<publicValue>:<secret>`) is shown only by the create call; the store keeps the secret's hash.
 */
const REGISTRATION_TOKEN_FIELDS: Record<string, FieldDef> = {
  ...commonFields('credential'),
  registrationUrl: readOnly('string'),
  token: readOnly('string', { readOnCreateOnly: true }),
};

/**
 * A webhook: committed events of its project that pass its `eventFilter` are POSTed to `url`, signed with `secret`
 * (`core/domain/webhooks.ts`). The secret is shown only by the create call (given, or generated when absent); the
 * store keeps it to sign with. `disabledReason` says why Drover turned `enabled` off.
 */
const WEBHOOK_FIELDS: Record<string, FieldDef> = {
  ...commonFields('webhook'),
  url: writable('string', { required: true, minLength: 1, maxLength: 2048, filter: true }),
  secret: createOnly('password', { readOnCreateOnly: true, minLength: 16, maxLength: 256 }),
  eventFilter: writable('webhookEventFilter'),
  enabled: writable('boolean', { nullable: false, default: true, filter: true }),
  disabledReason: readOnly('string'),
};

/** One delivery of one event to one webhook: its progress, the last answer, and the body as sent. */
const WEBHOOK_DELIVERY_FIELDS: Record<string, FieldDef> = {
  ...commonFields('webhookDelivery'),
  webhookId: readOnly('reference[webhook]', { filter: true }),
  eventId: readOnly('string', { filter: true }),
  resourceType: readOnly('string', { filter: true }),
  resourceId: readOnly('string', { filter: true }),
  status: readOnly('enum', { options: ['pending', 'retrying', 'delivered', 'failed'], filter: true }),
  attempts: readOnly('int', { filter: true }),
  nextAttemptAt: readOnly('date', { filter: true }),
  lastAttemptAt: readOnly('date'),
  deliveredAt: readOnly('date'),
  responseCode: readOnly('int', { filter: true }),
  latencyMs: readOnly('int'),
  lastError: readOnly('string'),
  body: readOnly('json'),
};

/** Rancher's process actions take no input and return the resource, unless the process says otherwise. */
function processActions(baseType: ProcessBaseType, output: string): Record<string, ActionDef> {
  const out: Record<string, ActionDef> = {};
  for (const [name, p] of Object.entries(PROCESSES[baseType]) as [string, ProcessDef][]) {
    if (p.api) continue;
    out[name] = { input: p.input ?? null, output };
  }
  return out;
}

/** Handler actions keep their declared output: `setlabels` returns a `container` on a VM too (seed 002). */
function handlerActions(): Record<string, ActionDef> {
  const out: Record<string, ActionDef> = {};
  for (const [name, a] of Object.entries(INSTANCE_HANDLER_ACTIONS)) out[name] = { input: a.input, output: a.output };
  return out;
}

const sortKeys = <T>(o: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const INSTANCE_LINKS: Record<string, LinkDef> = {
  account: { kind: 'reference', field: 'accountId', type: 'project' },
  host: { kind: 'reference', field: 'hostId', type: 'host' },
  instanceLinks: { kind: 'collection', type: 'instanceLink', field: 'instanceId' },
  targetInstanceLinks: { kind: 'collection', type: 'instanceLink', field: 'targetInstanceId' },
  // The audit trail of the instance: one entry per action request on it.
  auditEntries: { kind: 'collection', type: 'auditEntry', field: 'resourceId' },
};

function stateful(
  id: string,
  baseType: BaseType & ProcessBaseType,
  fields: Record<string, FieldDef>,
  o: Partial<ResourceSchema> & { output?: string },
): ResourceSchema {
  return {
    id,
    pluralName: o.pluralName ?? `${id}s`,
    parent: o.parent,
    baseType,
    resourceFields: sortKeys(fields),
    resourceActions: sortKeys({ ...processActions(baseType, o.output ?? id), ...(o.resourceActions ?? {}) }),
    collectionMethods: o.collectionMethods ?? ['GET'],
    resourceMethods: o.resourceMethods ?? ['GET'],
    links: o.links ?? {},
    adminOnly: o.adminOnly,
  };
}

/**
 * An audit entry: one action request, kept for the retention (`DROVER_AUDIT_RETENTION_SECONDS`) and written only by
 * the audit writer (`core/domain/audit.ts`), from committed changes. Clients read it; nothing is writable.
 */
const AUDIT_ENTRY_FIELDS: Record<string, FieldDef> = {
  accountId: readOnly('reference[account]', { filter: true }),
  action: readOnly('string', { filter: true }),
  actionId: readOnly('string', { filter: true }),
  callerId: readOnly('string', { filter: true }),
  created: readOnly('date', { filter: true }),
  durationMs: readOnly('int', { filter: true }),
  ended: readOnly('date', { filter: true }),
  expires: readOnly('date'),
  forwardedFor: readOnly('string'),
  id: readOnly('int', { nullable: false }),
  input: readOnly('json'),
  kind: readOnly('string', { filter: true }),
  message: readOnly('string'),
  outcome: readOnly('enum', { options: ['failed', 'succeeded', 'superseded', 'timedOut'], filter: true }),
  resourceId: readOnly('string', { filter: true }),
  resourceType: readOnly('string', { filter: true }),
  sourceIp: readOnly('string', { filter: true }),
  steps: readOnly('array[json]'),
  userAgent: readOnly('string'),
};

/** A stored type no process moves and no client writes: listed, filtered and read only. */
function readOnlyRecord(id: string, baseType: BaseType, fields: Record<string, FieldDef>, links: Record<string, LinkDef>): ResourceSchema {
  return {
    id,
    pluralName: `${id}s`.replace(/ys$/, 'ies'),
    baseType,
    resourceFields: sortKeys(fields),
    resourceActions: {},
    collectionMethods: ['GET'],
    resourceMethods: ['GET'],
    links,
  };
}

/** An embedded or action input/output type: no collection, not stored. */
function embedded(id: string, fields: Record<string, FieldDef>, collectionMethods: string[] = []): ResourceSchema {
  return {
    id,
    pluralName: `${id}s`,
    resourceFields: sortKeys(fields),
    resourceActions: {},
    collectionMethods,
    resourceMethods: ['GET'],
    links: {},
  };
}

/** A field of an action's input. */
const inputField = (type: string, o: Opts = {}): FieldDef => ({ type, create: true, nullable: true, ...o });

/** A type a project owns and its keys manage whole: listed and created, read, changed and deleted one by one. */
const OWNED_BY_PROJECT = {
  collectionMethods: ['GET', 'POST'],
  resourceMethods: ['GET', 'PUT', 'DELETE'],
  links: { account: { kind: 'reference', field: 'accountId', type: 'project' } },
} satisfies Partial<ResourceSchema>;

/** Every schema, keyed by id. Order is the order of `/v1/schemas`. */
export const SCHEMAS: Record<string, ResourceSchema> = Object.fromEntries(
  [
    stateful('instance', 'instance', INSTANCE_FIELDS, {
      resourceActions: { console: { input: 'instanceConsoleInput', output: 'instanceConsole' } },
      links: INSTANCE_LINKS,
    }),
    // Process actions of the instance family return an `instance` (DUMP, seeds 000-002).
    stateful('container', 'instance', CONTAINER_FIELDS, {
      parent: 'instance',
      output: 'instance',
      resourceActions: handlerActions(),
      collectionMethods: ['GET', 'POST'],
      resourceMethods: ['GET', 'PUT', 'DELETE'],
      links: INSTANCE_LINKS,
    }),
    stateful('virtualMachine', 'instance', VM_FIELDS, {
      parent: 'container',
      output: 'instance',
      resourceActions: handlerActions(),
      collectionMethods: ['GET', 'POST'],
      resourceMethods: ['GET', 'PUT', 'DELETE'],
      links: INSTANCE_LINKS,
    }),
    stateful('instanceLink', 'instanceLink', INSTANCE_LINK_FIELDS, {
      resourceMethods: ['GET', 'PUT'],
      links: {
        account: { kind: 'reference', field: 'accountId', type: 'project' },
        instance: { kind: 'reference', field: 'instanceId', type: 'instance' },
        targetInstance: { kind: 'reference', field: 'targetInstanceId', type: 'instance' },
      },
    }),
    stateful('host', 'host', HOST_FIELDS, {
      links: {
        account: { kind: 'reference', field: 'accountId', type: 'project' },
        instances: { kind: 'collection', type: 'instance', field: 'hostId' },
      },
    }),
    stateful('project', 'account', PROJECT_FIELDS, {
      adminOnly: true,
      collectionMethods: ['GET', 'POST'],
      resourceMethods: ['GET', 'PUT', 'DELETE'],
      links: {
        apiKeys: { kind: 'collection', type: 'apiKey', field: 'accountId' },
      },
    }),
    stateful('apiKey', 'credential', API_KEY_FIELDS, {
      adminOnly: true,
      ...OWNED_BY_PROJECT,
    }),
    stateful('registrationToken', 'credential', REGISTRATION_TOKEN_FIELDS, {
      ...OWNED_BY_PROJECT,
    }),
    stateful('receiver', 'credential', RECEIVER_FIELDS, {
      ...OWNED_BY_PROJECT,
    }),
    stateful('webhook', 'webhook', WEBHOOK_FIELDS, {
      collectionMethods: ['GET', 'POST'],
      resourceMethods: ['GET', 'PUT', 'DELETE'],
      links: {
        account: { kind: 'reference', field: 'accountId', type: 'project' },
        deliveries: { kind: 'collection', type: 'webhookDelivery', field: 'webhookId' },
      },
    }),
    stateful('webhookDelivery', 'webhookDelivery', WEBHOOK_DELIVERY_FIELDS, {
      pluralName: 'webhookDeliveries',
      resourceActions: { ...WEBHOOK_DELIVERY_HANDLER_ACTIONS },
      links: {
        account: { kind: 'reference', field: 'accountId', type: 'project' },
        webhook: { kind: 'reference', field: 'webhookId', type: 'webhook' },
      },
    }),
    // Which events a webhook gets: all of its project's unless narrowed (every given part must match).
    embedded('webhookEventFilter', {
      labels: inputField('map[string]', { maxLength: TEXT, maxItems: LIST }),
      resourceTypes: inputField('array[string]', { maxLength: NAME, maxItems: LIST }),
      states: inputField('array[string]', { maxLength: NAME, maxItems: LIST }),
    }),
    readOnlyRecord('auditEntry', 'auditEntry', AUDIT_ENTRY_FIELDS, {
      account: { kind: 'reference', field: 'accountId', type: 'project' },
    }),
    // embedded types (spec §2.6)
    embedded('restartPolicy', { maximumRetryCount: inputField('int'), name: inputField('string', { update: true, maxLength: NAME }) }),
    embedded('logConfig', { config: inputField('map[string]', { maxLength: TEXT, maxItems: LIST }), driver: inputField('string', { maxLength: NAME }) }),
    embedded('instanceHealthCheck', {
      healthyThreshold: inputField('int'),
      initializingTimeout: inputField('int'),
      interval: inputField('int'),
      name: inputField('string', { maxLength: NAME }),
      port: inputField('int', { required: true, min: 1, max: 65535 }),
      recreateOnQuorumStrategyConfig: inputField('recreateOnQuorumStrategyConfig'),
      reinitializingTimeout: inputField('int'),
      requestLine: inputField('string', { maxLength: TEXT }),
      responseTimeout: inputField('int'),
      strategy: inputField('enum', { options: ['none', 'recreate', 'recreateOnQuorum'], default: 'recreate' }),
      unhealthyThreshold: inputField('int'),
    }),
    embedded('recreateOnQuorumStrategyConfig', { quorum: inputField('int') }),
    embedded('dockerBuild', {
      context: inputField('string', { maxLength: ARG }),
      dockerfile: inputField('string', { maxLength: ARG }),
      forcerm: inputField('boolean', { nullable: false, default: false }),
      nocache: inputField('boolean', { nullable: false, default: false }),
      remote: inputField('string', { maxLength: ARG }),
      rm: inputField('boolean', { nullable: false, default: false }),
    }),
    embedded('virtualMachineDisk', {
      driver: inputField('string', { maxLength: NAME }),
      name: inputField('string', { validChars: 'a-z0-9_.-', minLength: 2, maxLength: NAME }),
      opts: inputField('map[string]', { maxLength: TEXT, maxItems: LIST }),
      root: inputField('boolean', { nullable: false, default: false }),
      size: inputField('string', { default: '40g', maxLength: 64 }),
    }),
    // action inputs and outputs (spec §2.7)
    // Exactly as served by cattle (spec §1.10): neither field nullable, no limits.
    embedded('instanceStop', { remove: inputField('boolean', { nullable: false }), timeout: inputField('int', { nullable: false }) }, ['POST']),
    embedded(
      'containerExec',
      {
        attachStdin: inputField('boolean', { default: true }),
        attachStdout: inputField('boolean', { default: true }),
        command: inputField('array[string]', { required: true, maxLength: ARG, maxItems: LONG_LIST }),
        tty: inputField('boolean', { default: true }),
      },
      ['POST'],
    ),
    embedded('containerLogs', { follow: inputField('boolean', { default: true }), lines: inputField('int', { min: 0, default: 100 }) }, ['POST']),
    embedded(
      'containerProxy',
      { port: inputField('int', { min: 0, default: 80 }), scheme: inputField('enum', { options: ['http', 'https'], default: 'http' }) },
      ['POST'],
    ),
    embedded('instanceConsoleInput', {}, ['POST']),
    // `labels` is not required (seed 002: Required "No").
    embedded('setLabelsInput', { labels: inputField('json') }, ['POST']),
    embedded('hostAccess', { token: readOnly('string'), url: readOnly('string') }),
    embedded('instanceConsole', { kind: readOnly('string'), password: readOnly('string'), url: readOnly('string') }),
  ].map((s) => [s.id, s]),
);

/*
 * Checked when this module loads: every string, list and map a client can write is bounded, so a field added
 * later without limits fails at import instead of letting a huge value reach the store.
 */
for (const s of Object.values(SCHEMAS)) {
  for (const [name, def] of Object.entries(s.resourceFields)) {
    if (!def.create && !def.update) continue;
    const collection = /^(array|map)\[/.test(def.type);
    const strings = def.type === 'string' || def.type === 'password' || /\[string\]$/.test(def.type);
    if (collection && def.maxItems === undefined) throw new Error(`schema ${s.id}: ${name} needs maxItems`);
    if (strings && def.maxLength === undefined) throw new Error(`schema ${s.id}: ${name} needs maxLength`);
  }
}
