/**
 * @module
 * The audit trail, derived from committed changes: every `resource.change` event that shows a new action id opens
 * an entry (who, when, from where, the input with secrets redacted), every later change under that action adds a
 * step (its message and progress), and the change that ends it closes the entry with the outcome (`succeeded`,
 * `failed`, `timedOut`, `superseded`) and the duration. Nothing here writes an action's life: the ledger did, and
 * this reads what it wrote from the event feed (locally; in AWS the stream consumer will feed it the same events).
 */
import type { AuditPointer, AuditStore } from '../store/audit.js';
import type { StoredEvent } from '../store/events.js';
import type { CurrentAction, Resource } from '../store/item.js';
import { chainedAfter, processOf } from '../process/lifecycle.js';

export type AuditOutcome = 'succeeded' | 'failed' | 'timedOut' | 'superseded';

/** Keys whose values are never kept (matched without case, anywhere in the key). */
const SECRET_KEY = /secret|passw|token|private_?key|api_?key|authorization/i;

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';

/** Most steps kept on one entry; an action that reports more keeps its first ones and its end. */
const MAX_STEPS = 100;

/** The failure messages of a host that went silent and of the sweeper's deadline (`ledger.ts`, `sweeper.ts`). */
const TIMEOUT_MESSAGE = /no heartbeat in time|^Timed out waiting for host|did not finish in time/;

/**
 * A copy of an action's input with the values of secret-looking keys replaced, at any depth.
 *
 * @example
 * redact({ name: 'db', environment: { DB_PASSWORD: 'x' }, secretValue: 'y' })
 * // { name: 'db', environment: { DB_PASSWORD: '[redacted]' }, secretValue: '[redacted]' }
 */
export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v);
  return out as T;
}

/**
 * How an action ended, from the resource as the write that ended it left it: `next` is the action that write began
 * (a chained one is a success, any other supersedes the ended one).
 *
 * @example
 * outcomeOf(failedContainer, pointer) // 'failed' (or 'timedOut' when its host went silent)
 */
export function outcomeOf(res: Resource, ended: Pick<AuditPointer, 'name' | 'input'>, next?: CurrentAction | null): AuditOutcome {
  if (next) {
    const p = processOf(res.baseType, ended.name);
    return p && chainedAfter(p, res.fields, ended.input) === next.name ? 'succeeded' : 'superseded';
  }
  if (res.transitioningError !== 'error') return 'succeeded';
  return TIMEOUT_MESSAGE.test(res.transitioningMessage ?? '') ? 'timedOut' : 'failed';
}

/** One step of an entry: what the resource showed after a change under the action. */
interface Step {
  at: number;
  state: string;
  message: string | null;
  progress: number | null;
  /** On the last step: how it ended, and what the work produced. */
  outcome?: AuditOutcome;
  result?: Record<string, unknown>;
}

/** Fields the work leaves on a resource, kept as the last step's result. */
const RESULT_FIELDS = ['hostId', 'externalId', 'primaryIpAddress'] as const;

export interface AuditWriterOptions {
  /** Seconds an entry is kept after its action began (`DROVER_AUDIT_RETENTION_SECONDS`). */
  retentionSeconds: number;
  logError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Keeps the audit trail from events: one entry per action id. Events of one resource are applied one at a time in
 * feed order; different resources proceed independently.
 *
 * @example
 * const audit = new AuditWriter(new AuditStore(store), { retentionSeconds: 2_592_000 });
 * const stop = audit.start(feed); // feed: an EventFeed
 */
export class AuditWriter {
  /** Pointers of resources whose action is open, with the entry as last written (saves a read per step). */
  private readonly open = new Map<string, { pointer: AuditPointer; entry: Resource }>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly logError: (err: unknown) => void;
  private readonly now: () => number;

  constructor(
    private readonly trail: AuditStore,
    private readonly opts: AuditWriterOptions,
  ) {
    this.logError = opts.logError ?? ((e) => console.error('audit:', e));
    this.now = opts.now ?? Date.now;
  }

  /**
   * Records every event the feed hands out from now on; returns the stop.
   *
   * @example
   * const stop = audit.start(drover.events);
   */
  start(feed: { subscribe(fn: (e: StoredEvent) => void): () => void }): () => void {
    return feed.subscribe((e) => this.enqueue(e));
  }

  /**
   * Queues one event behind the earlier ones of its resource.
   *
   * @example
   * audit.enqueue(event); await audit.settled();
   */
  enqueue(event: StoredEvent): void {
    const id = event.resourceId;
    const run = (this.chains.get(id) ?? Promise.resolve())
      .then(() => this.apply(event))
      .catch((e) => this.logError(e))
      .finally(() => {
        if (this.chains.get(id) === run) this.chains.delete(id);
      });
    this.chains.set(id, run);
  }

  /**
   * Resolves once every event queued so far is recorded.
   *
   * @example
   * await audit.settled();
   */
  async settled(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  private async apply(event: StoredEvent): Promise<void> {
    const res = event.resource;
    const cur = res.action ?? null;
    let known = this.open.get(res.id);
    // A resource's first change (its create) has no pointer yet: no read.
    if (!known && event.previousState !== null) {
      const pointer = await this.trail.pointer(res.id);
      const entry = pointer && (await this.trail.entry(pointer.entryId));
      // The pointer is not rewritten when its entry closes (one write less per action): the entry tells.
      const open = !!entry && (entry.fields.outcome ?? null) === null;
      if (pointer && entry && open) known = { pointer, entry };
      else if (pointer && cur?.id === pointer.actionId) return; // already recorded and closed (a redelivery)
    }
    if (known && cur?.id === known.pointer.actionId) return this.step(res, event, known);
    if (known) await this.close(res, event, known, cur);
    if (cur) await this.begin(res, event, cur);
  }

  /** Opens the entry of a new action. */
  private async begin(res: Resource, event: StoredEvent, act: CurrentAction): Promise<void> {
    const { id, num } = await this.trail.newEntryId();
    const input = redact(act.input ?? {});
    const expiresAt = Math.floor(act.at / 1000) + this.opts.retentionSeconds;
    const first: Step = { at: event.time, state: res.state, message: res.transitioningMessage ?? null, progress: res.transitioningProgress ?? null };
    const entry = await this.trail.create({
      id,
      num,
      type: 'auditEntry',
      baseType: 'auditEntry',
      projectId: res.projectId,
      state: 'open',
      version: 0,
      created: act.at,
      updated: this.now(),
      expiresAt,
      fields: {
        action: act.name,
        actionId: act.id,
        callerId: act.caller,
        resourceId: res.id,
        resourceType: res.type,
        input,
        sourceIp: act.source?.ip ?? null,
        forwardedFor: act.source?.forwardedFor ?? null,
        userAgent: act.source?.userAgent ?? null,
        outcome: null,
        ended: null,
        durationMs: null,
        message: null,
        steps: [first],
        expires: expiresAt * 1000,
      },
    });
    const pointer: AuditPointer = { actionId: act.id, entryId: id, open: true, name: act.name, input, lastMessage: first.message, lastProgress: first.progress };
    await this.trail.setPointer(res.id, pointer, expiresAt);
    this.open.set(res.id, { pointer, entry });
  }

  /** Adds a step when the change shows something new under the open action (progress, a message, more input). */
  private async step(res: Resource, event: StoredEvent, known: { pointer: AuditPointer; entry: Resource }): Promise<void> {
    const message = res.transitioningMessage ?? null;
    const progress = res.transitioningProgress ?? null;
    const input = redact(res.action?.input ?? {});
    const amended = JSON.stringify(input) !== JSON.stringify(known.pointer.input);
    if (!amended && message === known.pointer.lastMessage && progress === known.pointer.lastProgress) return;
    const steps = known.entry.fields.steps as Step[];
    const add = message !== known.pointer.lastMessage || progress !== known.pointer.lastProgress;
    const entry = await this.trail.update(
      known.entry.id,
      (e) => ({
        ...e,
        fields: {
          ...e.fields,
          input,
          steps: add && steps.length < MAX_STEPS ? [...(e.fields.steps as Step[]), { at: event.time, state: res.state, message, progress }] : e.fields.steps,
        },
      }),
      known.entry,
    );
    const pointer = { ...known.pointer, input, lastMessage: message, lastProgress: progress };
    if (amended) await this.trail.setPointer(res.id, pointer, known.entry.expiresAt ?? 0);
    this.open.set(res.id, { pointer, entry });
  }

  /** Closes the entry of the action that ended with this change. */
  private async close(res: Resource, event: StoredEvent, known: { pointer: AuditPointer; entry: Resource }, next: CurrentAction | null): Promise<void> {
    const outcome = outcomeOf(res, known.pointer, next);
    const message = outcome === 'failed' || outcome === 'timedOut' ? (res.transitioningMessage ?? null) : null;
    const result: Record<string, unknown> = {};
    for (const k of RESULT_FIELDS) if (res.fields[k] !== undefined && res.fields[k] !== null) result[k] = res.fields[k];
    const last: Step = { at: event.time, state: res.state, message, progress: null, outcome, result };
    await this.trail.update(
      known.entry.id,
      (e) => ({
        ...e,
        state: 'closed',
        fields: {
          ...e.fields,
          outcome,
          message,
          ended: event.time,
          durationMs: Math.max(0, event.time - e.created),
          steps: [...(e.fields.steps as Step[]).slice(0, MAX_STEPS - 1), last],
        },
      }),
      known.entry,
    );
    this.open.delete(res.id);
  }
}
