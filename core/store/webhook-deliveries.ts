/**
 * @module
 * Webhook deliveries in the store: each is a `webhookDelivery` resource; one waiting for an attempt sits in the
 * `byDeadline` index under `WD#<num mod 8>`, sorted by `nextAttemptAt` (`deliveryDueAt`), so due work is found
 * by reading up to now, durably across restarts. An event's delivery to a webhook is recorded once: a claim item
 * `whdsrc#<webhookId>#<eventId>` names it, so an event handed out again (a retried stream batch keeps its event
 * ids) finds the delivery it got first. Writes go through `Store.write`, `Store.create` and `Store.mutate`.
 */
import { cond } from './expression.js';
import { keys, partitions } from './keys.js';
import type { Resource } from './item.js';
import type { Store } from './store.js';

/** How long a delivery's claim is kept: a table stream keeps its records 24 hours, so no batch comes back later. */
const SOURCE_CLAIM_SECONDS = 86_400;

/** Thrown inside a mutation to leave the item as it is. */
class Unchanged extends Error {}

/**
 * Reads and writes webhook deliveries.
 *
 * @example
 * const deliveries = new WebhookDeliveries(store);
 * for await (const d of deliveries.due(Date.now())) await attempt(d);
 */
export class WebhookDeliveries {
  constructor(private readonly store: Store) {}

  /**
   * Every delivery due at or before `now` (pending or retrying), shard by shard, oldest first within a shard.
   *
   * @example
   * for await (const d of deliveries.due(Date.now())) console.log(d.id, d.fields.nextAttemptAt);
   */
  async *due(now: number): AsyncGenerator<Resource> {
    for await (const page of this.store.dueByDeadline(partitions.webhookDue, now)) yield* page;
  }

  /**
   * Stores the delivery of an event to a webhook unless it has one already; `make(num)` builds a new one under the
   * next id. Returns the delivery and whether this call stored it. The claim is written first: after a crash
   * between the two writes, the next call stores the delivery under the id claimed. With `once: false` (events that
   * never come twice: the embedded stack's one feed) there is nothing to claim, and the delivery is stored at once.
   *
   * @example
   * const { delivery, created } = await deliveries.createOnce('1wh1', event.id, (num) => ({ id: formatId('webhookDelivery', num), num, ... }));
   */
  async createOnce(
    webhookId: string,
    eventId: string,
    make: (num: number) => Resource,
    opts: { once?: boolean } = {},
  ): Promise<{ delivery: Resource; created: boolean }> {
    const fresh = make(await this.store.nextId('webhookDelivery'));
    if (opts.once === false) return { delivery: await this.store.create(fresh), created: true };
    const key = keys.deliverySource(webhookId, eventId);
    const expiresAt = Math.floor(fresh.created / 1000) + SOURCE_CLAIM_SECONDS;
    if (await this.store.write({ key, update: { set: { id: fresh.id, num: fresh.num, expiresAt } }, condition: cond.notExists('pk') })) {
      return { delivery: await this.store.create(fresh), created: true };
    }
    const claim = await this.store.readItem(key);
    if (typeof claim?.id !== 'string') return { delivery: await this.store.create(fresh), created: true };
    const stored = await this.store.get(claim.id);
    if (stored) return { delivery: stored, created: false };
    return { delivery: await this.store.create({ ...fresh, id: claim.id, num: Number(claim.num) }), created: true };
  }

  /**
   * Changes a delivery's fields with `change(current fields)`, unless it returns `undefined` (then nothing is
   * written and `undefined` returned). Lost races are retried on a fresh copy.
   *
   * @example
   * await deliveries.update('1whd3', (f) => (f.status === 'retrying' ? { status: 'failed' } : undefined));
   */
  async update(id: string, change: (fields: Record<string, unknown>, cur: Resource) => Record<string, unknown> | undefined): Promise<Resource | undefined> {
    try {
      const { after } = await this.store.mutate(id, (cur) => {
        const next = change(cur.fields, cur);
        if (!next) throw new Unchanged();
        return { ...cur, fields: { ...cur.fields, ...next } };
      });
      return after;
    } catch (e) {
      if (e instanceof Unchanged) return undefined;
      throw e;
    }
  }

  /**
   * Makes a delivery pending and due now, with its attempts counted afresh (the `redeliver` action).
   *
   * @example
   * const d = await deliveries.redeliver('1whd3', Date.now()); // d.fields.status === 'pending'
   */
  async redeliver(id: string, now: number): Promise<Resource> {
    return (await this.update(id, () => ({ status: 'pending', attempts: 0, nextAttemptAt: now, lastError: null })))!;
  }
}
