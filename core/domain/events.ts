/**
 * @module
 * `resource.change` events from committed changes only: the store's change feed (locally; in AWS the table's stream
 * plays that part) becomes one event per committed change of an instance, link, host, project or API key, appended
 * to the event log in order and then handed to live subscribers. A write that lost its condition commits nothing and
 * makes no event.
 */
import type { Change } from '../store/changes.js';
import { EventIds, type EventLog, type StoredEvent } from '../store/events.js';
import { fromItem, type Resource } from '../store/item.js';
import type { Store } from '../store/store.js';

/** The base types whose changes are events (D10), and webhooks (so disabling one after its failures is an event). */
const EVENTFUL: ReadonlySet<string> = new Set(['instance', 'instanceLink', 'host', 'account', 'credential', 'webhook']);

/**
 * Fields whose change alone is no event: an agent's liveness stamp, written on every poll (a host's `agentState`
 * is computed from it on every read).
 */
const QUIET_FIELDS: ReadonlySet<string> = new Set(['agentSeenAt']);

export type EventListener = (event: StoredEvent) => void;

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

  constructor(
    private readonly store: Store,
    readonly log: EventLog,
    private readonly logError: (err: unknown) => void = (e) => console.error('event feed:', e),
  ) {}

  /** Starts turning committed changes into events; returns the stop. */
  start(): () => void {
    return this.store.changes.subscribe((change) => {
      const event = eventOf(change, this.ids.next(Date.now()));
      if (!event) return;
      this.chain = this.chain
        .then(() => this.log.append(event))
        .then(() => this.publish(event))
        .catch((e) => this.logError(e));
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
   * Resolves once every change seen so far is in the log and handed out.
   *
   * @example
   * await feed.settled();
   */
  settled(): Promise<void> {
    return this.chain;
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
