/**
 * @module
 * The event log: each project's `resource.change` events, one item each under the project's partition in append
 * order, kept for a retention (`expiresAt`, DynamoDB TTL). Reading a project's events after an id is what lets a
 * subscriber resume. Written through `Store.write`.
 */
import type { Resource } from './item.js';
import { cond, type Condition } from './expression.js';
import { eventPartition, keys } from './keys.js';
import { isExpired, type Store } from './store.js';

/** One `resource.change` event as the log keeps it: the resource as stored; the API renders it per reader. */
export interface StoredEvent {
  /** Append order, unique in the stage: `<epoch ms, 13 digits>.<4 digits>`. */
  id: string;
  name: 'resource.change';
  resourceType: string;
  resourceId: string;
  projectId: string;
  /** The state before the change (`null` for a create). */
  previousState: string | null;
  /** The action that made the change, if one did. */
  actionId: string | null;
  /** The resource's version after the change: with `resourceId`, the change's identity. */
  version: number;
  /** Epoch ms of the change. */
  time: number;
  resource: Resource;
}

/**
 * Ids the log hands out: time-ordered, strictly increasing in this process, so a log with one appender is in
 * append order and a reader that resumes after an id misses nothing appended later.
 *
 * @example
 * const next = new EventIds(); next.next(1764620000123) // '1764620000123.0000'
 */
export class EventIds {
  private lastMs = 0;
  private counter = 0;

  next(now: number): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else this.counter++;
    if (this.counter > 9999) {
      this.lastMs++;
      this.counter = 0;
    }
    return eventIdAt(this.lastMs, this.counter);
  }
}

/**
 * The event id of an epoch ms and a counter within it (the first of that ms without one, which every event logged
 * at or after `ms` comes after; `9999` the last).
 *
 * @example
 * eventIdAt(1764620000123) // '1764620000123.0000'
 * eventIdAt(1764620000123, 4) // '1764620000123.0004'
 */
export function eventIdAt(ms: number, n = 0): string {
  return `${String(ms).padStart(13, '0')}.${String(n).padStart(4, '0')}`;
}

/**
 * The epoch ms an event id was handed out at, or `null` for a string that is no event id.
 *
 * @example
 * eventIdTime('1764620000123.0004') // 1764620000123
 */
export function eventIdTime(id: string): number | null {
  const m = /^(\d{13})\.\d{4}$/.exec(id);
  return m ? Number(m[1]) : null;
}

/**
 * Appends and reads events.
 *
 * @example
 * const log = new EventLog(store, { retentionSeconds: 86_400 });
 * await log.append(event);
 * for (const e of await log.after('1a1', lastId)) send(e);
 */
export class EventLog {
  constructor(
    private readonly store: Store,
    private readonly opts: { retentionSeconds: number; now?: () => number },
  ) {}

  get retentionSeconds(): number {
    return this.opts.retentionSeconds;
  }

  /** The log's clock (epoch ms): what new event ids are made from. */
  now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Stores an event; `false` (and nothing written) when its id is taken already, by this event (appending again is
   * harmless) or by another (`at` tells which).
   *
   * @example
   * if (!(await log.append(event))) console.log(await log.at(event.projectId, event.id));
   */
  async append(event: StoredEvent): Promise<boolean> {
    const expiresAt = Math.floor(event.time / 1000) + this.opts.retentionSeconds;
    const key = keys.event(event.projectId, event.id);
    return !!(await this.store.write({ key, put: { pk: key.pk, sk: key.sk, ...event, expiresAt }, condition: cond.notExists('pk'), provenOld: null }));
  }

  /**
   * The event logged under an id, if any.
   *
   * @example
   * await log.at('1a1', '1764620000123.0000') // { resourceId: '1i5', version: 3, ... }
   */
  async at(projectId: string, id: string): Promise<StoredEvent | undefined> {
    const item = await this.store.readItem(keys.event(projectId, id));
    return item ? toEvent(item) : undefined;
  }

  /**
   * The id the change behind `event` was logged under already, else `event.id`, claimed for it: a change delivered
   * twice (a stream batch Lambda retries) keeps its first id, so appending it again changes nothing.
   *
   * @example
   * const id = await log.claimId(event); await log.append({ ...event, id });
   */
  async claimId(event: StoredEvent): Promise<string> {
    return this.claim(event, event.id, cond.notExists('pk'));
  }

  /**
   * Moves the change behind `event` from the id it claimed (`taken`, found used by another change) to `next`, unless
   * it has been moved already; answers the id it holds now.
   *
   * @example
   * id = await log.reclaimId(event, id, ids.next(log.now()));
   */
  async reclaimId(event: StoredEvent, taken: string, next: string): Promise<string> {
    return this.claim(event, next, cond.eq('id', taken));
  }

  private async claim(event: StoredEvent, id: string, condition: Condition): Promise<string> {
    const key = keys.eventSource(event.resourceId, event.version);
    const expiresAt = Math.floor(event.time / 1000) + this.opts.retentionSeconds;
    if (await this.store.write({ key, update: { set: { id, expiresAt } }, condition })) return id;
    const claimed = (await this.store.readItem(key))?.id;
    return typeof claimed === 'string' ? claimed : id;
  }

  /**
   * A project's retained events after `afterId` (all retained ones without it), in id order, at most `limit`.
   *
   * @example
   * await log.after('1a1', '1764620000123.0004', 500)
   */
  async after(projectId: string, afterId: string | undefined, limit = 1000): Promise<StoredEvent[]> {
    const now = (this.opts.now ?? Date.now)();
    const out: StoredEvent[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: afterId ? 'pk = :pk AND sk > :after' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': eventPartition(projectId), ...(afterId ? { ':after': afterId } : {}) },
      ConsistentRead: true,
    });
    for await (const items of pages) {
      for (const item of items) {
        if (isExpired(item, now)) continue;
        out.push(toEvent(item));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}

function toEvent(item: Record<string, unknown>): StoredEvent {
  const { pk: _pk, sk: _sk, expiresAt: _exp, ...event } = item;
  return event as unknown as StoredEvent;
}
