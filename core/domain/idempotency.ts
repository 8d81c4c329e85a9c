/**
 * @module
 * Idempotency keys: the first request with a key runs and its response is kept; a retry with the same key and
 * request gets that response again, a concurrent one waits for it, and a different request under the same key
 * is refused. Knows nothing of HTTP routes or rendering; responses are opaque (status, headers, bytes).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ApiError, statusError } from '../errors.js';
import type { IdempotencyRecord, IdempotencyRecords, StoredResponse } from '../store/idempotency.js';

export type { StoredResponse } from '../store/idempotency.js';

/** A request that carries a key. */
export interface IdempotentRequest {
  /** Whose key it is (keys of different callers never meet): `admin` or the API key id. */
  callerId: string;
  key: string;
  /** What the request asks for (see `fingerprint`): the same key with another fingerprint is refused. */
  fingerprint: string;
}

/** A claim on a key held by this process while its request runs. */
export interface Claim extends IdempotentRequest {
  lease: string;
}

export type Begun = { kind: 'claimed'; claim: Claim } | { kind: 'replay'; response: StoredResponse };

export interface IdempotencyOptions {
  records: IdempotencyRecords;
  /** How long a response is kept for replay, from when it is stored (default 86 400 s). */
  retentionSeconds?: number;
  /** How long a claim stays its holder's without renewal (default 30 s); a running request renews it. */
  leaseMs?: number;
  /** How long a concurrent duplicate waits for the first request before answering 409 (default 5 s). */
  waitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Where failures to renew, store or release a claim are reported (default: console.error). */
  logError?: (err: unknown) => void;
}

/** What an `Idempotency-Key` may be: 1 to 255 printable ASCII characters. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * Whether a string is an acceptable idempotency key.
 *
 * @example
 * isValidKey('create-web-1') // true
 * isValidKey('') // false
 */
export function isValidKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * The fingerprint of a request: SHA-256 of its canonical JSON (key order does not matter).
 *
 * @example
 * fingerprint({ method: 'POST', path: ['container'], input: { a: 1, b: 2 } }) ===
 *   fingerprint({ input: { b: 2, a: 1 }, path: ['container'], method: 'POST' }) // true
 */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

const sleepFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Claims, completes and releases idempotency keys; `run` does all three around one request.
 *
 * @example
 * const keys = new Idempotency({ records: new IdempotencyRecords(store) });
 * const { response, replayed } = await keys.run({ callerId: 'admin', key, fingerprint: fp }, () => handle(req));
 */
export class Idempotency {
  private readonly records: IdempotencyRecords;
  private readonly retentionSeconds: number;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly logError: (err: unknown) => void;

  constructor(opts: IdempotencyOptions) {
    this.records = opts.records;
    this.retentionSeconds = opts.retentionSeconds ?? 86_400;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.waitMs = opts.waitMs ?? 5_000;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? sleepFor;
    this.logError = opts.logError ?? ((e) => console.error(e));
  }

  /**
   * Runs `handle` once per key: a stored response is replayed instead, a response in the making is waited for.
   * A 2xx response is stored; any other outcome (an error response or a throw) releases the key, so a corrected
   * or later retry runs afresh. The claim's lease is renewed while `handle` runs.
   *
   * @example
   * const { response, replayed } = await keys.run(req, async () => ({ status: 201, headers: {}, body }));
   */
  async run(req: IdempotentRequest, handle: () => Promise<StoredResponse>): Promise<{ response: StoredResponse; replayed: boolean }> {
    const begun = await this.begin(req);
    if (begun.kind === 'replay') return { response: begun.response, replayed: true };
    const { claim } = begun;
    const renewal = setInterval(() => void this.records.renew(claim, this.now() + this.leaseMs).catch(this.logError), this.leaseMs / 3);
    renewal.unref?.();
    let response: StoredResponse;
    try {
      response = await handle();
    } catch (e) {
      await this.settle(claim);
      throw e;
    } finally {
      clearInterval(renewal);
    }
    await this.settle(claim, response);
    return { response, replayed: false };
  }

  /**
   * Keeps a 2xx response, else releases the key. A store failure here is logged, not thrown: the caller's
   * request has already taken effect, and its response must reach the caller.
   */
  private async settle(claim: Claim, response?: StoredResponse): Promise<void> {
    try {
      const kept = response && response.status >= 200 && response.status < 300;
      const held = kept ? await this.complete(claim, response) : await this.release(claim);
      if (!held) this.logError(new Error(`Idempotency-Key '${claim.key}' of ${claim.callerId} was taken over while its request ran`));
    } catch (e) {
      this.logError(e);
    }
  }

  /**
   * Claims the key, or finds what holds it: the stored response (replay), a different request (422
   * `IdempotencyKeyReused`), or a request still running, which is waited for up to `waitMs` (then 409) and
   * taken over if its holder's lease ran out.
   *
   * @example
   * const begun = await keys.begin(req); if (begun.kind === 'replay') return begun.response;
   */
  async begin(req: IdempotentRequest): Promise<Begun> {
    const deadline = this.now() + this.waitMs;
    for (let polls = 0; ; ) {
      const claim: Claim = { ...req, lease: randomUUID() };
      if (await this.records.claim(this.newRecord(claim))) return { kind: 'claimed', claim };
      // Someone holds the key: read it until it is done, gone or ours.
      for (;;) {
        const held = await this.records.get(req.callerId, req.key);
        if (!held) break; // released by a failed first request, or expired: claim it afresh
        if (held.fingerprint !== req.fingerprint) throw reused(req.key);
        if (held.response) return { kind: 'replay', response: held.response };
        if (held.leaseUntil <= this.now() && (await this.records.claim(this.newRecord(claim), held))) {
          return { kind: 'claimed', claim };
        }
        if (this.now() >= deadline) throw stillRunning(req.key);
        await this.sleep(backoffMs(polls++));
      }
      if (this.now() >= deadline) throw stillRunning(req.key);
    }
  }

  /**
   * Stores the response of a claimed request for replay. `false` if the claim was taken over meanwhile.
   *
   * @example
   * await keys.complete(claim, { status: 201, headers: { 'content-type': 'application/json' }, body });
   */
  complete(claim: Claim, response: StoredResponse): Promise<boolean> {
    return this.records.complete(claim, response, this.expiresAt());
  }

  /**
   * Gives a claimed key up, so the next request with it runs. `false` if the claim was taken over meanwhile.
   *
   * @example
   * await keys.release(claim);
   */
  release(claim: Claim): Promise<boolean> {
    return this.records.release(claim);
  }

  private newRecord(claim: Claim): Omit<IdempotencyRecord, 'response'> {
    return { ...claim, leaseUntil: this.now() + this.leaseMs, expiresAt: this.expiresAt() };
  }

  /** Rounded up, so a record is kept at least the whole window (TTL is in whole seconds). */
  private expiresAt(): number {
    return Math.ceil(this.now() / 1000) + this.retentionSeconds;
  }
}

/** Polls of a running duplicate: 10 ms growing by half each time to 200 ms, jittered so waiters spread out. */
function backoffMs(poll: number): number {
  return Math.min(200, 10 * 1.5 ** poll) * (0.5 + Math.random() / 2);
}

function reused(key: string): ApiError {
  return new ApiError(422, 'IdempotencyKeyReused', {
    message: `Idempotency-Key '${key}' was already used with a different request; use a new key for a new request`,
  });
}

function stillRunning(key: string): ApiError {
  return statusError(409, `The first request with Idempotency-Key '${key}' is still in progress; retry later`);
}
