/**
 * @module
 * The stored form of every API resource (instance, link, host, project, API key) and its index keys.
 */
import type { BaseType } from '../ids.js';
import { deadlineSortKey, keys, padNum, partitions } from './keys.js';
import { DEADLINE_SHARDS, INDEXES } from './table.js';

export { padNum };

/** The action a resource is currently transitioning under (the fencing token of later workflow writes). */
export interface CurrentAction {
  id: string;
  name: string;
  input: Record<string, unknown>;
  /** Who asked: `admin` or an API key id. */
  caller: string;
  at: number;
  /** The state the process started from (picks the done state of per-state processes like `update`). */
  from: string;
  /** Epoch ms after which the sweeper treats the action as stuck (re-drives or fails it). */
  deadline?: number;
  /** How many times the sweeper has re-driven this action. */
  redrives?: number;
  /** Where the request came from (the API layer's view of the client), for the audit trail. */
  source?: RequestSource;
}

/** The client a request came from: the peer address, what it says it forwards for, its user agent. */
export interface RequestSource {
  ip?: string | null;
  forwardedFor?: string | null;
  userAgent?: string | null;
}

export interface Resource {
  /** Formatted id, e.g. `1i5`. */
  id: string;
  num: number;
  /** Schema type (`container`, `virtualMachine`, `instanceLink`, `host`, `project`, `apiKey`). */
  type: string;
  baseType: BaseType;
  /** Owning project (for a project: itself). */
  projectId: string;
  state: string;
  /** Optimistic-lock counter; every write is conditional on it. */
  version: number;
  created: number;
  updated: number;
  /** Schema field values (dates as epoch ms), plus a few internal ones (`capabilities`, `secretHash`). */
  fields: Record<string, unknown>;
  /** Stored `transitioning: "error"` after a failed process, with its message. */
  transitioningError?: string | null;
  transitioningMessage?: string | null;
  transitioningProgress?: number | null;
  action?: CurrentAction | null;
  /** Epoch seconds after which the item is gone (DynamoDB TTL); reads treat it as absent. */
  expiresAt?: number | null;
}

/**
 * Index attributes of a resource item, derived from its fields so they can never disagree.
 *
 * @example
 * indexKeys(res).gsi3pk // 'S#1a1#instance#running'
 */
export function indexKeys(r: Resource): Record<string, string> {
  const n = padNum(r.num);
  const k: Record<string, string> = {
    [INDEXES.byProject.pk]: partitions.byProject(r.projectId, r.baseType),
    [INDEXES.byProject.sk]: n,
    [INDEXES.byKind.pk]: partitions.byKind(r.baseType),
    [INDEXES.byKind.sk]: n,
    [INDEXES.byState.pk]: partitions.byState(r.projectId, r.baseType, r.state),
    [INDEXES.byState.sk]: n,
  };
  Object.assign(k, hostIndexEntry(r.fields.hostId, r.baseType, r.num));
  const due = r.action ? (r.action.deadline ?? r.action.at) : purgeDueAt(r);
  if (due !== undefined) {
    k[INDEXES.byDeadline.pk] = partitions.byDeadline(r.num % DEADLINE_SHARDS);
    k[INDEXES.byDeadline.sk] = deadlineSortKey(due, r.id);
  }
  const recoverAt = recoveryDueAt(r);
  if (recoverAt !== undefined) {
    k[INDEXES.byDeadline.pk] = partitions.recoveryDue(r.num % DEADLINE_SHARDS);
    k[INDEXES.byDeadline.sk] = deadlineSortKey(recoverAt, r.id);
  }
  const attemptAt = deliveryDueAt(r);
  if (attemptAt !== undefined) {
    k[INDEXES.byDeadline.pk] = partitions.webhookDue(r.num % DEADLINE_SHARDS);
    k[INDEXES.byDeadline.sk] = deadlineSortKey(attemptAt, r.id);
  }
  return k;
}

/**
 * A resource's `byHost` index attributes for a `hostId` value: none when it is on no host. `indexKeys` and the
 * store's partial writes (which move `hostId` without rewriting the item) both place it through here.
 *
 * @example
 * hostIndexEntry('1h2', 'instance', 5) // { gsi4pk: 'H#1h2#instance', gsi4sk: '000000000000005' }
 */
export function hostIndexEntry(hostId: unknown, baseType: string, num: number): Record<string, string> {
  if (typeof hostId !== 'string' || !hostId) return {};
  return { [INDEXES.byHost.pk]: partitions.byHost(hostId, baseType), [INDEXES.byHost.sk]: padNum(num) };
}

/**
 * The access key a resource is found by, if it is a credential.
 *
 * @example
 * accessKeyOf(apiKey) // '0123456789ABCDEF0123'
 */
export function accessKeyOf(r: Resource): string | undefined {
  const v = r.fields.publicValue;
  return r.baseType === 'credential' && typeof v === 'string' && v ? v : undefined;
}

/**
 * When a removed instance is due to be purged (its `removeTime`, epoch ms), or `undefined` if it is not waiting
 * for a purge: not an instance, not `removed`, or under an action already. Such an instance sits in `byDeadline`
 * under that time, so the sweeper finds due purges as it finds overdue actions (cattle's purge task).
 *
 * @example
 * purgeDueAt(removedContainer) // 1767225660000
 */
export function purgeDueAt(r: Resource): number | undefined {
  const at = r.fields.removeTime;
  if (r.baseType !== 'instance' || r.state !== 'removed' || r.action || typeof at !== 'number') return undefined;
  return at;
}

/**
 * When a webhook delivery is due for its next attempt (`nextAttemptAt`, epoch ms), or `undefined` once it needs
 * none (delivered, failed). Such a delivery sits in `byDeadline` under `WD#<num mod 8>`, apart from the sweeper's
 * partitions, so the webhook worker finds due deliveries without a scan.
 *
 * @example
 * deliveryDueAt(retryingDelivery) // 1767225662000
 */
export function deliveryDueAt(r: Resource): number | undefined {
  const at = r.fields.nextAttemptAt;
  if (r.baseType !== 'webhookDelivery' || (r.fields.status !== 'pending' && r.fields.status !== 'retrying') || typeof at !== 'number') return undefined;
  return at;
}

/**
 * When an instance's automatic recovery is due (`fields.recovery.nextAt`, epoch ms, with the action it will begin),
 * or `undefined`: none pending, or the instance is under an action or awaiting its purge (then it sits in the
 * sweeper's `T#` partition instead, and comes back here once that action ends). Such an instance sits in
 * `byDeadline` under `RD#<num mod 8>`, so `InstanceHealth.runDue` finds due recoveries without a scan, and a
 * restart of the process loses none.
 *
 * The instance item itself is indexed rather than a separate due item: the due time lives on `fields.recovery`
 * already, and the begin of the recovery action clears it in the same conditional write that starts the action,
 * so the record and its index entry can never disagree and no second item has to be written or cleaned up.
 *
 * @example
 * recoveryDueAt(exitedContainer) // 1767225661000
 */
export function recoveryDueAt(r: Resource): number | undefined {
  const rec = r.fields.recovery as { nextAt?: unknown; action?: unknown } | undefined;
  const at = rec?.nextAt;
  if (r.baseType !== 'instance' || r.action || purgeDueAt(r) !== undefined || typeof at !== 'number' || typeof rec?.action !== 'string') return undefined;
  return at;
}

const ITEM_ONLY = new Set(['pk', 'sk', ...Object.values(INDEXES).flatMap((i) => [i.pk, i.sk])]);

/** Item → resource: drops keys and index attributes. */
export function fromItem(item: Record<string, unknown>): Resource {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!ITEM_ONLY.has(k)) out[k] = v;
  return out as unknown as Resource;
}

/** Resource → item, with its keys and index attributes. */
export function toItem(r: Resource): Record<string, unknown> {
  const { pk, sk } = keys.resource(r.id);
  return { ...r, pk, sk, ...indexKeys(r) };
}
