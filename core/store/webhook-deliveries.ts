/**
 * @module
 * Webhook deliveries in the store: each is a `webhookDelivery` resource; one waiting for an attempt sits in the
 * `byDeadline` index under `WD#<num mod 8>`, sorted by `nextAttemptAt` (`deliveryDueAt`), so due work is found
 * by reading up to now, durably across restarts. Writes go through `Store.create` and `Store.mutate`.
 */
import { partitions } from './keys.js';
import type { Resource } from './item.js';
import type { Store } from './store.js';

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
   * Stores a new delivery (its id already allocated).
   *
   * @example
   * await deliveries.create({ id: '1whd3', num: 3, type: 'webhookDelivery', ... });
   */
  create(res: Resource): Promise<Resource> {
    return this.store.create(res);
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
