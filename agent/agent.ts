/**
 * @module
 * The host agent: registers its host (or reuses saved credentials), long-polls the host's outbox, acks each new
 * command, runs it with the driver (commands of one instance in order, different instances in parallel),
 * heartbeats every heartbeatSeconds/3 while it runs, and completes or fails it. Where the server names a doorbell in
 * its poll answers (AWS, whose polls return at once), the agent holds it open (`doorbell.ts`) and polls when it
 * rings, and otherwise only every fallback interval.
 *
 *   startAgent ─ register? ─▶ poll ─▶ ack ─▶ driver ─(report/heartbeat)─▶ complete {result} | {error}
 *                               ▲  ├ 401: register again with the token (key rotated elsewhere)
 *                               │  └ any other 4xx, or a bug in the agent: stop, `done` is 'fatal'
 *                               └ network error, timeout, 5xx/429/408: full-jitter backoff, poll again
 *
 * Each request (register, ack, complete) is tried at most `retry.attempts` times, and only while it fails
 * transiently (`retry.ts`); polling itself goes on through an outage of the server, backing off the same way.
 * A command's ack, report or completion that the server refuses (a 4xx) is logged and not retried; a bug in the
 * agent (an error that is neither an answer nor a network failure) ends it 'fatal' wherever it happens.
 */
import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname } from 'node:path';
import type { AgentCommand, CommandOutcome, Doorbell, HostFacts } from '../core/agent/protocol.js';
import { AgentClient, type Credentials } from './client.js';
import { AbandonCommandError, runWithDriver, type Driver } from './driver.js';
import { AgentHttpError, Backoff, isTransient, pause, retry, type RetryPolicy } from './retry.js';
import { HealthMonitor } from './health.js';
import { DoorbellSocket } from './doorbell.js';
import { errorText, writeJsonAtomic } from './processes.js';

export interface AgentLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** What the state file keeps between runs. */
export interface AgentState extends Credentials {
  uuid: string;
}

export interface StartAgentOptions {
  /** Base URL of the Drover server. */
  url: string;
  /** Registration token (`<publicValue>:<secret>`), needed unless credentials are given or saved. */
  token?: string;
  /** A host credential to use instead of registering. */
  credentials?: Credentials;
  driver: Driver;
  /** JSON file keeping `{ uuid, hostId, accessKey, secretKey }`: reused on the next start (mode 0600). */
  stateFile?: string;
  /** Long-poll wait asked of the server, seconds (default 20; the server may cap it). */
  pollWaitSeconds?: number;
  /** Pause between polls when the server answers at once with nothing (no long-poll, e.g. Lambda), ms (default 5000). */
  idlePollMs?: number;
  /**
   * Pause between polls while the server's doorbell (AWS) is open, ms: overrides the server's
   * `fallbackPollSeconds`. A ring, or the doorbell (re)opening or closing, cuts it short.
   */
  fallbackPollMs?: number;
  /** Backoff between doorbell reconnects (default base 1 s, cap 60 s). */
  doorbellRetry?: RetryPolicy;
  /** Commands fetched per poll (default 20). */
  pollLimit?: number;
  /** Host facts sent at registration; defaults from this machine. */
  host?: Partial<HostFacts>;
  logger?: AgentLogger;
  /** Tries per request and the backoff between them (defaults: 8 tries, 500 ms base, 30 s cap). */
  retry?: RetryPolicy;
  /** Per-request timeout in ms on top of a long-poll's wait (default 15000). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface RunningAgent {
  readonly hostId: string;
  /** The key the host's access server verifies tokens with (it changes when the agent registers again). */
  readonly hostAccessKey: string | undefined;
  /** Commands acked or running now. */
  readonly running: number;
  /**
   * Settles when the poll loop ends: `stopped` after `stop()`; `fatal` when the server refused to hand out
   * commands (a 4xx other than a 401 the agent could mend by registering again) or the agent hit a bug of its
   * own. The owner then calls `stop()`.
   */
  readonly done: Promise<'stopped' | 'fatal'>;
  /** Stops polling, lets running commands finish for up to `graceMs` (default 10 s), then abandons them. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

const consoleLogger: AgentLogger = {
  info: (m) => console.log(`${new Date().toISOString()} ${m}`),
  warn: (m) => console.warn(`${new Date().toISOString()} WARN ${m}`),
  error: (m) => console.error(`${new Date().toISOString()} ERROR ${m}`),
};

function readState(file: string): Partial<AgentState> {
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentState>;
}

function writeState(file: string, state: AgentState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeJsonAtomic(file, state);
}


/**
 * Whether a failed request is the agent's own fault: neither the server's answer, nor the way to it failing, nor
 * the agent giving up (`signal`). Such a bug ends the agent; no retry would mend it.
 */
const isBug = (e: unknown, signal: AbortSignal) => !(e instanceof AgentHttpError) && !isTransient(e) && !signal.aborted;

const describe = (cmd: AgentCommand) => `${cmd.name} ${cmd.resourceId} (${cmd.action}, command ${cmd.id})`;

/**
 * Starts an agent; resolves once the host is registered and polling has begun.
 *
 * @example
 * const agent = await startAgent({ url: 'http://127.0.0.1:8080', token, driver: new SimDriver(),
 *   stateFile: '/var/lib/drover-agent/state.json' });
 * console.log(agent.hostId);
 * await agent.stop();
 */
export function startAgent(opts: StartAgentOptions): Promise<RunningAgent> {
  return Agent.start(opts);
}

/**
 * One host's agent: its client, its driver, its poll loop and the commands it has in flight. Made by
 * `Agent.start` (or `startAgent`).
 */
export class Agent implements RunningAgent {
  private readonly log: AgentLogger;
  private readonly policy: RetryPolicy;
  /** Aborted by `stop()` (or a fatal fault): no more polls or registrations. */
  private readonly stopping = new AbortController();
  /** Aborted when the grace period of `stop()` is over: running commands are abandoned. */
  private readonly killed = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  /** The last command of each instance, so that the next one runs after it. */
  private readonly chains = new Map<string, Promise<void>>();
  private polling?: Promise<'stopped' | 'fatal'>;
  private reauthing?: Promise<void>;
  private fault?: unknown;
  private stopped?: Promise<void>;
  private monitor?: HealthMonitor;
  /** The doorbell's socket, once the server named one (AWS). */
  private bell?: { socket: DoorbellSocket; doorbell: Doorbell };
  /** Set by a wake (ring, doorbell open or closed) since the last poll began; cuts the next pause. */
  private rang = false;
  /** Ends the current pause between polls. */
  private wake?: AbortController;

  /**
   * Registers (or takes the given or saved credential) and starts polling.
   *
   * @example
   * const agent = await Agent.start({ url, token, driver: new SimDriver() });
   */
  static async start(opts: StartAgentOptions): Promise<Agent> {
    const saved = opts.stateFile ? readState(opts.stateFile) : {};
    // What the driver serves and applies, and where its access server and instances are reached.
    const { uuid, hostname, vcpu, memoryMb, labels, ...reached } = opts.host ?? {};
    const facts: HostFacts = {
      uuid: saved.uuid ?? uuid ?? randomUUID(),
      hostname: hostname ?? osHostname(),
      vcpu: vcpu ?? 1,
      memoryMb: memoryMb ?? 1024,
      labels: labels ?? {},
      ...opts.driver.facts?.(),
      ...reached,
    };
    const client = new AgentClient({ url: opts.url, requestTimeoutMs: opts.requestTimeoutMs, fetch: opts.fetch });
    const agent = new Agent(opts, facts, client);
    const known = opts.credentials ?? (saved.hostId && saved.accessKey && saved.secretKey ? (saved as Credentials) : undefined);
    if (known) {
      client.credentials = { ...known };
      // A driver with facts of its own (what it serves, where) says them again: they may have changed since.
      if (opts.driver.facts || Object.keys(reached).length) await agent.reportFacts();
    } else client.credentials = await agent.register();
    agent.polling = agent.pollLoop();
    // Health checks and exits run in a loop of their own, beside the command loop (drivers that can watch only).
    if (opts.driver.running) {
      agent.monitor = new HealthMonitor({
        driver: opts.driver,
        sink: {
          health: (r) => agent.authed(() => client.health(r, agent.stopping.signal)),
          exits: (r) => agent.authed(() => client.exits(r, agent.stopping.signal)),
        },
        warn: (m) => agent.log.warn(m),
      });
      agent.monitor.start();
    }
    agent.log.info(`agent for host ${agent.hostId} polling ${opts.url}`);
    return agent;
  }

  private constructor(
    private readonly opts: StartAgentOptions,
    private readonly facts: HostFacts,
    private readonly client: AgentClient,
  ) {
    this.log = opts.logger ?? consoleLogger;
    this.policy = opts.retry ?? {};
    // Every command in flight listens on these; hundreds at once are normal, not a leak.
    setMaxListeners(0, this.stopping.signal, this.killed.signal);
  }

  get hostId(): string {
    return this.client.credentials!.hostId;
  }

  /** The key the host's access server verifies tokens with (it changes when the agent registers again). */
  get hostAccessKey(): string | undefined {
    return this.client.credentials?.hostAccessKey;
  }

  get done(): Promise<'stopped' | 'fatal'> {
    return this.polling!;
  }

  get running(): number {
    return this.inflight.size;
  }

  stop(o: { graceMs?: number } = {}): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      await this.monitor?.stop();
      await this.done;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((r) => (timer = setTimeout(r, o.graceMs ?? 10_000)));
      await Promise.race([Promise.allSettled([...this.inflight]), grace]);
      clearTimeout(timer);
      this.killed.abort();
      await Promise.allSettled([...this.inflight]);
      this.log.info('agent stopped');
    })();
    return this.stopped;
  }

  /** A fault that no retry mends (a bug in the agent, polling refused): logged, polling ends, `done` is 'fatal'. */
  private fail(what: string, e: unknown): void {
    this.log.error(`${what}: ${e instanceof AgentHttpError || !(e instanceof Error) ? errorText(e) : (e.stack ?? e.message)}`);
    this.fault ??= e;
    this.stopping.abort();
  }

  private async pollLoop(): Promise<'stopped' | 'fatal'> {
    const wait = this.opts.pollWaitSeconds ?? 20;
    const idlePollMs = this.opts.idlePollMs ?? 5000;
    const signal = this.stopping.signal;
    const backoff = new Backoff(this.policy);
    while (!signal.aborted) {
      const started = Date.now();
      this.rang = false;
      try {
        const { commands, delivered, doorbell } = await this.authed(() => this.client.poll(wait, this.opts.pollLimit ?? 20, signal));
        backoff.reset();
        if (doorbell) this.useDoorbell(doorbell);
        const acks = commands.map((cmd) => this.schedule(cmd));
        // Poll again once the server knows these are taken: an earlier poll would be handed them again (and then
        // pause). A slow ack holds the next poll back by a second at most.
        if (acks.length) {
          const acked = new AbortController();
          const waited = pause(1000, AbortSignal.any([signal, acked.signal]));
          await Promise.race([Promise.allSettled(acks), waited]);
          acked.abort(); // ends the pause, its timer and its listener
        }
        if (!commands.length) {
          // Only repeats: their acks are on the way. Nothing at once: the server does not hold polls (Lambda).
          if (delivered) await pause(100, signal);
          else if (wait <= 0 || Date.now() - started < Math.min(1000, wait * 1000)) await this.idle(idlePollMs, signal);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (!isTransient(e)) {
          this.fail('polling stopped', e);
          break;
        }
        this.log.warn(`poll failed, backing off: ${errorText(e)}`);
        await backoff.sleep(signal);
      }
    }
    await this.bell?.socket.stop();
    return this.fault === undefined ? 'stopped' : 'fatal';
  }

  /**
   * Holds the server's doorbell open (from the first poll answer naming one; a new URL replaces the socket). Rings
   * and the socket opening or closing wake the poll loop.
   */
  private useDoorbell(doorbell: Doorbell): void {
    if (this.bell?.doorbell.url === doorbell.url) {
      this.bell.doorbell = doorbell;
      return;
    }
    void this.bell?.socket.stop();
    const socket = new DoorbellSocket({
      url: doorbell.url,
      authorization: () => this.client.authorization(),
      keepaliveMs: doorbell.keepaliveSeconds * 1000,
      onWake: () => this.wakeUp(),
      retry: this.opts.doorbellRetry,
      warn: (m) => this.log.warn(m),
    });
    this.bell = { socket, doorbell };
    socket.start();
    this.log.info(`doorbell ${doorbell.url}: polling on a ring, else every ${doorbell.fallbackPollSeconds} s`);
  }

  private wakeUp(): void {
    this.rang = true;
    this.wake?.abort();
  }

  /**
   * The pause between polls that found nothing: `idlePollMs`, or the fallback interval while the doorbell is open;
   * a wake since the poll began skips it, one during it ends it.
   */
  private async idle(idlePollMs: number, signal: AbortSignal): Promise<void> {
    if (this.rang) return;
    const bell = this.bell;
    const ms = bell?.socket.open ? (this.opts.fallbackPollMs ?? bell.doorbell.fallbackPollSeconds * 1000) : idlePollMs;
    const wake = (this.wake = new AbortController());
    await pause(ms, AbortSignal.any([signal, wake.signal]));
    this.wake = undefined;
  }

  private async register(): Promise<Credentials> {
    const token = this.opts.token;
    if (!token) throw new Error('no registration token: pass token, or credentials / a state file with them');
    const signal = this.stopping.signal;
    const creds = await retry(() => this.client.register(token, this.facts, signal), this.policy, {
      signal,
      onError: (e) => this.log.warn(`registration failed, retrying: ${errorText(e)}`),
    });
    if (this.opts.stateFile) writeState(this.opts.stateFile, { uuid: this.facts.uuid, ...creds });
    this.log.info(`registered host ${creds.hostId} (uuid ${this.facts.uuid})`);
    return creds;
  }

  /** Reports the host's facts with a credential the agent already had, and keeps the host's access key it answers. */
  private async reportFacts(): Promise<void> {
    const signal = this.stopping.signal;
    const { uuid: _uuid, ...facts } = this.facts;
    const hostAccessKey = await retry(() => this.authed(() => this.client.reportFacts(facts, signal)), this.policy, {
      signal,
      onError: (e) => this.log.warn(`reporting the host's facts failed, retrying: ${errorText(e)}`),
    });
    this.client.credentials = { ...this.client.credentials!, hostAccessKey };
    if (this.opts.stateFile) writeState(this.opts.stateFile, { uuid: this.facts.uuid, ...this.client.credentials });
  }

  /** One re-registration at a time; callers holding stale credentials wait for it and try again. */
  private async reauth(stale: Credentials | undefined): Promise<void> {
    if (this.client.credentials !== stale) return; // someone already replaced them
    this.reauthing ??= this.register()
      .then((creds) => {
        this.client.credentials = creds;
      })
      .finally(() => (this.reauthing = undefined));
    await this.reauthing;
  }

  /** Runs a request; when the key was rotated elsewhere (401) and a token is at hand, registers again and retries. */
  private async authed<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      const creds = this.client.credentials;
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof AgentHttpError && e.status === 401 && this.opts.token) || i >= 2) throw e;
        this.log.warn('credential refused; registering again');
        await this.reauth(creds);
      }
    }
  }

  /**
   * Acks a new command at once (so the server stops handing it out), then runs it after the earlier commands
   * of the same instance (cattle serialized compute handlers per instance); other instances run in parallel.
   */
  /** Acks the command, then runs it after the earlier commands of its instance; resolves once the ack is settled. */
  private schedule(cmd: AgentCommand): Promise<boolean> {
    const acked = this.ack(cmd);
    const prev = this.chains.get(cmd.resourceId) ?? Promise.resolve();
    const p: Promise<void> = prev
      .then(async () => {
        if (await acked) await this.execute(cmd);
      })
      .catch((e) => this.fail(`command ${cmd.id}`, e))
      .finally(() => {
        this.inflight.delete(p);
        if (this.chains.get(cmd.resourceId) === p) this.chains.delete(cmd.resourceId);
      });
    this.chains.set(cmd.resourceId, p);
    this.inflight.add(p);
    return acked;
  }

  /**
   * Whether to run the command: not when it is gone, the agent is killed or the ack hit a bug; when the ack failed
   * otherwise, yes (its first report acks it too).
   */
  private async ack(cmd: AgentCommand): Promise<boolean> {
    const signal = this.killed.signal;
    try {
      await retry(() => this.authed(() => this.client.ack(cmd.id, signal)), this.policy, { signal });
      return true;
    } catch (e) {
      if (signal.aborted) return false;
      if (e instanceof AgentHttpError && e.status === 404) {
        this.log.warn(`${describe(cmd)}: gone before the ack`);
        return false;
      }
      if (isBug(e, signal)) {
        this.fail(`${describe(cmd)}: ack`, e);
        return false;
      }
      this.log[isTransient(e) ? 'warn' : 'error'](`${describe(cmd)}: ack failed (${errorText(e)}); running it anyway`);
      return true;
    }
  }

  private async execute(cmd: AgentCommand): Promise<void> {
    if (this.killed.signal.aborted) return;
    const what = describe(cmd);
    this.log.info(`running ${what}`);
    const outcome = await this.run(cmd, what);
    if (outcome) await this.complete(cmd, what, outcome);
  }

  /**
   * Runs the command with the driver, relaying its reports and a keep-alive every heartbeatSeconds/3. Undefined
   * when there is nothing to complete: the driver abandoned the command, or the server no longer wants it.
   */
  private async run(cmd: AgentCommand, what: string): Promise<CommandOutcome | undefined> {
    const killed = this.killed.signal;
    const work = new AbortController();
    const abortWork = () => work.abort(new Error('agent stopped'));
    killed.addEventListener('abort', abortWork, { once: true });
    let gone = false;
    let lastReport = Date.now();
    const report = async (msg?: string | null, progress?: number | null) => {
      if (gone) return;
      lastReport = Date.now();
      try {
        if ((await this.authed(() => this.client.progress(cmd.id, msg, progress, killed))) === 'gone') {
          gone = true;
          work.abort(new Error(`command ${cmd.id} is no longer wanted by the server`));
        }
      } catch (e) {
        // Best effort: the next keep-alive tries again. Only a bug of the agent's own stops it.
        if (!isBug(e, killed)) return this.log.warn(`${what}: progress not sent (${errorText(e)})`);
        this.fail(`${what}: progress`, e);
        work.abort(e);
      }
    };
    // A keep-alive every heartbeatSeconds/3 (checked four times as often). The floor only guards against
    // nonsense values: it must stay well below the shortest heartbeat (1 s), or every command outliving one
    // heartbeat would be timed out however healthy the agent.
    const everyMs = Math.max(200, (cmd.heartbeatSeconds * 1000) / 3);
    const beat = setInterval(() => {
      if (Date.now() - lastReport >= everyMs) void report();
    }, Math.max(50, everyMs / 4));
    let outcome: CommandOutcome;
    try {
      const result = await runWithDriver(this.opts.driver, cmd, (m, p) => report(m, p), { signal: work.signal });
      outcome = { result: result as Record<string, unknown> };
    } catch (e) {
      if (e instanceof AbandonCommandError) {
        this.log.warn(`${what}: abandoned (${e.message})`);
        return undefined;
      }
      outcome = { error: killed.aborted ? 'Agent stopped before the command finished' : errorText(e) || 'Agent error' };
    } finally {
      clearInterval(beat);
      killed.removeEventListener('abort', abortWork);
    }
    if (gone) {
      this.log.warn(`${what}: dropped, the server no longer wants it`);
      return undefined;
    }
    return outcome;
  }

  /**
   * Delivers the outcome, trying up to `retry.attempts` times while it fails transiently; a completion not
   * delivered (or refused) leaves the action to the server's heartbeat timeout. A command that ends after the
   * agent was killed gets 5 s to report.
   */
  private async complete(cmd: AgentCommand, what: string, outcome: CommandOutcome): Promise<void> {
    const signal = this.killed.signal.aborted ? AbortSignal.timeout(5000) : this.killed.signal;
    try {
      const r = await retry(() => this.authed(() => this.client.complete(cmd.id, outcome, signal)), this.policy, {
        signal,
        onError: (e) => this.log.warn(`${what}: completion not delivered yet (${errorText(e)})`),
      });
      const how = 'error' in outcome ? `failed: ${outcome.error}` : 'done';
      this.log.info(`${what} ${how}${r.duplicate ? ' (server had it already)' : ''}`);
    } catch (e) {
      if (e instanceof AgentHttpError && e.status === 404) this.log.warn(`${what}: gone before its completion`);
      else if (isBug(e, signal)) this.fail(`${what}: completion`, e);
      else this.log.error(`${what}: completion lost (${errorText(e)})`);
    }
  }
}
