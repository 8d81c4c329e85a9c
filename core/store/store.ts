/**
 * @module
 * The repository over the stage's DynamoDB table. Every write is a single-item conditional write guarded
 * by the item's numeric `version` (optimistic locking); a lost race surfaces as `WriteConflictError`,
 * which `mutate` retries and finally turns into a `ConflictError` (the API's 409). No transactions are used, so the
 * same code runs on DynamoDB and on the embedded dynalite.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError, TooLargeError, WriteConflictError } from '../errors.js';
import type { BaseType } from '../ids.js';
import { dynamoKey, keys, padNum, RESOURCE_SK, type ItemKey } from './keys.js';
import { accessKeyOf, fromItem, toItem, type Resource } from './resource.js';
import { INDEXES, type IndexName } from './table.js';

/** A DynamoDB item (or key), in document form. */
type Item = Record<string, unknown>;

export interface StoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How many ids one counter write reserves (default 50): keeps the counter item far from its write limit. */
  idBlock?: number;
  /** Clock, for tests. */
  now?: () => number;
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
 * checked by name too, since a second copy of the SDK in a bundle makes `instanceof` miss.
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
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
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
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: dynamoKey(keys.counter(baseType)),
        UpdateExpression: 'ADD #n :b',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':b': this.idBlock },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const last = Number(out.Attributes?.n);
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
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: dynamoKey(keys.resource(id)), ConsistentRead: true }),
    );
    if (!out.Item || this.expired(out.Item)) return undefined;
    return fromItem(out.Item);
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
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      throw this.mapConflict(e, res.id);
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
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: dynamoKey(keys.accessKey(publicValue)), ConsistentRead: true }),
    );
    const id = out.Item?.id;
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
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...dynamoKey(keys.accessKey(publicValue)), id },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      throw this.mapConflict(e, `access key ${publicValue}`);
    }
  }

  /**
   * Replaces a resource if its stored version is still `expectVersion` (and, optionally, its state field is
   * in `state.in`). Returns the written resource with `version + 1`.
   *
   * @example
   * const next = await store.put({ ...cur, state: 'stopping' }, cur.version, { field: 'state', in: ['running'] });
   */
  async put(res: Resource, expectVersion: number, state?: StateCondition): Promise<Resource> {
    const next: Resource = { ...res, version: expectVersion + 1, updated: this.now() };
    const names: Record<string, string> = { '#v': 'version' };
    const values: Record<string, unknown> = { ':v': expectVersion };
    let cond = '#v = :v';
    if (state) {
      const path = state.field === 'state' ? '#st' : '#fl.#st';
      names['#st'] = state.field;
      if (state.field !== 'state') names['#fl'] = 'fields';
      const keys = state.in.map((s, i) => {
        values[`:s${i}`] = s;
        return `:s${i}`;
      });
      cond += ` AND ${path} IN (${keys.join(', ')})`;
    }
    const item = sizedItem(next);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: cond,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (e) {
      throw this.mapConflict(e, res.id);
    }
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
        const after = await this.put(next, cur.version, opts.state?.(next, cur));
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
   * Atomically sets and adds to fields of a resource in one UpdateItem, bumping its version, with no
   * read first: for hot counters (a host's allocated capacity) and liveness stamps (`agentSeenAt`), where
   * read-modify-write would make concurrent writers collide. `max` makes the write conditional on each
   * counter staying at or below a bound after the addition; `expect` on fields still holding the values read
   * earlier (`null`: absent). Must not touch fields that feed index keys (`state`, `hostId`, `publicValue`),
   * since index attributes are not recomputed here.
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
    const names: Record<string, string> = { '#f': 'fields', '#v': 'version', '#u': 'updated' };
    const values: Record<string, unknown> = { ':one': 1, ':now': this.now() };
    // DynamoDB rejects unused placeholders, so :zero is there only when a counter needs it.
    if (Object.keys(change.add ?? {}).length) values[':zero'] = 0;
    const sets = ['#v = #v + :one', '#u = :now'];
    const conds = ['attribute_exists(pk)'];
    let i = 0;
    for (const [k, v] of Object.entries(change.set ?? {})) {
      names[`#s${i}`] = k;
      values[`:s${i}`] = v;
      sets.push(`#f.#s${i} = :s${i}`);
      i++;
    }
    for (const [k, v] of Object.entries(change.add ?? {})) {
      names[`#a${i}`] = k;
      values[`:a${i}`] = v;
      sets.push(`#f.#a${i} = if_not_exists(#f.#a${i}, :zero) + :a${i}`);
      const bound = change.max?.[k];
      if (bound !== undefined) {
        // counter + v <= bound, written as counter <= bound - v (a missing counter counts as 0).
        values[`:m${i}`] = bound - v;
        conds.push(`(attribute_not_exists(#f.#a${i}) OR #f.#a${i} <= :m${i})`);
        if (bound - v < 0) return undefined;
      }
      i++;
    }
    for (const [k, v] of Object.entries(change.expect ?? {})) {
      names[`#e${i}`] = k;
      if (v === null) conds.push(`attribute_not_exists(#f.#e${i})`);
      else {
        values[`:e${i}`] = v;
        conds.push(`#f.#e${i} = :e${i}`);
      }
      i++;
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: dynamoKey(keys.resource(id)),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? fromItem(out.Attributes) : undefined;
    } catch (e) {
      if (this.mapConflict(e, id) instanceof WriteConflictError) return undefined;
      throw e;
    }
  }

  /**
   * Pages through one index partition in id order, yielding each DynamoDB page (expired items removed).
   *
   * @example
   * for await (const page of store.scanIndex({ index: 'byProject', partition: 'P#1a1#instance' })) { ... }
   */
  async *scanIndex(q: IndexQuery): AsyncGenerator<Resource[]> {
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
   * for await (const page of store.scanIndexRange({ index: 'byDeadline', partition: 'T#0', below: `${padNum(now)}#` })) { ... }
   */
  async *scanIndexRange(q: { index: IndexName; partition: string; below?: string; pageSize?: number }): AsyncGenerator<Resource[]> {
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
   * resources are read through `scanIndex`. Stop early by leaving the loop.
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
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: dynamoKey(keys.config(name)), ConsistentRead: true }),
    );
    return out.Item?.value as T | undefined;
  }

  /**
   * Writes a configuration item. With `onlyIfAbsent`, the first writer wins and its value is returned.
   *
   * @example
   * const secret = await store.putConfig('cursorSecret', randomSecret(), { onlyIfAbsent: true });
   */
  async putConfig<T>(name: string, value: T, opts: { onlyIfAbsent?: boolean } = {}): Promise<T> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...dynamoKey(keys.config(name)), value },
          ConditionExpression: opts.onlyIfAbsent ? 'attribute_not_exists(pk)' : undefined,
        }),
      );
      return value;
    } catch (e) {
      if (opts.onlyIfAbsent && isConditionFailure(e)) {
        return (await this.getConfig<T>(name)) as T;
      }
      throw e;
    }
  }

  private expired(item: Record<string, unknown>): boolean {
    return isExpired(item, this.now());
  }

  private mapConflict(e: unknown, id: string): unknown {
    if (isConditionFailure(e)) {
      return new WriteConflictError(id, e);
    }
    return e;
  }
}
