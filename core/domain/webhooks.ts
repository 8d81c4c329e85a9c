/**
 * @module
 * Webhooks out: every committed event of a project that passes an enabled webhook's filter becomes a
 * `webhookDelivery` record in the store (pending, due now), which is then POSTed to the webhook's URL, signed
 * (`X-Drover-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`). A failed attempt (no 2xx,
 * a network error, a timeout) is retried after a capped exponential backoff with full jitter; a delivery that fails
 * `maxAttempts` times in a row ends `failed` and disables its webhook (`enabled: false`, `disabledReason`), which
 * is itself a `resource.change` event. Due deliveries are found in the store, so a restart loses none. Where a
 * `DeliveryQueue` is given (AWS: the stage's SQS queue), attempts are handed to it instead of made in this process:
 * new deliveries at once, a retry with its wait as the message's delay when the queue can hold it that long.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { formatId } from '../ids.js';
import { inService, isGone } from '../process/lifecycle.js';
import { schemaFor } from '../schema/registry.js';
import type { StoredEvent } from '../store/events.js';
import type { Resource } from '../store/item.js';
import { partitions } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { WebhookDeliveries } from '../store/webhook-deliveries.js';
import type { EventFeed } from './events.js';

/** How deliveries are retried (`DroverConfig.webhooks`). */
export interface WebhookSettings {
  retryBaseMs: number;
  retryCapMs: number;
  maxAttempts: number;
  pollMs: number;
  timeoutMs: number;
}

/** The body of an event as a webhook receives it (the API layer renders it: `toWireEvent`). */
export type RenderEvent = (event: StoredEvent, origin: string) => Record<string, unknown>;

/** One attempt asked of a `DeliveryQueue`: of delivery `id`, after `delaySeconds` (0 when absent). */
export interface QueuedAttempt {
  id: string;
  delaySeconds?: number;
}

/**
 * Where delivery attempts are handed off (AWS: `core/events/webhook-queue.ts`). A message only says "attempt this
 * delivery now if it is due": the store keeps the status, and the attempt's claim makes a duplicate harmless.
 */
export interface DeliveryQueue {
  /** Longest delay a message may take; a longer wait is left to the scheduled `runDue`. */
  readonly maxDelaySeconds: number;
  /** Queues the attempts; rejects when any of them could not be queued. */
  send(attempts: QueuedAttempt[]): Promise<void>;
}

export interface WebhookDispatcherOptions {
  store: Store;
  settings: WebhookSettings;
  render: RenderEvent;
  /** Hand attempts to this queue instead of making them in this process (AWS). */
  queue?: DeliveryQueue;
  now?: () => number;
  random?: () => number;
  log?: (err: unknown) => void;
}

/** Webhook bodies show resources as a project key sees them: types only the admin sees are not sent. */
const ROLE = 'project';

/**
 * The `X-Drover-Signature` value of a body sent at `t` (unix seconds).
 *
 * @example
 * signature('s3cret', 1767225600, '{"id":"1767225600000.0000"}') // 't=1767225600,v1=5b1c…'
 */
export function signature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/**
 * How long to wait after the `attempts`-th failed attempt: full jitter, a draw from
 * [0, min(cap, base · 2^(attempts-1))).
 *
 * @example
 * backoffMs(1, { retryBaseMs: 2000, retryCapMs: 600_000 }, () => 0.5) // 1000
 */
export function backoffMs(attempts: number, s: Pick<WebhookSettings, 'retryBaseMs' | 'retryCapMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(s.retryCapMs, s.retryBaseMs * 2 ** Math.min(attempts - 1, 40));
  return Math.floor(random() * ceiling);
}

/**
 * Whether a webhook wants an event: enabled, in service, of the event's project, and every part of its
 * `eventFilter` that is set matches (resource type, the resource's state, labels as a subset).
 *
 * @example
 * matches(webhook, event) // true for a container event when eventFilter is { resourceTypes: ['container'] }
 */
export function matches(webhook: Resource, e: StoredEvent): boolean {
  if (webhook.fields.enabled === false || !inService(webhook) || webhook.projectId !== e.projectId) return false;
  const f = (webhook.fields.eventFilter ?? {}) as { resourceTypes?: string[] | null; states?: string[] | null; labels?: Record<string, string> | null };
  if (f.resourceTypes?.length && !f.resourceTypes.includes(e.resourceType)) return false;
  if (f.states?.length && !f.states.includes(e.resource.state)) return false;
  if (f.labels && Object.keys(f.labels).length) {
    const labels = (e.resource.fields.labels ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(f.labels)) if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}

/**
 * Checks a webhook's create or update values: `url` must be an absolute http(s) URL. Re-enabling clears the
 * reason it was disabled. Returns the values to store.
 *
 * @example
 * webhookValues({ url: 'ftp://x' }) // throws ValidationError InvalidFormat url
 */
export function webhookValues(values: Record<string, unknown>): Record<string, unknown> {
  if (values.url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(String(values.url));
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      throw new ValidationError('InvalidFormat', 'url', 'An absolute http:// or https:// URL');
    }
  }
  return values.enabled === true ? { ...values, disabledReason: null } : values;
}

/**
 * A new webhook's stored fields and its secret (the one given, or a generated one): the store keeps it as
 * `signingSecret`, which no schema shows; only the create response carries `secret`.
 *
 * @example
 * const { fields, secret } = newWebhook({ url: 'https://example.com/hook' });
 */
export function newWebhook(values: Record<string, unknown>): { fields: Record<string, unknown>; secret: string } {
  const { secret: given, ...rest } = webhookValues(values);
  const secret = typeof given === 'string' && given ? given : randomBytes(32).toString('hex');
  return { fields: { ...rest, enabled: rest.enabled ?? true, signingSecret: secret }, secret };
}

/**
 * Turns events into deliveries and delivers them; the worker loop retries what is due.
 *
 * @example
 * const hooks = new WebhookDispatcher({ store, settings: config.webhooks, render });
 * const stop = hooks.start(feed, { origin: 'http://127.0.0.1:8080' });
 */
export class WebhookDispatcher {
  readonly deliveries: WebhookDeliveries;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: (err: unknown) => void;
  private chain: Promise<void> = Promise.resolve();
  /** The first failure to record or queue a delivery since `settled()` last answered. */
  private failure: unknown;
  /** New deliveries waiting to be handed to the queue (`settled()` sends them). */
  private toQueue: QueuedAttempt[] = [];
  /** The worker's pass under way (`start`), which `settled()` waits for: it reads the store. */
  private pass: Promise<void> | undefined;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private origin = 'http://127.0.0.1';
  private readonly webhooksOf = new Map<string, Resource[]>();

  constructor(private readonly opts: WebhookDispatcherOptions) {
    this.deliveries = new WebhookDeliveries(opts.store);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? ((e) => console.error('webhooks:', e));
  }

  /**
   * Starts delivering: each event of the feed from now on, and every `pollMs` whatever is due in the store.
   * Returns the stop (then `settled()` waits for work under way).
   *
   * @example
   * const stop = hooks.start(drover.events, { origin: stack.url });
   */
  start(feed: EventFeed, opts: { origin: string }): () => void {
    const off = this.capture(feed, opts);
    const timer = setInterval(() => {
      if (this.pass) return;
      this.pass = this.runDue()
        .catch((err) => this.log(err))
        .finally(() => (this.pass = undefined));
    }, this.opts.settings.pollMs);
    timer.unref();
    return () => {
      off();
      clearInterval(timer);
      this.closing.abort();
    };
  }

  /**
   * Records the deliveries of each event of the feed from now on and attempts them (or, with a queue, hands them
   * to it at `settled()`), without the worker that retries due ones: the table stream's consumer in AWS, where the
   * queue's worker and a scheduled `runDue` make the attempts. Returns the stop.
   *
   * @example
   * const off = hooks.capture(drover.events, { origin: apiUrl });
   */
  capture(feed: EventFeed, opts: { origin: string }): () => void {
    this.origin = opts.origin;
    return feed.subscribe((e) => {
      this.chain = this.chain
        .then(() => this.onEvent(e, { once: feed.redelivered }))
        .catch((err) => {
          this.log(err);
          this.failure ??= err;
        });
    });
  }

  /**
   * Resolves once every event seen is recorded, its new deliveries are on the queue (if there is one), and every
   * attempt under way has ended. Rejects (once) if recording or queueing failed meanwhile, so a stream batch is
   * retried: an event handed out again finds the deliveries it got (`WebhookDeliveries.createOnce`).
   *
   * @example
   * stop(); await hooks.settled();
   */
  async settled(): Promise<void> {
    await this.chain;
    const queued = this.toQueue.splice(0);
    if (queued.length && this.opts.queue) await this.opts.queue.send(queued).catch((err) => (this.failure ??= err));
    await this.pass;
    while (this.inflight.size) await Promise.allSettled([...this.inflight.values()]);
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }

  /**
   * Records one delivery per matching webhook of the event's project (`once`, where events may be handed out again:
   * one gets the deliveries it has), then attempts each, or with a queue keeps each still pending for `settled()`
   * to queue.
   *
   * @example
   * await hooks.onEvent(event);
   */
  async onEvent(e: StoredEvent, opts: { once?: boolean } = {}): Promise<void> {
    // A webhook's own change is an event too, earlier in the feed than any event it should see: drop the cached list.
    if (e.resource.baseType === 'webhook') this.webhooksOf.delete(e.projectId);
    if (!schemaFor(e.resourceType, ROLE)) return;
    const webhooks = (await this.projectWebhooks(e.projectId)).filter((w) => matches(w, e));
    if (!webhooks.length) return;
    const body = JSON.stringify(this.opts.render(e, this.origin));
    for (const w of webhooks) {
      const now = this.now();
      const { delivery: d } = await this.deliveries.createOnce(w.id, e.id, (num) => ({
        id: formatId('webhookDelivery', num),
        num,
        type: 'webhookDelivery',
        baseType: 'webhookDelivery',
        projectId: e.projectId,
        state: 'active',
        version: 0,
        created: now,
        updated: now,
        fields: {
          uuid: randomUUID(),
          webhookId: w.id,
          eventId: e.id,
          resourceType: e.resourceType,
          resourceId: e.resourceId,
          status: 'pending',
          attempts: 0,
          nextAttemptAt: now,
          body,
        },
      }), opts);
      // A delivery the event got before (a retried stream batch) may never have reached the queue: queue it again.
      if (!this.opts.queue) this.track(d.id);
      else if (d.fields.status === 'pending') this.toQueue.push({ id: d.id });
    }
  }

  /** A project's webhooks, read once and kept until one of them changes (events come in commit order). */
  private async projectWebhooks(projectId: string): Promise<Resource[]> {
    let list = this.webhooksOf.get(projectId);
    if (!list) {
      list = [];
      for await (const page of this.opts.store.queryIndex({ index: 'byProject', partition: partitions.byProject(projectId, 'webhook') })) {
        list.push(...page.filter((w) => !isGone(w)));
      }
      this.webhooksOf.set(projectId, list);
    }
    return list;
  }

  /**
   * One pass of the worker: attempts every delivery due now.
   *
   * @example
   * await hooks.runDue();
   */
  async runDue(): Promise<void> {
    const ids: string[] = [];
    for await (const d of this.deliveries.due(this.now())) ids.push(d.id);
    for (const id of ids) this.track(id);
    await Promise.allSettled(ids.map((id) => this.inflight.get(id)));
  }

  private track(id: string): void {
    if (this.inflight.has(id) || this.closing.signal.aborted) return;
    const p = this.attempt(id)
      .catch((e) => this.log(e))
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
  }

  /**
   * Attempts one delivery if it is due, as a queue message asks: claims it (moving its next attempt past this one's
   * timeout, so a duplicate message or another worker leaves it alone), POSTs it, and records the outcome; a retry
   * whose wait the queue can hold is queued again with that delay. Does nothing when the delivery is not due.
   * Rejects only on Drover's own failure (the store, the queue): the receiver's refusal is a recorded retry.
   *
   * @example
   * await hooks.attempt('1whd3');
   */
  async attempt(id: string): Promise<void> {
    const { settings } = this.opts;
    const claimedAt = this.now();
    const claimed = await this.deliveries.update(id, (f) =>
      (f.status === 'pending' || f.status === 'retrying') && typeof f.nextAttemptAt === 'number' && f.nextAttemptAt <= claimedAt
        ? { nextAttemptAt: claimedAt + settings.timeoutMs + 5000 }
        : undefined,
    );
    if (!claimed) return;
    const webhook = await this.opts.store.get(String(claimed.fields.webhookId));
    if (!webhook || isGone(webhook)) {
      await this.deliveries.update(id, () => ({ status: 'failed', nextAttemptAt: null, lastError: 'The webhook was removed' }));
      return;
    }
    const body = String(claimed.fields.body);
    const t = Math.floor(this.now() / 1000);
    const started = performance.now();
    let code: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(String(webhook.fields.url), {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'Drover-Webhooks/1',
          'X-Drover-Event-Id': String(claimed.fields.eventId),
          'X-Drover-Delivery-Id': id,
          'X-Drover-Signature': signature(String(webhook.fields.signingSecret), t, body),
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(settings.timeoutMs), this.closing.signal]),
      });
      code = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (code < 200 || code > 299) error = `The receiver answered ${code}`;
    } catch (e) {
      // Closing: leave the claim; the attempt is due again once it runs out (after a restart, say).
      if (this.closing.signal.aborted) return;
      error = `No answer: ${(e as Error)?.name === 'TimeoutError' ? `timed out after ${settings.timeoutMs} ms` : String((e as Error)?.cause ?? e)}`.slice(0, 1024);
    }
    const latencyMs = Math.round(performance.now() - started);
    const now = this.now();
    let gaveUp = false;
    let waitMs: number | undefined;
    const after = await this.deliveries.update(id, (f) => {
      const attempts = (typeof f.attempts === 'number' ? f.attempts : 0) + 1;
      const common = { attempts, lastAttemptAt: now, responseCode: code, latencyMs };
      if (!error) return { ...common, status: 'delivered', deliveredAt: now, nextAttemptAt: null, lastError: null };
      gaveUp = attempts >= settings.maxAttempts;
      if (gaveUp) return { ...common, status: 'failed', nextAttemptAt: null, lastError: error };
      waitMs = backoffMs(attempts, settings, this.random);
      return { ...common, status: 'retrying', nextAttemptAt: now + waitMs, lastError: error };
    });
    if (after && gaveUp) await this.disable(webhook.id, after);
    const queue = this.opts.queue;
    // The message must not come before the retry is due: whole seconds, rounded up. A longer wait is runDue's.
    const delaySeconds = waitMs === undefined ? undefined : Math.ceil(waitMs / 1000);
    if (after && queue && delaySeconds !== undefined && delaySeconds <= queue.maxDelaySeconds) await queue.send([{ id, delaySeconds }]);
  }

  /** Turns a webhook off after one of its deliveries failed every attempt; the change is an event of its own. */
  private async disable(webhookId: string, d: Resource): Promise<void> {
    const reason = `Disabled after ${String(d.fields.attempts)} failed attempts in a row to deliver event ${String(d.fields.eventId)} (${String(d.fields.lastError)})`;
    const cur = await this.opts.store.get(webhookId);
    if (!cur || cur.fields.enabled === false || isGone(cur)) return;
    await this.opts.store
      .mutate(webhookId, (w) => ({ ...w, fields: { ...w.fields, enabled: false, disabledReason: reason } }), { current: cur })
      .catch((e) => this.log(e));
  }
}
