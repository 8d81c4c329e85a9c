/**
 * @module
 * `resource.change` events from committed changes only: the store's change feed (locally; in AWS the table's stream
 * plays that part) becomes one event per committed change of an instance, link, host, project or API key, appended
 * to the event log in order and then handed to live subscribers. A write that lost its condition commits nothing and
 * makes no event.
 */
import { schemaFor, type Role } from '../schema/registry.js';
import type { Change } from '../store/changes.js';
import { eventIdAt, eventIdTime, EventIds, type EventLog, type StoredEvent } from '../store/events.js';
import { fromItem, type Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';

/** The base types whose changes are events (D10), and webhooks (so disabling one after its failures is an event). */
const EVENTFUL: ReadonlySet<string> = new Set(['instance', 'instanceLink', 'host', 'account', 'credential', 'webhook']);

/**
 * Fields whose change alone is no event: an agent's liveness stamp, written on every poll (a host's `agentState`
 * is computed from it on every read).
 */
const QUIET_FIELDS: ReadonlySet<string> = new Set(['agentSeenAt']);

export type EventListener = (event: StoredEvent) => void;

/** What one subscriber of the stream asked for, and may see. */
export interface SubscriptionFilter {
  /** Its project, or `null` for every project (the admin without one). */
  projectId: string | null;
  role: Role;
  /** Wanted resource types and ids (empty: all). */
  resourceTypes: readonly string[];
  resourceIds: readonly string[];
}

/**
 * Whether a subscriber gets `e`: its project (or every project), the types and ids it asked for, and only types its
 * role has a schema for.
 *
 * @example
 * wants({ projectId: '1a1', role: 'project', resourceTypes: ['container'], resourceIds: [] }, event) // true
 */
export function wants(f: SubscriptionFilter, e: StoredEvent): boolean {
  return (
    (f.projectId === null || e.projectId === f.projectId) &&
    (!f.resourceTypes.length || f.resourceTypes.includes(e.resourceType)) &&
    (!f.resourceIds.length || f.resourceIds.includes(e.resourceId)) &&
    !!schemaFor(e.resourceType, f.role)
  );
}

/** Most events one resume replays; a client further behind should list again. */
export const MAX_REPLAY = 10_000;

/**
 * The event of a committed change, if the change is one (`id` is given by the caller, in feed order).
 *
 * @example
 * eventOf(change, '1764620000123.0000') // { name: 'resource.change', resourceType: 'container', previousState: 'starting', ... }
 */
export function eventOf(change: Change, id: string): StoredEvent | undefined {
  if (change.kind !== 'resource') return undefined;
  const after = change.newImage ? fromItem(change.newImage) : undefined;
  const before = change.oldImage ? fromItem(change.oldImage) : undefined;
  const res = after ?? before;
  if (!res || !EVENTFUL.has(res.baseType) || (after && before && onlyQuietChanged(before, after))) return undefined;
  return {
    id,
    name: 'resource.change',
    resourceType: res.type,
    resourceId: res.id,
    projectId: res.projectId,
    previousState: before?.state ?? null,
    actionId: after?.action?.id ?? before?.action?.id ?? null,
    version: after ? after.version : (before?.version ?? 0) + 1,
    time: after?.updated ?? Date.now(),
    resource: res,
  };
}

function onlyQuietChanged(before: Resource, after: Resource): boolean {
  // The common case, settled without serialising anything: no quiet field moved, so something else did.
  if ([...QUIET_FIELDS].every((k) => before.fields[k] === after.fields[k])) return false;
  const { fields: bf, version: _bv, updated: _bu, ...bTop } = before;
  const { fields: af, version: _av, updated: _au, ...aTop } = after;
  if (JSON.stringify(bTop) !== JSON.stringify(aTop)) return false;
  const keys = new Set([...Object.keys(bf), ...Object.keys(af)]);
  for (const k of keys) if (!QUIET_FIELDS.has(k) && JSON.stringify(bf[k]) !== JSON.stringify(af[k])) return false;
  return true;
}

/**
 * Turns the store's committed changes into events: appends each to the log, then hands it to live subscribers, one
 * at a time in feed order, so a subscriber sees events in log order and a reader of the log after an id misses
 * none appended later.
 *
 * @example
 * const feed = new EventFeed(store, log); const stop = feed.start();
 * const off = feed.subscribe((e) => console.log(e.resourceId, e.resource.state));
 */
export class EventFeed {
  private readonly ids = new EventIds();
  private readonly listeners = new Set<EventListener>();
  private chain: Promise<void> = Promise.resolve();
  /** The first append that failed since `settled()` last answered. */
  private failure: unknown;

  constructor(
    private readonly store: Store,
    readonly log: EventLog,
    private readonly logError: (err: unknown) => void = (e) => console.error('event feed:', e),
    /** Changes may come twice (the table's stream): each event keeps the id its change got first. */
    readonly redelivered = false,
  ) {}

  /** Starts turning this process's committed changes into events (the embedded stack); returns the stop. */
  start(): () => void {
    return this.store.changes.subscribe((change) => this.consume(change));
  }

  /**
   * Turns one committed change into its event, if it is one: the store's feed calls this locally, the table's
   * stream consumer (`functions/events.ts`) in AWS. Appends and hands out in call order.
   *
   * @example
   * for (const r of event.Records) feed.consume(changeOfStreamRecord(r.dynamodb)); await feed.settled();
   */
  consume(change: Change): void {
    const event = eventOf(change, this.ids.next(this.log.now()));
    if (!event) return;
    this.chain = this.chain
      .then(async () => {
        if (this.redelivered) return this.appendOnce(event);
        await this.log.append(event);
        return event;
      })
      .then((stable) => this.publish(stable))
      .catch((e) => {
        this.logError(e);
        this.failure ??= e;
      });
  }

  /**
   * Calls `fn` with every event from now on, after it is in the log; returns the unsubscribe.
   *
   * @example
   * const off = feed.subscribe((e) => queue.push(e));
   */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolves once every change seen so far is in the log and handed out; rejects if an append failed meanwhile.
   *
   * @example
   * await feed.settled();
   */
  async settled(): Promise<void> {
    await this.chain;
    // A stream consumer must fail its batch (to have it retried) when an append failed.
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }

  /**
   * The retained events after `afterId` of one project, or (`null`, the admin) of every project, in id order, at
   * most `MAX_REPLAY`. With `overlapMs`, from that much before `afterId` (without `afterId` itself): where several
   * stream consumers append concurrently, an event can be logged after one with a later id, and a resume must not
   * miss it (the repeats it may send are told apart by their ids).
   *
   * @example
   * for (const e of await feed.missedSince('1a1', lastEventId)) send(e);
   */
  async missedSince(projectId: string | null, afterId: string, opts: { overlapMs?: number } = {}): Promise<StoredEvent[]> {
    const projects: string[] = [];
    if (projectId !== null) projects.push(projectId);
    else for await (const page of this.store.queryIndex({ index: 'byKind', partition: partitions.byKind('account') })) projects.push(...page.map((p) => p.id));
    const at = eventIdTime(afterId);
    const from = opts.overlapMs && at !== null ? eventIdAt(at - opts.overlapMs - 1, 9999) : afterId;
    const events = (await Promise.all(projects.map((p) => this.log.after(p, from, MAX_REPLAY)))).flat().filter((e) => e.id !== afterId);
    return events.sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, MAX_REPLAY);
  }

  /**
   * Appends a change that may come twice, and from consumers running side by side (one per stream shard): it keeps
   * the id it claimed first, and an id another consumer's change took in the same millisecond is traded for a
   * fresh one, so no change is lost and none logged twice.
   */
  private async appendOnce(event: StoredEvent): Promise<StoredEvent> {
    let id = await this.log.claimId(event);
    for (;;) {
      if (await this.log.append({ ...event, id })) return { ...event, id };
      const there = await this.log.at(event.projectId, id);
      // Logged already (a redelivery), or logged and expired since: nothing to add.
      if (!there || (there.resourceId === event.resourceId && there.version === event.version)) return { ...event, id };
      id = await this.log.reclaimId(event, id, this.ids.next(this.log.now()));
    }
  }

  private publish(event: StoredEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (e) {
        this.logError(e);
      }
    }
  }
}
