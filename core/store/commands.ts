/**
 * @module
 * Host commands in the stage's table: one item per command (`pk = cmd#<hostId>`, `sk = <commandId>`, ids sort by
 * creation time) and one dedupe key per (host, step) (`pk = cmdkey#<hostId>#<dedupeKey>`) naming the command that
 * holds it (keys from `core/store/keys.ts`). The outbox (`core/agent/outbox.ts`) decides what to write; this module
 * alone knows the items, and writes them through `Store.write`.
 */
import type { AgentCommand, CommandOutcome } from '../agent/protocol.js';
import { cond, type Condition, type Update } from './expression.js';
import { commandPartition, keys } from './keys.js';
import { isExpired, type Store } from './store.js';

/** A stored command: what the agent sees, plus what stays on the server. */
export interface Command extends Omit<AgentCommand, 'secondsRemaining'> {
  /** Step Functions task token; never sent to agents. */
  token: string;
  /** Identifies "the same command" across retries of the enqueuing task. */
  dedupeKey: string;
  /** Epoch ms after which the waiting task has timed out: the command is no longer handed out. */
  deadline: number;
  ackedAt: number | null;
  doneAt: number | null;
  result: CommandOutcome | null;
  /** Epoch ms the outcome was passed to the workflow (SendTask*); `null` until then. */
  relayedAt: number | null;
  /** Epoch ms of the last failed attempt to pass the outcome on (a repeated completion retries it). */
  relayFailedAt?: number | null;
  /** Epoch seconds (DynamoDB TTL). */
  expiresAt: number;
}

/** What a re-enqueued command gets afresh: the new task's token, bounds and snapshot. */
export type CommandRefresh = Pick<Command, 'token' | 'heartbeatSeconds' | 'timeoutSeconds' | 'deadline' | 'expiresAt' | 'data' | 'processData'>;


/** Item attributes that are not the command's: its key, and the item version the store keeps on every entity. */
const KEY_ONLY = new Set(['pk', 'sk', 'version']);
function toCommand(item: Record<string, unknown>): Command {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!KEY_ONLY.has(k)) out[k] = v;
  return out as unknown as Command;
}


/**
 * Conditional single-item reads and writes of host commands and their dedupe keys.
 *
 * @example
 * const commands = new CommandRecords(store);
 * await commands.put(cmd);
 * const waiting = await commands.pending('1h1', { fromId: '000000000', now: Date.now(), limit: 20 });
 */
export class CommandRecords {
  constructor(private readonly store: Store) {}

  /**
   * Writes a new command.
   *
   * @example
   * await commands.put(cmd);
   */
  async put(cmd: Command): Promise<void> {
    // A new command (its id is new): written as an update, so its item version starts like every entity's.
    await this.store.write({ key: keys.command(cmd.hostId, cmd.id), update: { set: { ...cmd } } });
  }

  /**
   * One command of a host (any status), or `undefined` (also once it has expired).
   *
   * @example
   * const cmd = await commands.get('1h1', id, Date.now());
   */
  async get(hostId: string, id: string, now: number): Promise<Command | undefined> {
    const item = await this.store.readItem(keys.command(hostId, id));
    return item && !isExpired(item, now) ? toCommand(item) : undefined;
  }

  /**
   * Pending commands of a host whose task has not timed out, created at or after the command id `fromId`, oldest
   * first, at most `limit`.
   *
   * @example
   * await commands.pending('1h1', { fromId: idFloor(now - 3_600_000), now, limit: 20 });
   */
  async pending(hostId: string, q: { fromId: string; now: number; limit: number }): Promise<Command[]> {
    const out: Command[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: 'pk = :pk AND sk >= :from',
      FilterExpression: '#st = :pending AND #dl > :now AND (attribute_not_exists(#ex) OR #ex > :nowSec)',
      ExpressionAttributeNames: { '#st': 'status', '#dl': 'deadline', '#ex': 'expiresAt' },
      ExpressionAttributeValues: {
        ':pk': commandPartition(hostId),
        ':from': q.fromId,
        ':pending': 'pending',
        ':now': q.now,
        ':nowSec': Math.floor(q.now / 1000),
      },
      ConsistentRead: true,
      Limit: 100,
    });
    for await (const items of pages) {
      for (const item of items) {
        out.push(toCommand(item));
        if (out.length >= q.limit) return out;
      }
    }
    return out;
  }

  /**
   * Every stored command of a host, any status (expired ones too), oldest first: for inspection and tests.
   *
   * @example
   * const removes = (await commands.list('1h1')).filter((c) => c.name === 'compute.instance.remove');
   */
  async list(hostId: string): Promise<Command[]> {
    const out: Command[] = [];
    const pages = this.store.queryItems({
      TableName: this.store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': commandPartition(hostId) },
      ConsistentRead: true,
    });
    for await (const items of pages) out.push(...items.map(toCommand));
    return out;
  }

  /**
   * Marks a pending command acked; `undefined` when it is not pending (or missing).
   *
   * @example
   * const acked = await commands.ack('1h1', id, Date.now());
   */
  ack(hostId: string, id: string, now: number): Promise<Command | undefined> {
    return this.update(hostId, id, { set: { status: 'acked', ackedAt: now } }, cond.eq('status', 'pending'));
  }

  /**
   * Records the outcome of a command that is not done yet; `undefined` when it is done already (or missing).
   *
   * @example
   * const done = await commands.finish('1h1', id, { error: 'disk full' }, { now, expiresAt });
   */
  finish(hostId: string, id: string, outcome: CommandOutcome, at: { now: number; expiresAt: number }): Promise<Command | undefined> {
    return this.update(
      hostId,
      id,
      { set: { status: 'done', doneAt: at.now, result: outcome, expiresAt: at.expiresAt }, setIfAbsent: { ackedAt: at.now } },
      cond.ne('status', 'done'),
    );
  }

  /**
   * Gives a command that is not done what a newer enqueue of it brings (`CommandRefresh`: the new task's token,
   * bounds and snapshot, taken from `fresh`); `undefined` if done or missing.
   *
   * @example
   * const refreshed = await commands.refresh('1h1', id, newerCommand);
   */
  refresh(hostId: string, id: string, fresh: CommandRefresh): Promise<Command | undefined> {
    const set: CommandRefresh = {
      token: fresh.token,
      heartbeatSeconds: fresh.heartbeatSeconds,
      timeoutSeconds: fresh.timeoutSeconds,
      deadline: fresh.deadline,
      expiresAt: fresh.expiresAt,
      data: fresh.data,
      processData: fresh.processData,
    };
    return this.update(hostId, id, { set }, cond.ne('status', 'done'));
  }

  /**
   * Notes when the outcome reached the workflow (`ok`) or when passing it on failed (`!ok`).
   *
   * @example
   * await commands.markRelayed('1h1', id, true, Date.now());
   */
  async markRelayed(hostId: string, id: string, ok: boolean, now: number): Promise<void> {
    await this.update(hostId, id, { set: ok ? { relayedAt: now } : { relayFailedAt: now } });
  }

  /**
   * Claims the dedupe key of a (host, step) for a command: `true`, or the id of the command that holds it (`''`
   * when the holder vanished meanwhile). An expired key is free; `force` takes it whatever holds it.
   *
   * @example
   * const claimed = await commands.claimKey(cmd, false); if (claimed !== true) refresh(claimed);
   */
  async claimKey(cmd: Pick<Command, 'hostId' | 'dedupeKey' | 'id' | 'createdAt' | 'expiresAt'>, force: boolean): Promise<true | string> {
    const key = keys.commandKey(cmd.hostId, cmd.dedupeKey);
    const claimed = await this.store.write({
      key,
      update: { set: { commandId: cmd.id, expiresAt: cmd.expiresAt } },
      condition: force ? undefined : cond.or(cond.notExists('pk'), cond.le('expiresAt', Math.floor(cmd.createdAt / 1000))),
    });
    if (claimed) return true;
    const holder = await this.store.readItem(key);
    return typeof holder?.commandId === 'string' ? holder.commandId : '';
  }

  /**
   * Frees a dedupe key if it still names `commandId` (that command is done; the next enqueue starts afresh).
   *
   * @example
   * await commands.releaseKey('1h1', dedupeKey, doneId);
   */
  async releaseKey(hostId: string, dedupeKey: string, commandId: string): Promise<void> {
    await this.store.write({ key: keys.commandKey(hostId, dedupeKey), update: { set: { expiresAt: 0 } }, condition: cond.eq('commandId', commandId) });
  }

  /** One conditional UpdateItem of an existing command; `undefined` when the condition (or existence) fails. */
  private async update(hostId: string, id: string, update: Update, condition?: Condition): Promise<Command | undefined> {
    const exists = cond.exists('pk');
    const out = await this.store.write({ key: keys.command(hostId, id), update, condition: condition ? cond.and(exists, condition) : exists });
    return out ? toCommand(out.newImage!) : undefined;
  }
}
