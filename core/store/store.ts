/**
 * @module
 * The repository over the stage's DynamoDB table. Every write is a single-item conditional write guarded
 * by the item's numeric `version` (optimistic locking); a lost race surfaces as `WriteConflictError`,
 * which `mutate` retries and finally turns into a `ConflictError` (the API's 409). No transactions are used, so the
 * same code runs on DynamoDB and on the embedded dynalite. Every write of every entity goes through `Store.write`,
 * which reports it on the change feed (`store.changes`) once it has committed.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError, TooLargeError, WriteConflictError } from '../errors.js';
import { baseTypeOfId, parseId, type BaseType } from '../ids.js';
import { ChangeFeed, type Change, type Item } from './changes.js';
import { applyUpdate, buildExpression, cond, type Condition, type Update } from './expression.js';
import { deadlineSortKey, dynamoKey, keys, padNum, RESOURCE_SK, type ItemKey } from './keys.js';
import { accessKeyOf, fromItem, hostIndexEntry, toItem, type Resource } from './item.js';
import { DEADLINE_SHARDS, INDEXES, type IndexName } from './table.js';

/**
 * One write of one item, as data: a whole-item `put` (resources, whose `version` the caller sets), an `update`
 * (every update also bumps the item's `version`, so each entity's changes are ordered alike) or a `delete`, each
 * optionally conditional.
 */
export type Write = { key: ItemKey; condition?: Condition } & (
  | {
      put: Item;
      /** The stored item the condition proves is there (`null`: proves there is none), so DynamoDB need not send it
       *  back for the change feed. */
      provenOld?: Item | null;
    }
  | { update: Update }
  | { delete: true }
);

/** The images of a committed write. */
export type Written = Pick<Change, 'oldImage' | 'newImage'>;

export interface StoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How many ids one counter write reserves (default 50): keeps the counter item far from its write limit. */
  idBlock?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Where a failing change-feed subscriber is reported (default: console.error). */
  logChangeError?: (err: unknown) => void;
}

/** A state condition a write must meet in the stored item, from the process table. */
export interface StateCondition {
  field: 'state' | 'allocationState' | 'healthState';
  in: readonly string[];
}

export interface IndexQuery {
  index: IndexName;
  partition: string;
  /** Exclusive lower (or, descending, upper) bound on the numeric id. */
  after?: number;
  descending?: boolean;
  /** Items per DynamoDB request. */
  pageSize?: number;
}

/**
 * Whether a request-supplied value can be part of a key: DynamoDB refuses keys over 2,048 bytes (sort keys
 * 1,024) with a validation error, so a longer one names nothing rather than failing the request.
 *
 * @example
 * keyFits('1i5') // true
 * keyFits('x'.repeat(1100)) // false
 */
export function keyFits(value: string): boolean {
  return value.length > 0 && Buffer.byteLength(value) <= 512;
}

/**
 * Whether an item's `expiresAt` (epoch seconds, DynamoDB TTL) has passed: TTL deletion is lazy on DynamoDB and
 * absent in dynalite, so every read treats such an item as gone.
 *
 * @example
 * if (!out.Item || isExpired(out.Item, Date.now())) return undefined;
 */
export function isExpired(item: Record<string, unknown>, now: number): boolean {
  const exp = item.expiresAt;
  return typeof exp === 'number' && exp * 1000 <= now;
}

/**
 * Whether a DynamoDB error is a failed condition (a lost race or a claim someone else holds). The SDK's class is
 * checked by name too, since a second copy of the SDK in a bundle makes `instanceof` miss. `Store.write` is its one
 * caller: it answers a failed condition with `undefined`.
 *
 * @example
 * try { await doc.send(put) } catch (e) { if (!isConditionFailure(e)) throw e }
 */
export function isConditionFailure(e: unknown): boolean {
  return e instanceof ConditionalCheckFailedException || (e as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/**
 * Largest resource item written (JSON bytes). DynamoDB refuses items over 400 KB with a validation error; the
 * schemas' limits keep resources far below this, and this guard turns anything that still gets there into a
 * clear `TooLargeError` (413) instead of a failed write.
 */
export const MAX_ITEM_BYTES = 350 * 1024;

/** The item of a resource, refused with `TooLargeError` when it is larger than a resource may be. */
function sizedItem(res: Resource): Record<string, unknown> {
  const item = toItem(res);
  const bytes = Buffer.byteLength(JSON.stringify(item));
  if (bytes > MAX_ITEM_BYTES) {
    throw new TooLargeError(`${res.type} ${res.id} would take ${Math.ceil(bytes / 1024)} KB; a resource may take at most ${MAX_ITEM_BYTES / 1024} KB`);
  }
  return item;
}

/**
 * The store. Construct once per process (or Lambda container) and share.
 *
 * @example
 * const store = new Store({ client: new DynamoDBClient({}), tableName: 'drover-prod' });
 * const res = await store.get('1i5');
 */
export class Store {
  /** The document client. Outside `Store.write` only reads use it (and tests that write around the store). */
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Every committed write of this store, in version order per item (see `ChangeFeed`). */
  readonly changes: ChangeFeed;
  private readonly idBlock: number;
  private readonly now: () => number;
  private readonly blocks = new Map<string, { next: number; last: number }>();
  private readonly pendingBlock = new Map<string, Promise<void>>();

  constructor(opts: StoreOptions) {
    this.doc = DynamoDBDocumentClient.from(opts.client, {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    });
    this.tableName = opts.tableName;
    this.idBlock = opts.idBlock ?? 50;
    this.now = opts.now ?? Date.now;
    this.changes = new ChangeFeed(opts.logChangeError);
  }

  /**
   * Sends one write and, once it has committed, reports it on the change feed: the one function every write of
   * the table goes through (`core/store/recovery.ts`'s index rebuild excepted: a restore, not a change). Returns the
   * old and new images, or `undefined` when the condition failed (nothing changed, nothing is reported). A put and a
   * delete return the old image (`ALL_OLD`); an update returns `ALL_OLD` too and its new image is the same change
   * applied in memory (`applyUpdate`), since DynamoDB returns one image per write.
   *
   * @example
   * const done = await store.write({ key: keys.config('x'), update: { set: { value: 1 } }, condition: cond.notExists('pk') });
   * if (!done) ... // someone wrote it first
   */
  async write(w: Write): Promise<Written | undefined> {
    const Key = dynamoKey(w.key);
    let change: Change | undefined;
    const ticket = this.changes.begin(Key);
    try {
      let oldImage: Item | undefined;
      let newImage: Item | undefined;
      if ('put' in w) {
        const proven = w.provenOld !== undefined;
        newImage = { ...w.put, ...Key };
        const out = await this.doc.send(
          new PutCommand({ TableName: this.tableName, Item: newImage, ReturnValues: proven ? 'NONE' : 'ALL_OLD', ...buildExpression(undefined, w.condition) }),
        );
        oldImage = proven ? (w.provenOld ?? undefined) : out.Attributes;
      } else if ('update' in w) {
        const update: Update = { ...w.update, add: { ...w.update.add, version: 1 } };
        const out = await this.doc.send(
          new UpdateCommand({ TableName: this.tableName, Key, ReturnValues: 'ALL_OLD', ...buildExpression(update, w.condition) }),
        );
        [oldImage, newImage] = [out.Attributes, applyUpdate({ ...out.Attributes, ...Key }, update)];
      } else {
        const out = await this.doc.send(
          new DeleteCommand({ TableName: this.tableName, Key, ReturnValues: 'ALL_OLD', ...buildExpression(undefined, w.condition) }),
        );
        oldImage = out.Attributes;
        if (!oldImage) return { oldImage, newImage };
      }
      change = { key: Key, kind: w.key.kind, oldImage, newImage };
      return { oldImage, newImage };
    } catch (e) {
      if (isConditionFailure(e)) return undefined;
      throw e;
    } finally {
      this.changes.settle(Key, ticket, change);
    }
  }

  /**
   * The next numeric id for a base type. Ids are reserved in blocks with one atomic counter update,
   * so a busy stage writes the counter item once per `idBlock` creates.
   *
   * @example
   * formatId('instance', await store.nextId('instance')) // '1i51'
   */
  async nextId(baseType: BaseType): Promise<number> {
    for (;;) {
      const b = this.blocks.get(baseType);
      if (b && b.next <= b.last) return b.next++;
      let p = this.pendingBlock.get(baseType);
      if (!p) {
        p = this.reserveBlock(baseType).finally(() => this.pendingBlock.delete(baseType));
        this.pendingBlock.set(baseType, p);
      }
      await p;
    }
  }

  private async reserveBlock(baseType: string): Promise<void> {
    const out = await this.write({ key: keys.counter(baseType), update: { add: { n: this.idBlock } } });
    const last = Number(out!.newImage!.n);
    this.blocks.set(baseType, { next: last - this.idBlock + 1, last });
  }

  /**
   * Reads a resource by id (strongly consistent). Expired items read as absent.
   *
   * @example
   * const c = await store.get('1i5'); if (!c) throw new NotFoundError();
   */
  async get(id: string): Promise<Resource | undefined> {
    if (!keyFits(id)) return undefined;
    const item = await this.readItem(keys.resource(id));
    if (!item || this.expired(item)) return undefined;
    return fromItem(item);
  }

  /**
   * Inserts a new resource; fails with `WriteConflictError` if the id is taken. A credential's access-key item
   * is written first, so the key is found (consistently) from the moment the credential exists; if the create
   * then fails, the orphaned access-key item points at nothing and finds nothing.
   *
   * @example
   * await store.create({ id: '1i5', num: 5, type: 'container', ... });
   */
  async create(res: Resource): Promise<Resource> {
    const item = sizedItem(res);
    const access = accessKeyOf(res);
    if (access) await this.putAccessKeyItem(access, res.id);
    if (!(await this.write({ key: keys.resource(res.id), put: item, condition: cond.notExists('pk'), provenOld: null }))) {
      throw new WriteConflictError(res.id);
    }
    return res;
  }

  /**
   * The credential an access key belongs to (strongly consistent: two reads, no index), or `undefined`.
   *
   * @example
   * const key = await store.findByAccessKey('0123456789ABCDEF0123');
   */
  async findByAccessKey(publicValue: string): Promise<Resource | undefined> {
    if (!keyFits(publicValue)) return undefined;
    const id = (await this.readItem(keys.accessKey(publicValue)))?.id;
    const res = typeof id === 'string' ? await this.get(id) : undefined;
    return res && accessKeyOf(res) === publicValue ? res : undefined;
  }

  /**
   * Makes sure a credential can be found by its access key (for credentials stored before access-key items
   * existed). Safe to repeat.
   *
   * @example
   * await store.ensureAccessKeyItem(apiKey);
   */
  async ensureAccessKeyItem(res: Resource): Promise<void> {
    const access = accessKeyOf(res);
    if (!access) return;
    try {
      await this.putAccessKeyItem(access, res.id);
    } catch (e) {
      if (!(e instanceof WriteConflictError)) throw e;
    }
  }

  /** Claims an access key for a credential; a key already claimed is a `WriteConflictError`. */
  private async putAccessKeyItem(publicValue: string, id: string): Promise<void> {
    const claimed = await this.write({ key: keys.accessKey(publicValue), update: { set: { id } }, condition: cond.notExists('pk') });
    if (!claimed) throw new WriteConflictError(`access key ${publicValue}`);
  }

  /**
   * Replaces a resource if its stored version is still `expectVersion` (and, optionally, its state field is
   * in `state.in`). Returns the written resource with `version + 1`. `before`, the resource as read at that version,
   * spares DynamoDB sending the old item back for the change feed.
   *
   * @example
   * const next = await store.put({ ...cur, state: 'stopping' }, cur.version, { field: 'state', in: ['running'] });
   */
  async put(res: Resource, expectVersion: number, state?: StateCondition, before?: Resource): Promise<Resource> {
    const next: Resource = { ...res, version: expectVersion + 1, updated: this.now() };
    const version = cond.eq('version', expectVersion);
    const condition = state ? cond.and(version, cond.in(state.field === 'state' ? 'state' : `fields.${state.field}`, state.in)) : version;
    // Every write bumps `version`, so the stored item at `expectVersion` is `before` itself: no need to send it back.
    const provenOld = before && before.version === expectVersion ? toItem(before) : undefined;
    if (!(await this.write({ key: keys.resource(res.id), put: sizedItem(next), condition, provenOld }))) throw new WriteConflictError(res.id);
    return next;
  }

  /**
   * Read-modify-write with retries: `fn` gets the current resource and returns the next one (or throws an
   * error to refuse). A missing resource is a `NotFoundError`. A lost race re-reads and re-applies `fn` (up to
   * `attempts` times, default 12, with jittered backoff); after that the caller gets a `ConflictError`, never a
   * silently lost update.
   *
   * @example
   * await store.mutate('1i5', (cur) => ({ ...cur, fields: { ...cur.fields, name: 'web' } }));
   */
  async mutate(
    id: string,
    fn: (cur: Resource) => Resource | Promise<Resource>,
    opts: {
      attempts?: number;
      state?: (next: Resource, cur: Resource) => StateCondition | undefined;
      /** A copy the caller just read: the first attempt uses it instead of reading again. If it is stale, the
       *  version condition fails and the retry reads afresh, so this saves a read without risking a lost update. */
      current?: Resource;
    } = {},
  ): Promise<{ before: Resource; after: Resource }> {
    const attempts = opts.attempts ?? 12;
    for (let i = 0; ; i++) {
      const cur = i === 0 && opts.current ? opts.current : await this.get(id);
      if (!cur) throw new NotFoundError();
      const next = await fn(cur);
      try {
        const after = await this.put(next, cur.version, opts.state?.(next, cur), cur);
        return { before: cur, after };
      } catch (e) {
        if (!(e instanceof WriteConflictError) || i + 1 >= attempts) {
          if (e instanceof WriteConflictError) {
            throw new ConflictError(`Resource ${id} is being changed by another request; try again`, e);
          }
          throw e;
        }
        // Full-jitter exponential backoff (5 ms doubling, capped at 250 ms): ten writers on one item all land.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 5 * 2 ** i)));
      }
    }
  }

  /**
   * Sets an open action's progress in one UpdateItem with no read first, conditional on `actionId` still being the
   * resource's current action: top-level `transitioning*` attributes and `fields.*`. `undefined` when the action is
   * no longer current or the resource is gone. The lifecycle ledger's writer for reports that come without a fresh
   * copy (an agent's progress).
   *
   * @example
   * await store.updateUnderAction('1i5', actionId, { transitioningMessage: 'Pulling image', transitioningProgress: 40 });
   */
  async updateUnderAction(
    id: string,
    actionId: string,
    change: { transitioningMessage?: string | null; transitioningProgress?: number | null; fields?: Record<string, unknown> },
  ): Promise<Resource | undefined> {
    const top: Record<string, unknown> = {};
    if (change.transitioningMessage !== undefined) top.transitioningMessage = change.transitioningMessage;
    if (change.transitioningProgress !== undefined) top.transitioningProgress = change.transitioningProgress;
    const item = await this.updatePart(id, { top, set: change.fields }, [cond.eq('action.id', actionId)]);
    return item && !this.expired(item) ? fromItem(item) : undefined;
  }

  /**
   * Atomically sets and adds to fields of a resource in one UpdateItem, bumping its version, with no
   * read first: for hot counters (a host's allocated capacity) and liveness stamps (`agentSeenAt`), where
   * read-modify-write would make concurrent writers collide. `max` makes the write conditional on each
   * counter staying at or below a bound after the addition; `expect` on fields still holding the values read
   * earlier (`null`: absent). Must not touch fields that feed other index keys than `byHost` (`state`,
   * `publicValue`), since those are not recomputed here.
   * Returns the updated resource, or `undefined` when a bound would be exceeded or an expectation is not met.
   *
   * @example
   * await store.updateFields('1h2', { add: { allocatedVcpu: 2 }, max: { allocatedVcpu: 8 } });
   * await store.updateFields('1h2', { set: { allocatedVcpu: 6 }, expect: { allocationVersion: 41 } });
   */
  async updateFields(
    id: string,
    change: {
      set?: Record<string, unknown>;
      add?: Record<string, number>;
      max?: Record<string, number>;
      expect?: Record<string, number | string | null>;
    },
  ): Promise<Resource | undefined> {
    const conditions: Condition[] = [];
    for (const [k, v] of Object.entries(change.add ?? {})) {
      const bound = change.max?.[k];
      if (bound === undefined) continue;
      // counter + v <= bound, written as counter <= bound - v (a missing counter counts as 0).
      if (bound - v < 0) return undefined;
      conditions.push(cond.or(cond.notExists(`fields.${k}`), cond.le(`fields.${k}`, bound - v)));
    }
    for (const [k, v] of Object.entries(change.expect ?? {})) {
      conditions.push(v === null ? cond.notExists(`fields.${k}`) : cond.eq(`fields.${k}`, v));
    }
    const item = await this.updatePart(id, { set: change.set, add: change.add }, conditions);
    return item ? fromItem(item) : undefined;
  }

  /**
   * The one partial write of a resource (no read first), for `updateFields` and `updateUnderAction`: top-level
   * attributes, `fields.*` sets and additions, `updated`, and the `byHost` entry when `hostId` moves (the one
   * indexed field a partial write may change). The new item, or `undefined` when a condition or existence fails.
   */
  private async updatePart(
    id: string,
    change: { top?: Record<string, unknown>; set?: Record<string, unknown>; add?: Record<string, number> },
    conditions: Condition[],
  ): Promise<Item | undefined> {
    const set: Record<string, unknown> = { updated: this.now(), ...change.top };
    const add: Record<string, number> = {};
    const remove: string[] = [];
    for (const [k, v] of Object.entries(change.set ?? {})) set[`fields.${k}`] = v;
    for (const [k, v] of Object.entries(change.add ?? {})) add[`fields.${k}`] = v;
    if (change.set && Object.hasOwn(change.set, 'hostId')) {
      const baseType = baseTypeOfId(id);
      const num = baseType ? parseId(baseType, id) : null;
      if (!baseType || num === null) return undefined;
      const entry = hostIndexEntry(change.set.hostId, baseType, num);
      if (Object.keys(entry).length) Object.assign(set, entry);
      else remove.push(INDEXES.byHost.pk, INDEXES.byHost.sk);
    }
    const out = await this.write({ key: keys.resource(id), update: { set, add, remove }, condition: cond.and(cond.exists('pk'), ...conditions) });
    return out?.newImage;
  }

  /**
   * Pages through one index partition in id order, yielding each DynamoDB page (expired items removed).
   *
   * @example
   * for await (const page of store.queryIndex({ index: 'byProject', partition: 'P#1a1#instance' })) { ... }
   */
  async *queryIndex(q: IndexQuery): AsyncGenerator<Resource[]> {
    const idx = INDEXES[q.index];
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: q.index,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': idx.pk },
      ExpressionAttributeValues: { ':pk': q.partition },
      ScanIndexForward: !q.descending,
      Limit: q.pageSize ?? 200,
    };
    if (q.after !== undefined) {
      input.KeyConditionExpression += ` AND #sk ${q.descending ? '<' : '>'} :after`;
      input.ExpressionAttributeNames!['#sk'] = idx.sk;
      input.ExpressionAttributeValues![':after'] = padNum(q.after);
    }
    yield* this.query(input);
  }

  /**
   * Pages through one index partition in sort-key order, optionally only keys below `below` (exclusive).
   * For indexes whose sort key is not a padded id, such as `byDeadline` (`<deadline>#<id>`).
   *
   * @example
   * for await (const page of store.queryIndexRange({ index: 'byDeadline', partition: 'T#0', below: `${padNum(now)}#` })) { ... }
   */
  async *queryIndexRange(q: { index: IndexName; partition: string; below?: string; pageSize?: number }): AsyncGenerator<Resource[]> {
    const idx = INDEXES[q.index];
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: q.index,
      KeyConditionExpression: q.below === undefined ? '#pk = :pk' : '#pk = :pk AND #sk < :below',
      ExpressionAttributeNames: q.below === undefined ? { '#pk': idx.pk } : { '#pk': idx.pk, '#sk': idx.sk },
      ExpressionAttributeValues: q.below === undefined ? { ':pk': q.partition } : { ':pk': q.partition, ':below': q.below },
      Limit: q.pageSize ?? 200,
    };
    yield* this.query(input);
  }

  /**
   * Pages of the resources in one sharded family of `byDeadline` partitions (`partitions.byDeadline`,
   * `partitions.webhookDue`, `partitions.recoveryDue`) due at or before `now` (every one when `now` is undefined),
   * shard by shard, oldest first within a shard.
   *
   * @example
   * for await (const page of store.dueByDeadline(partitions.webhookDue, Date.now())) for (const d of page) ...
   */
  async *dueByDeadline(partition: (shard: number) => string, now: number | undefined): AsyncGenerator<Resource[]> {
    const below = now === undefined ? undefined : deadlineSortKey(now + 1, '');
    for (let shard = 0; shard < DEADLINE_SHARDS; shard++) yield* this.queryIndexRange({ index: 'byDeadline', partition: partition(shard), below });
  }

  /**
   * Pages through every resource item with a strongly consistent Scan of the base table. No index is read, so a
   * resource an index lags behind on (or lost) cannot hide from it. It reads the whole table: for reconciliation
   * passes, never for requests.
   *
   * @example
   * for await (const page of store.scanResources()) for (const res of page) if (res.action) ...
   */
  async *scanResources(opts: { pageSize?: number } = {}): AsyncGenerator<Resource[]> {
    yield* this.pages((start) =>
      this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          // Resources are the items whose sort key is `R`; counters, config and outbox items are not.
          FilterExpression: '#sk = :r',
          ExpressionAttributeNames: { '#sk': 'sk' },
          ExpressionAttributeValues: { ':r': RESOURCE_SK },
          Limit: opts.pageSize ?? 500,
          ExclusiveStartKey: start,
        }),
      ),
    );
  }

  /** Runs a query page by page. */
  private query(input: QueryCommandInput): AsyncGenerator<Resource[]> {
    return this.pages((start) => this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start })));
  }

  /**
   * Pages of the raw items a query returns, for the store's other entities (commands, idempotency records);
   * resources are read through `queryIndex`. Stop early by leaving the loop.
   *
   * @example
   * for await (const items of store.queryItems({ TableName, KeyConditionExpression: 'pk = :pk', ... })) ...
   */
  queryItems(input: Omit<QueryCommandInput, 'ExclusiveStartKey'>): AsyncGenerator<Item[]> {
    return this.itemPages((start) => this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start })));
  }

  /** Sends a query or scan page by page (`send` takes the start key), as resources, dropping expired items. */
  private async *pages(send: (start?: Item) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>): AsyncGenerator<Resource[]> {
    for await (const items of this.itemPages(send)) yield items.filter((i) => !this.expired(i)).map(fromItem);
  }

  /** The paging loop itself: one request per page until there is no last key. */
  private async *itemPages(send: (start?: Item) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>): AsyncGenerator<Item[]> {
    let start: Item | undefined;
    do {
      const out = await send(start);
      yield out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Reads a small configuration item (admin credential, signing secrets).
   *
   * @example
   * const admin = await store.getConfig<AdminKey>('adminKey');
   */
  async getConfig<T>(name: string): Promise<T | undefined> {
    return (await this.readItem(keys.config(name)))?.value as T | undefined;
  }

  /**
   * Writes a configuration item. With `onlyIfAbsent`, the first writer wins and its value is returned.
   *
   * @example
   * const secret = await store.putConfig('cursorSecret', randomSecret(), { onlyIfAbsent: true });
   */
  async putConfig<T>(name: string, value: T, opts: { onlyIfAbsent?: boolean } = {}): Promise<T> {
    const written = await this.write({
      key: keys.config(name),
      update: { set: { value } },
      condition: opts.onlyIfAbsent ? cond.notExists('pk') : undefined,
    });
    return written ? value : ((await this.getConfig<T>(name)) as T);
  }

  /**
   * Reads one item of any entity by its key (strongly consistent), or `undefined`; expired items too, since some
   * callers need to see them (`isExpired` tells).
   *
   * @example
   * const claim = await store.readItem(keys.hostClaim('1a1', uuid));
   */
  async readItem(key: ItemKey): Promise<Item | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: dynamoKey(key), ConsistentRead: true }));
    return out.Item;
  }

  private expired(item: Record<string, unknown>): boolean {
    return isExpired(item, this.now());
  }
}
