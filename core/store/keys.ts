/**
 * @module
 * Every key of the stage's table, defined once: the item keys of each entity the store keeps (resources, id
 * counters, config, access-key items, host commands and their dedupe keys, host uuid claims, idempotency
 * records) and the partitions of the resource indexes. No other module writes a key prefix.
 *
 * | entity          | `pk`                              | `sk`                    |
 * |-----------------|-----------------------------------|-------------------------|
 * | resource        | resource id (`1i5`)               | `R`                     |
 * | counter         | `counter#<baseType>`              | `C`                     |
 * | config          | `config#<name>`                   | `C`                     |
 * | accessKey       | `ak#<publicValue>`                | `A`                     |
 * | command         | `cmd#<hostId>`                    | command id (time-ordered) |
 * | commandKey      | `cmdkey#<hostId>#<dedupeKey>`     | `K`                     |
 * | hostClaim       | `hostuuid#<projectId>#<uuid>`     | `K`                     |
 * | idempotency     | `idem#<callerId>#<key>`           | `K`                     |
 * | idempotencyPart | `idem#<callerId>#<key>`           | `B#<lease>#<nnnnn>`     |
 * | wakameAccount   | `wkacct#<a-uuid>`                 | `K`                     |
 * | hostnameClaim   | `hostname#<projectId>#<hostname>` | `K`                     |
 * | event           | `ev#<projectId>`                  | event id (append order) |
 * | eventSource     | `evsrc#<resourceId>#<version>`    | `K`                     |
 * | auditPointer    | `audit#<resourceId>`              | `P`                     |
 * | streamConnection | `wsconn`                         | API Gateway connection id |
 * | agentBell       | `bell#<hostId>`                   | API Gateway connection id |
 * | agentBellConnection | `bellconn#<connectionId>`     | `K`                     |
 * | deliverySource  | `whdsrc#<webhookId>#<eventId>`    | `K`                     |
 */

/** What an item of the table holds; the change feed reports it with every write. */
export type EntityKind =
  | 'resource'
  | 'counter'
  | 'config'
  | 'accessKey'
  | 'command'
  | 'commandKey'
  | 'hostClaim'
  | 'idempotency'
  | 'idempotencyPart'
  | 'wakameAccount'
  | 'hostnameClaim'
  | 'event'
  | 'eventSource'
  | 'auditPointer'
  | 'streamConnection'
  | 'agentBell'
  | 'agentBellConnection'
  | 'deliverySource';

/** The key of one item, with the kind of entity it holds (only `pk` and `sk` go to DynamoDB). */
export interface ItemKey {
  kind: EntityKind;
  pk: string;
  sk: string;
}

const key = (kind: EntityKind, pk: string, sk: string): ItemKey => ({ kind, pk, sk });

/** The sort key of a resource item: `Scan`s pick resources out of the table by it. */
export const RESOURCE_SK = 'R';

/**
 * Item keys, one builder per entity.
 *
 * @example
 * keys.resource('1i5') // { kind: 'resource', pk: '1i5', sk: 'R' }
 * keys.command('1h1', id) // { kind: 'command', pk: 'cmd#1h1', sk: id }
 */
export const keys = {
  resource: (id: string) => key('resource', id, RESOURCE_SK),
  counter: (baseType: string) => key('counter', `counter#${baseType}`, 'C'),
  config: (name: string) => key('config', `config#${name}`, 'C'),
  accessKey: (publicValue: string) => key('accessKey', `ak#${publicValue}`, 'A'),
  command: (hostId: string, id: string) => key('command', commandPartition(hostId), id),
  commandKey: (hostId: string, dedupeKey: string) => key('commandKey', `cmdkey#${hostId}#${dedupeKey}`, 'K'),
  hostClaim: (projectId: string, uuid: string) => key('hostClaim', `hostuuid#${projectId}#${uuid}`, 'K'),
  idempotency: (callerId: string, k: string) => key('idempotency', idempotencyPartition(callerId, k), 'K'),
  idempotencyPart: (callerId: string, k: string, lease: string, i: number) =>
    key('idempotencyPart', idempotencyPartition(callerId, k), `${idempotencyPartPrefix(lease)}${String(i).padStart(5, '0')}`),
  /** A Wakame account uuid named on first use, and the project it became. */
  wakameAccount: (uuid: string) => key('wakameAccount', `wkacct#${uuid}`, 'K'),
  /** A Wakame hostname leased to an instance: unique per project (dcmgr `hostname_leases`). */
  hostnameClaim: (projectId: string, hostname: string) => key('hostnameClaim', `hostname#${projectId}#${hostname}`, 'K'),
  /** One `resource.change` event of a project, kept for the retention (`expiresAt`). */
  event: (projectId: string, id: string) => key('event', eventPartition(projectId), id),
  /** The id a change's event got: a redelivered change (a retried stream batch) gets the same one. */
  eventSource: (resourceId: string, version: number) => key('eventSource', `evsrc#${resourceId}#${version}`, 'K'),
  /** The audit trail's pointer from a resource to the entry of its latest action (audit entries are resources). */
  auditPointer: (resourceId: string) => key('auditPointer', `audit#${resourceId}`, 'P'),
  /**
   * A `/v1/subscribe` client connected through the stage's WebSocket API (AWS). All in one partition: a stage is
   * one tenant, whose subscribers (UIs, CLIs) are few, and the stream consumer reads them all per batch.
   */
  streamConnection: (connectionId: string) => key('streamConnection', STREAM_CONNECTIONS_PARTITION, connectionId),
  /** A host agent's doorbell connection to the stage's agent WebSocket API (AWS), found by host when a command is enqueued. */
  agentBell: (hostId: string, connectionId: string) => key('agentBell', `bell#${hostId}`, connectionId),
  /** The host a doorbell connection belongs to, found by connection id (`$disconnect`, keepalives). */
  agentBellConnection: (connectionId: string) => key('agentBellConnection', `bellconn#${connectionId}`, 'K'),
  /** The delivery an event got for a webhook: a redelivered event (a retried stream batch) gets the same one. */
  deliverySource: (webhookId: string, eventId: string) => key('deliverySource', `whdsrc#${webhookId}#${eventId}`, 'K'),
} as const;

/** The one partition of WebSocket stream connections. */
export const STREAM_CONNECTIONS_PARTITION = 'wsconn';

/** Partition prefixes of the entities whose key says what they are (a resource's says it by its sort key). */
const KIND_OF_PREFIX: [string, EntityKind][] = [
  ['counter#', 'counter'],
  ['config#', 'config'],
  ['ak#', 'accessKey'],
  ['cmdkey#', 'commandKey'],
  ['cmd#', 'command'],
  ['hostuuid#', 'hostClaim'],
  ['wkacct#', 'wakameAccount'],
  ['hostname#', 'hostnameClaim'],
  ['evsrc#', 'eventSource'],
  ['ev#', 'event'],
  ['audit#', 'auditPointer'],
  ['whdsrc#', 'deliverySource'],
  ['bellconn#', 'agentBellConnection'],
  ['bell#', 'agentBell'],
];

/**
 * What an item holds, from its key alone: the inverse of `keys` (a table stream record carries only the key).
 *
 * @example
 * kindOfKey({ pk: '1i5', sk: 'R' }) // 'resource'
 * kindOfKey({ pk: 'ev#1a1', sk: '1764620000123.0000' }) // 'event'
 */
export function kindOfKey(k: { pk: string; sk: string }): EntityKind {
  if (k.sk === RESOURCE_SK) return 'resource';
  if (k.pk.startsWith('idem#')) return k.sk === 'K' ? 'idempotency' : 'idempotencyPart';
  if (k.pk === STREAM_CONNECTIONS_PARTITION) return 'streamConnection';
  for (const [prefix, kind] of KIND_OF_PREFIX) if (k.pk.startsWith(prefix)) return kind;
  throw new Error(`no entity has the key ${k.pk} / ${k.sk}`);
}

/**
 * The partition holding a project's events, in id order (append order).
 *
 * @example
 * eventPartition('1a1') // 'ev#1a1'
 */
export function eventPartition(projectId: string): string {
  return `ev#${projectId}`;
}

/**
 * The partition holding every command of a host (queried oldest first).
 *
 * @example
 * commandPartition('1h1') // 'cmd#1h1'
 */
export function commandPartition(hostId: string): string {
  return `cmd#${hostId}`;
}

/**
 * The partition of an idempotency key: its head item and the part items of its response.
 *
 * @example
 * idempotencyPartition('admin', 'k1') // 'idem#admin#k1'
 */
export function idempotencyPartition(callerId: string, k: string): string {
  return `idem#${callerId}#${k}`;
}

/**
 * The sort-key prefix of the part items a lease wrote (parts of other leases never match it).
 *
 * @example
 * idempotencyPartPrefix('l1') // 'B#l1#'
 */
export function idempotencyPartPrefix(lease: string): string {
  return `B#${lease}#`;
}

/** Sort keys of the resource indexes hold the numeric id zero-padded, so index order is id order. */
export const padNum = (n: number) => String(n).padStart(15, '0');

/**
 * Partition keys of the resource indexes (`core/store/table.ts` names the indexes and their attributes).
 *
 * @example
 * partitions.byState('1a1', 'instance', 'running') // 'S#1a1#instance#running'
 */
export const partitions = {
  byProject: (projectId: string, baseType: string) => `P#${projectId}#${baseType}`,
  byKind: (baseType: string) => `K#${baseType}`,
  byState: (projectId: string, baseType: string, state: string) => `S#${projectId}#${baseType}#${state}`,
  byHost: (hostId: string, baseType: string) => `H#${hostId}#${baseType}`,
  byDeadline: (shard: number) => `T#${shard}`,
  /** Webhook deliveries waiting for an attempt, in the `byDeadline` index beside the sweeper's `T#` partitions. */
  webhookDue: (shard: number) => `WD#${shard}`,
  /** Instances whose automatic recovery (`fields.recovery.nextAt`) is pending, in `byDeadline` beside the others. */
  recoveryDue: (shard: number) => `RD#${shard}`,
} as const;

/**
 * The sort key of a resource in `byDeadline`: when it is due, then its id.
 *
 * @example
 * deadlineSortKey(1767225660000, '1i5') // '000001767225660000#1i5'
 */
export function deadlineSortKey(due: number, id: string): string {
  return `${padNum(due)}#${id}`;
}

/**
 * The key as DynamoDB takes it (without the entity kind).
 *
 * @example
 * new GetCommand({ TableName, Key: dynamoKey(keys.config('adminKey')) })
 */
export function dynamoKey(k: ItemKey): { pk: string; sk: string } {
  return { pk: k.pk, sk: k.sk };
}
