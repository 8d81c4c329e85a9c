/**
 * @module
 * The store's change feed: after a write commits, subscribers get its key, entity kind, old and new image, per
 * item in the order of the item's `version`. Locally this plays the part DynamoDB Streams play in AWS (the events
 * work consumes it); it reports the writes of this process only.
 */
import type { EntityKind } from './keys.js';

/** A DynamoDB item (or key), in document form. */
export type Item = Record<string, unknown>;

/** One committed write. Images are raw items (keys and index attributes included), as a stream record has them. */
export interface Change {
  key: { pk: string; sk: string };
  kind: EntityKind;
  /** The item before the write; `undefined` when the write created it. */
  oldImage: Item | undefined;
  /** The item after the write; `undefined` when the write deleted it. */
  newImage: Item | undefined;
}

export type ChangeListener = (change: Change) => void | Promise<void>;

/** A change waiting to go out, and the first write ticket issued after it completed. */
interface Held {
  change: Change;
  /** Writes of the item with a lower ticket began before this one completed, so may precede it. */
  bound: number;
}

/** Per item: the tickets of its writes in flight, and changes held back until those that may precede them end. */
interface ItemQueue {
  inflight: Set<number>;
  held: Held[];
}

/** The version a change brings the item to (a delete: one past the version it removed). */
const versionOf = (c: Change): number =>
  c.newImage ? Number(c.newImage.version) : Number(c.oldImage?.version ?? 0) + 1;

/**
 * Hands committed writes to subscribers, one item's changes in version order.
 *
 * Two writes of one item can complete in this process out of the order DynamoDB committed them (their responses
 * race). A write that committed before another one began before that one completed, so a change is held only
 * until every write of the same item that was in flight when it completed has ended; then what is held goes out
 * sorted by version. Writes begun later cannot precede it, so a busy item never stalls, and no timer is needed: a
 * gap that remains belongs to a write this process never made (another Lambda, the index rebuild, a test writing
 * around the store), which would never fill.
 *
 * @example
 * const stop = store.changes.subscribe((c) => { if (c.kind === 'resource') console.log(c.key.pk, c.newImage?.state) });
 * stop();
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private readonly queues = new Map<string, ItemQueue>();
  private tickets = 0;

  constructor(private readonly logError: (err: unknown) => void = (e) => console.error('change feed subscriber failed:', e)) {}

  /**
   * Calls `fn` with every change committed from now on; returns the unsubscribe. A throwing (or rejecting)
   * subscriber is logged; the write it reports has committed all the same. Images are the feed's own copies.
   *
   * @example
   * const stop = store.changes.subscribe((c) => seen.push(c)); ...; stop();
   */
  subscribe(fn: ChangeListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /**
   * Notes a write of the item as in flight and returns its ticket. The store calls it before sending, then
   * `settle` with the ticket when the write returns, whatever the outcome.
   *
   * @example
   * const ticket = feed.begin(key); try { change = await send() } finally { feed.settle(key, ticket, change) }
   */
  begin(key: { pk: string; sk: string }): number {
    const id = queueId(key);
    const ticket = ++this.tickets;
    const q = this.queues.get(id);
    if (q) q.inflight.add(ticket);
    else this.queues.set(id, { inflight: new Set([ticket]), held: [] });
    return ticket;
  }

  /**
   * The write `ticket` of the item has returned: with its change if it committed, `undefined` if not (a failed
   * condition, an error). Delivers every held change that nothing in flight can precede any more.
   *
   * @example
   * feed.settle(key, ticket, { key, kind: 'config', oldImage, newImage });
   */
  settle(key: { pk: string; sk: string }, ticket: number, change: Change | undefined): void {
    const id = queueId(key);
    const q = this.queues.get(id);
    if (!q) return;
    q.inflight.delete(ticket);
    if (change && this.listeners.size) {
      q.held.push({ change, bound: this.tickets + 1 });
      q.held.sort((a, b) => versionOf(a.change) - versionOf(b.change));
    }
    const oldest = q.inflight.size ? Math.min(...q.inflight) : Infinity;
    while (q.held.length && oldest >= q.held[0].bound) this.deliver(q.held.shift()!.change);
    if (!q.inflight.size && !q.held.length) this.queues.delete(id);
  }

  private deliver(change: Change): void {
    if (!this.listeners.size) return;
    const copy = structuredClone(change);
    for (const fn of this.listeners) {
      try {
        const out = fn(copy);
        if (out && typeof out.then === 'function') out.then(undefined, this.logError);
      } catch (e) {
        this.logError(e);
      }
    }
  }
}

const queueId = (key: { pk: string; sk: string }) => `${key.pk}\u0000${key.sk}`;
