/**
 * @module
 * Idempotency-key records in the stage's table: one head item per (caller, key) holding the claim and, once the
 * request is done, its response (gzip; split over extra items when it would not fit DynamoDB's 400 KB item limit).
 * Keys from `core/store/keys.ts`; every write goes through `Store.write`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { cond, type Update } from './expression.js';
import { idempotencyPartition, idempotencyPartPrefix, keys } from './keys.js';
import { isExpired, type Store } from './store.js';

/** A response kept for replay: opaque to the store. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The head record of a key: claimed (`response` absent) or done. */
export interface IdempotencyRecord {
  /** Whose key it is: `admin` or an API key id. */
  callerId: string;
  key: string;
  /** Hash of the request the key was first used with. */
  fingerprint: string;
  /** Random token of the claim; every later write of the claim is conditional on it. */
  lease: string;
  /** Epoch ms until which the claim's holder is presumed alive. */
  leaseUntil: number;
  /** Epoch seconds (DynamoDB TTL); reads treat the record as absent after it. */
  expiresAt: number;
  response?: StoredResponse;
}

export interface IdempotencyRecordsOptions {
  /** Largest compressed body kept in the head item; larger ones are split into parts of this size (default 350 000). */
  partBytes?: number;
  now?: () => number;
}

/** What a done record holds beyond its claim; a new claim over an expired record drops it. */
const RESPONSE_ATTRIBUTES = ['status', 'headers', 'body', 'parts'];


/**
 * Conditional single-item writes on idempotency records (no transactions, like the rest of the store).
 *
 * @example
 * const records = new IdempotencyRecords(store);
 * if (await records.claim(rec)) { ...; await records.complete(rec, response, expiresAt) }
 */
export class IdempotencyRecords {
  private readonly partBytes: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    opts: IdempotencyRecordsOptions = {},
  ) {
    this.partBytes = opts.partBytes ?? 350_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Writes a new claim if the key is free (absent or expired), or, with `replacing`, takes over exactly that
   * claim (same lease, same `leaseUntil`, still unfinished). `false` when someone else holds the key.
   *
   * @example
   * const mine = await records.claim({ callerId: 'admin', key: 'k1', fingerprint, lease, leaseUntil, expiresAt });
   */
  async claim(rec: Omit<IdempotencyRecord, 'response'>, replacing?: IdempotencyRecord): Promise<boolean> {
    const condition = replacing
      ? cond.and(cond.eq('lease', replacing.lease), cond.eq('leaseUntil', replacing.leaseUntil), cond.notExists('status'))
      : cond.or(cond.notExists('pk'), cond.le('expiresAt', Math.floor(this.now() / 1000)));
    // The whole record is replaced: the claim's attributes set, a finished response's removed.
    const written = await this.store.write({
      key: keys.idempotency(rec.callerId, rec.key),
      update: { set: { ...rec }, remove: RESPONSE_ATTRIBUTES },
      condition,
    });
    return !!written;
  }

  /**
   * Extends a claim's lease while its request runs; `false` if the claim is no longer this lease's.
   *
   * @example
   * await records.renew(rec, Date.now() + 30_000);
   */
  renew(rec: Pick<IdempotencyRecord, 'callerId' | 'key' | 'lease'>, leaseUntil: number): Promise<boolean> {
    return this.update(rec, { set: { leaseUntil } });
  }

  /**
   * The record of a key, with its response when done; `undefined` when absent or expired.
   *
   * @example
   * const rec = await records.get('admin', 'k1'); if (rec?.response) replay(rec.response);
   */
  async get(callerId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const item = await this.store.readItem(keys.idempotency(callerId, key));
    if (!item || isExpired(item, this.now())) return undefined;
    const rec: IdempotencyRecord = {
      callerId,
      key,
      fingerprint: item.fingerprint as string,
      lease: item.lease as string,
      leaseUntil: item.leaseUntil as number,
      expiresAt: item.expiresAt as number,
    };
    if (typeof item.status === 'number') {
      const packed = typeof item.parts === 'number' ? await this.readParts(rec, item.parts) : (item.body as Uint8Array);
      rec.response = { status: item.status, headers: (item.headers as Record<string, string> | undefined) ?? {}, body: new Uint8Array(gunzipSync(packed)) };
    }
    return rec;
  }

  /**
   * Stores the response of a claim and marks it done, keeping it until `expiresAt`. A body too large for one
   * item goes first into part items named by the lease, so a claim that lost its lease never mixes its parts
   * with the winner's. `false` if the claim is no longer this lease's (its parts then simply expire).
   *
   * @example
   * await records.complete(rec, { status: 201, headers: {}, body }, nowSec + 86_400);
   */
  async complete(
    rec: Pick<IdempotencyRecord, 'callerId' | 'key' | 'lease'>,
    response: StoredResponse,
    expiresAt: number,
  ): Promise<boolean> {
    const packed = gzipSync(response.body);
    const set: Record<string, unknown> = { status: response.status, headers: response.headers, expiresAt };
    if (packed.length <= this.partBytes) set.body = packed;
    else {
      const parts = Math.ceil(packed.length / this.partBytes);
      await Promise.all(
        Array.from({ length: parts }, (_, i) =>
          this.store.write({
            key: keys.idempotencyPart(rec.callerId, rec.key, rec.lease, i),
            update: { set: { data: packed.subarray(i * this.partBytes, (i + 1) * this.partBytes), expiresAt } },
          }),
        ),
      );
      set.parts = parts;
    }
    return this.update(rec, { set });
  }

  /**
   * Deletes an unfinished claim (its request failed), so the key can be used again; `false` if it is not this
   * lease's any more.
   *
   * @example
   * await records.release(rec);
   */
  release(rec: Pick<IdempotencyRecord, 'callerId' | 'key' | 'lease'>): Promise<boolean> {
    return this.written(
      this.store.write({
        key: keys.idempotency(rec.callerId, rec.key),
        delete: true,
        condition: cond.and(cond.eq('lease', rec.lease), cond.notExists('status')),
      }),
    );
  }

  /** An update of an unfinished claim, conditional on its lease: `true` when it was applied. */
  private update(rec: Pick<IdempotencyRecord, 'callerId' | 'key' | 'lease'>, update: Update): Promise<boolean> {
    return this.written(
      this.store.write({
        key: keys.idempotency(rec.callerId, rec.key),
        update,
        condition: cond.and(cond.eq('lease', rec.lease), cond.notExists('status')),
      }),
    );
  }

  /** Whether a conditional write was applied. */
  private async written(write: Promise<unknown>): Promise<boolean> {
    return (await write) !== undefined;
  }

  /** The compressed body of a done record, reassembled from its part items in order. */
  private async readParts(rec: IdempotencyRecord, parts: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': idempotencyPartition(rec.callerId, rec.key), ':prefix': idempotencyPartPrefix(rec.lease) },
      ConsistentRead: true,
    });
    for await (const items of pages) for (const item of items) chunks.push(item.data as Uint8Array);
    if (chunks.length !== parts) throw new Error(`idempotency record ${rec.key} has ${chunks.length} of ${parts} parts`);
    return Buffer.concat(chunks);
  }
}
