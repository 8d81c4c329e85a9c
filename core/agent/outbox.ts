/**
 * @module
 * The durable per-host command outbox (design D7, notes §A.6): host commands wait in the stage's table
 * (`core/store/commands.ts`) until the host's agent polls, acks and completes them. An in-process doorbell wakes local long-polls when work is enqueued,
 * and in AWS the agent doorbell (`ring`, `core/agent/doorbell.ts`) wakes agents; losing a ring is harmless because
 * pollers always re-read the table.
 *
 *   enqueue ──▶ pending ──ack──▶ acked ──finish──▶ done (expires a day later)
 *      └ same (host, action, command) again while not done: the waiting command gets the new task token
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { CommandRecords, type Command } from '../store/commands.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import type { AgentCommand, CommandOutcome } from './protocol.js';

/**
 * What the workflow side enqueues: a command without its bookkeeping. `processData` defaults to `{}`, `dedupeKey`
 * (what makes retries of the enqueuing task "the same command") to `<actionId>/<name>`.
 */
export type NewCommand = Pick<
  Command,
  'hostId' | 'name' | 'action' | 'resourceId' | 'actionId' | 'data' | 'token' | 'heartbeatSeconds' | 'timeoutSeconds'
> &
  Partial<Pick<Command, 'processData' | 'dedupeKey'>>;

export interface OutboxOptions {
  /**
   * Polls look at commands created in this window only (default 3600 s), so a busy host's done commands
   * are not re-read on every poll. Commands whose task timeout is longer are still delivered within it.
   */
  windowSeconds?: number;
  /** How long a done command is kept (default 86400 s). */
  retentionSeconds?: number;
  /**
   * Rings the host beyond this process (AWS: the agent doorbell, `core/agent/doorbell.ts`), awaited after the local
   * doorbell so a Lambda does not freeze before the ring is out. Best effort: it must not throw.
   */
  ring?: (hostId: string) => Promise<unknown>;
  now?: () => number;
}

const DAY_SECONDS = 86_400;

/**
 * A sortable command id: creation time as 9 base-36 digits, a per-process sequence, random letters.
 *
 * @example
 * newCommandId(Date.now()) // 'mf3k2a9c1000a8k2q7xv0e'
 */
export function newCommandId(now: number): string {
  seq = (seq + 1) % 1296;
  const time = Math.max(0, Math.floor(now)).toString(36).padStart(9, '0');
  return `${time}${seq.toString(36).padStart(2, '0')}${randomBytes(8).toString('hex').slice(0, 11)}`;
}
let seq = 0;

/**
 * Whether a string has the shape of a command id (a request naming anything else names no command).
 *
 * @example
 * isCommandId(newCommandId(Date.now())) // true
 * isCommandId('x'.repeat(1100)) // false
 */
export function isCommandId(id: string): boolean {
  return /^[0-9a-z]{22}$/.test(id);
}

/** The lowest command id created at or after `ms`. */
const idFloor = (ms: number) => Math.max(0, Math.floor(ms)).toString(36).padStart(9, '0');

/**
 * The instance fields a host agent needs, for `NewCommand.data`.
 *
 * @example
 * outbox.enqueue({ ..., data: instanceSnapshot(instance) })
 */
export function instanceSnapshot(r: Resource): Record<string, unknown> {
  const f = r.fields;
  const pick = (...names: string[]) => Object.fromEntries(names.map((n) => [n, f[n] ?? null]));
  return {
    id: r.id,
    type: r.type,
    ...pick('uuid', 'name', 'imageUuid', 'labels', 'vcpu', 'memoryMb', 'memory', 'ports', 'environment', 'command'),
    ...pick('entryPoint', 'externalId', 'primaryIpAddress', 'hostname', 'userdata', 'disks', 'networkMode', 'restartPolicy'),
    ...pick('healthCheck', 'workingDir', 'user', 'cpuShares', 'stdinOpen', 'tty'),
  };
}

/**
 * The agent's view of a command.
 *
 * @example
 * c.json({ data: cmds.map((cmd) => agentView(cmd, Date.now())) })
 */
export function agentView(cmd: Command, now: number): AgentCommand {
  return {
    id: cmd.id,
    hostId: cmd.hostId,
    name: cmd.name,
    action: cmd.action,
    resourceId: cmd.resourceId,
    actionId: cmd.actionId,
    data: cmd.data,
    processData: cmd.processData,
    heartbeatSeconds: cmd.heartbeatSeconds,
    timeoutSeconds: cmd.timeoutSeconds,
    secondsRemaining: Math.max(0, Math.floor((cmd.deadline - now) / 1000)),
    status: cmd.status,
    createdAt: cmd.createdAt,
  };
}


/**
 * The outbox. One per process, shared by the task code that enqueues and the agent routes that deliver, so
 * the doorbell reaches local long-polls.
 *
 * @example
 * const outbox = new Outbox(store);
 * await outbox.enqueue({ hostId: '1h1', name: 'compute.instance.activate', action: 'start', resourceId: '1i5',
 *   actionId, data: instanceSnapshot(instance), token, heartbeatSeconds: 30, timeoutSeconds: 300 });
 * const [cmd] = await outbox.pending('1h1', 10);
 */
export class Outbox {
  private readonly bells = new EventEmitter();
  private readonly rings = new Map<string, number>();
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly retentionSeconds: number;
  private readonly remoteRing?: (hostId: string) => Promise<unknown>;
  private closedFlag = false;

  private readonly commands: CommandRecords;

  constructor(store: Store, opts: OutboxOptions = {}) {
    this.commands = new CommandRecords(store);
    this.now = opts.now ?? Date.now;
    this.windowMs = (opts.windowSeconds ?? 3600) * 1000;
    this.retentionSeconds = opts.retentionSeconds ?? DAY_SECONDS;
    this.remoteRing = opts.ring;
    this.bells.setMaxListeners(0);
  }

  /** True after `close()`: long-polls return at once. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Stores a command for its host and rings the doorbell. Enqueuing the same command again (same host and
   * `dedupeKey`) while it is not done refreshes its task token and deadline instead of adding a second one,
   * so a retried or re-driven task never makes the agent run the work twice.
   *
   * @example
   * const cmd = await outbox.enqueue({ hostId, name: 'compute.instance.deactivate', action: 'stop', ... });
   */
  async enqueue(input: NewCommand): Promise<Command> {
    const dedupeKey = input.dedupeKey ?? `${input.actionId}/${input.name}`;
    for (let attempt = 0; ; attempt++) {
      const now = this.now();
      const cmd = this.newCommand(input, dedupeKey, now);
      const claimed = await this.commands.claimKey(cmd, attempt >= 5);
      if (claimed === true) {
        await this.commands.put(cmd);
        await this.ring(cmd.hostId);
        return cmd;
      }
      if (!claimed) continue; // the key vanished between the put and the read: claim again
      // The command already waiting takes this one's token, bounds and snapshot.
      const refreshed = await this.commands.refresh(input.hostId, claimed, cmd);
      if (refreshed) {
        if (refreshed.status === 'pending') await this.ring(refreshed.hostId);
        return refreshed;
      }
      const existing = await this.get(input.hostId, claimed);
      // Done (or expired): the next attempt replaces the key with a fresh command. Missing: its writer is
      // between the key and the command write; give it a moment.
      if (!existing) await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
      else await this.commands.releaseKey(input.hostId, dedupeKey, claimed);
    }
  }

  /**
   * Commands waiting for the host's agent (status `pending`, task not yet timed out), oldest first.
   *
   * @example
   * const cmds = await outbox.pending('1h1', 20);
   */
  pending(hostId: string, limit: number): Promise<Command[]> {
    const now = this.now();
    return this.commands.pending(hostId, { fromId: idFloor(now - this.windowMs), now, limit });
  }

  /**
   * One command of a host (any status), or `undefined`.
   *
   * @example
   * const cmd = await outbox.get('1h1', id); if (!cmd) throw statusError(404);
   */
  get(hostId: string, id: string): Promise<Command | undefined> {
    return this.commands.get(hostId, id, this.now());
  }

  /**
   * Marks a pending command acked (idempotent: an acked or done command is returned as it is).
   * `undefined` when the host has no such command.
   *
   * @example
   * await outbox.ack('1h1', id);
   */
  async ack(hostId: string, id: string): Promise<Command | undefined> {
    return (await this.commands.ack(hostId, id, this.now())) ?? this.get(hostId, id);
  }

  /**
   * Records the outcome. Exactly one call wins (`firstTime: true`); a duplicate completion gets the stored
   * command with `firstTime: false` and changes nothing. `undefined` when the host has no such command.
   *
   * @example
   * const done = await outbox.finish('1h1', id, { result: { fields: { externalId } } });
   * if (done?.firstTime) await wf.sendTaskSuccess(done.command.token, done.command.result);
   */
  async finish(hostId: string, id: string, outcome: CommandOutcome): Promise<{ command: Command; firstTime: boolean } | undefined> {
    const now = this.now();
    const done = await this.commands.finish(hostId, id, outcome, { now, expiresAt: Math.floor(now / 1000) + this.retentionSeconds });
    if (done) return { command: done, firstTime: true };
    const command = await this.get(hostId, id);
    return command ? { command, firstTime: false } : undefined;
  }

  /**
   * Notes that the outcome reached the workflow (`ok`), so a repeated completion does not pass it on again,
   * or that passing it on failed (`!ok`), so a repeated completion tries again.
   *
   * @example
   * await outbox.markRelayed('1h1', id);
   */
  markRelayed(hostId: string, id: string, ok = true): Promise<void> {
    return this.commands.markRelayed(hostId, id, ok, this.now());
  }

  /**
   * How often the host's doorbell has rung in this process; pass it to `waitForWork` as `since` when read
   * before querying, so a ring between the query and the wait is not lost.
   *
   * @example
   * const since = outbox.rung('1h1'); const cmds = await outbox.pending('1h1', 10);
   * if (!cmds.length) await outbox.waitForWork('1h1', 20_000, { since });
   */
  rung(hostId: string): number {
    return this.rings.get(hostId) ?? 0;
  }

  /**
   * Resolves `true` when work is enqueued for the host in this process (or was since `since`), `false` after
   * `ms`, on `signal` abort or on `close()`.
   *
   * @example
   * const woke = await outbox.waitForWork('1h1', 20_000);
   */
  waitForWork(hostId: string, ms: number, opts: { since?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    if (opts.since !== undefined && this.rung(hostId) !== opts.since) return Promise.resolve(true);
    if (this.closedFlag || opts.signal?.aborted || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (woke: boolean) => {
        clearTimeout(timer);
        this.bells.off(hostId, onRing);
        this.bells.off('close', onClose);
        opts.signal?.removeEventListener('abort', onClose);
        resolve(woke);
      };
      const onRing = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(onClose, ms);
      this.bells.on(hostId, onRing);
      this.bells.on('close', onClose);
      opts.signal?.addEventListener('abort', onClose, { once: true });
    });
  }

  /** Wakes every waiting long-poll and makes later waits return at once (server shutdown). */
  close(): void {
    this.closedFlag = true;
    this.bells.emit('close');
  }

  private async ring(hostId: string): Promise<void> {
    this.rings.set(hostId, this.rung(hostId) + 1);
    this.bells.emit(hostId);
    await this.remoteRing?.(hostId);
  }

  private newCommand(input: NewCommand, dedupeKey: string, now: number): Command {
    const deadline = now + input.timeoutSeconds * 1000;
    return {
      id: newCommandId(now),
      hostId: input.hostId,
      name: input.name,
      action: input.action,
      resourceId: input.resourceId,
      actionId: input.actionId,
      data: input.data,
      processData: input.processData ?? {},
      token: input.token,
      heartbeatSeconds: input.heartbeatSeconds,
      timeoutSeconds: input.timeoutSeconds,
      dedupeKey,
      status: 'pending',
      createdAt: now,
      deadline,
      ackedAt: null,
      doneAt: null,
      result: null,
      relayedAt: null,
      // A pending command nobody picks up is useless once its task timed out; keep it a day for inspection.
      expiresAt: Math.floor(deadline / 1000) + this.retentionSeconds,
    };
  }
}
